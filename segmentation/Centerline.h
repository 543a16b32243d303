// The spinal cord centerline: a smooth curve in patient space (LPS mm) from the highest point
// where the cord is seen (the cervicomedullary junction, or the top of the field of view) down to
// the lowest.
//
// findCenterline detects it without any training: in every cross-section of the grid (the planes
// across its most head-to-foot axis) a detector scores each position by how much the cord-sized
// core differs from CSF-sized probes in front of, behind and beside it, with the sign of the
// image's CSF-cord contrast; a dynamic programme then picks the one contiguous run of positions
// through consecutive planes with the highest total score, paying for lateral displacement
// (slope squared per mm, so any steady lordosis is cheap and jumps to other bright structures are
// prohibitive). Intensities are scaled by each image's own percentiles; no absolute thresholds.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "core/Curve.h"
#include "core/ImageSampler.h"
#include "data/Volume.h"
#include "segmentation/Contrast.h"

namespace cordscope {

struct CenterlineOptions {
  Contrast contrast = Contrast::Auto;  // Auto: the image decides between bright and dark CSF
  double cordApMm = 7.0;               // cord size the detector looks for (adult cervical cord)
  double cordRlMm = 11.0;
  double csfRimMm = 2.5;     // thickness of the CSF probes around it
  double stiffness = 1.0;    // cost of slope^2 per mm, in units of a typical cord response
  double presence = 0.1;     // response (same units) a plane needs to count as cord
  double smoothingMm = 4.0;  // Gaussian smoothing of the detected path
  // Weight of the filled-canal response (a cord hidden by a lesion as bright as CSF) against the
  // cord's own: below 1 so that wherever the cord is visible its own response decides.
  double filledCanalWeight = 0.5;
  double stepMm = 1.0;  // spacing of the output points along the curve
};

struct Centerline {
  std::vector<Vec3> points;  // LPS mm, cranial first, evenly spaced along the arc
  double stepMm = 1.0;
  int csfSign = +1;  // +1: CSF brighter than cord (T2, T2*); -1: darker (T1)
  Contrast contrast = Contrast::T2;
  double meanResponse = 0;  // mean detector response on the path, in image-scaled units

  bool found() const { return points.size() >= 2; }
  double lengthMm() const;
  Vec3 tangent(std::size_t i) const;  // unit, pointing caudally
};

Centerline findCenterline(const Volume& volume, const CenterlineOptions& options = {});

// Robust local-quadratic smoothing (LOESS with bisquare reweighting) of an ordered, evenly spaced
// point list over +-halfWindowPoints: a short stretch that departs from the curve through its
// neighbours (a detector drawn aside by a lesion) gets no weight and is replaced by that curve.
// floorMm: residuals below it are never outliers.
std::vector<Vec3> robustSmoothCurve(const std::vector<Vec3>& points, long halfWindowPoints,
                                    double floorMm = 0.5, int iterations = 3);

// Mean distance (mm) from each point of `a` to the polyline `b` (both LPS or both RAS).
double meanDistanceToCurve(const std::vector<Vec3>& a, const std::vector<Vec3>& b);

void to_json(nlohmann::json& j, const Centerline& c);

}  // namespace cordscope
