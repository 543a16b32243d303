// Fast trilinear sampling of an ITK float image at patient-space points (LPS mm). Segmentation
// samples millions of points along rays; itk::LinearInterpolateImageFunction plus
// TransformPhysicalPointToContinuousIndex per point costs several times more than this, which
// precomputes the physical-to-index affine once. Points outside the grid (beyond half a voxel)
// are reported as such, never clamped silently.
#pragma once
#include <array>
#include <optional>

#include "core/Geometry.h"
#include "core/Image.h"

namespace cordscope {

// Robust intensity scale: the 99th percentile of |value| over an even subsample of about
// `samples` voxels (a subsample is plenty); 1 when that is not positive.
double intensityScale(const Image* image, std::size_t samples);

class ImageSampler {
 public:
  explicit ImageSampler(const Image* image);
  // Continuous index (voxel units) of a patient point.
  Vec3 toIndex(const Vec3& point) const;
  Vec3 toPoint(const Vec3& index) const;
  // Trilinear value at a patient point; empty outside the grid. Along an axis of size 1 the
  // image is taken as constant over its slab (half a voxel each side).
  std::optional<float> at(const Vec3& point) const;

 private:
  const float* buffer_;
  std::array<long, 3> size_;
  std::array<double, 9> toIndex_{};  // (direction * spacing)^-1, row-major
  std::array<double, 9> toPoint_{};  // direction * spacing, row-major
  Vec3 origin_{};
};

}  // namespace cordscope
