// Fast trilinear sampling of an ITK float image at patient-space points (LPS mm). Segmentation
// samples millions of points along rays; itk::LinearInterpolateImageFunction plus
// TransformPhysicalPointToContinuousIndex per point costs several times more than this, which
// precomputes the physical-to-index affine once. Points outside the grid (beyond half a voxel)
// are reported as such, never clamped silently.
#pragma once
#include <array>
#include <optional>

#include "data/Volume.h"

namespace cordscope {

using Vec3 = std::array<double, 3>;

inline Vec3 operator+(const Vec3& a, const Vec3& b) {
  return {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
}
inline Vec3 operator-(const Vec3& a, const Vec3& b) {
  return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
inline Vec3 operator*(double s, const Vec3& a) {
  return {s * a[0], s * a[1], s * a[2]};
}
inline double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
inline Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double norm(const Vec3& a);
// ITK works in LPS; reports and users speak RAS. The same flip both ways.
inline Vec3 rasFromLps(const Vec3& p) { return {-p[0], -p[1], p[2]}; }
inline Vec3 lpsFromRas(const Vec3& p) { return rasFromLps(p); }
Vec3 normalized(const Vec3& a);

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
