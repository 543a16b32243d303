// Ordered point lists in patient space (a centerline, a course): resampling and smoothing.
#pragma once
#include <vector>

#include "core/Geometry.h"

namespace cordscope {

// Evenly spaced points along a polyline (first and last kept), spacing stepMm.
std::vector<Vec3> resampleEvenly(const std::vector<Vec3>& polyline, double stepMm);
// Gaussian smoothing of an ordered point list (sigma in points); ends are kept in place by
// reflecting the curve about them.
std::vector<Vec3> smoothCurve(const std::vector<Vec3>& points, double sigmaPoints);

}  // namespace cordscope
