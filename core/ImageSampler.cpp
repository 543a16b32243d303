#include "core/ImageSampler.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cordscope {

ImageSampler::ImageSampler(const Image* image) : buffer_(image->GetBufferPointer()) {
  const auto size = image->GetBufferedRegion().GetSize();
  const auto spacing = image->GetSpacing();
  const auto direction = image->GetDirection();
  for (int i = 0; i < 3; ++i) {
    size_[i] = static_cast<long>(size[i]);
    origin_[i] = image->GetOrigin()[i];
    for (int j = 0; j < 3; ++j) toPoint_[3 * i + j] = direction[i][j] * spacing[j];
  }
  const auto inverse = image->GetDirection().GetInverse();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) toIndex_[3 * i + j] = inverse[i][j] / spacing[i];
}

Vec3 ImageSampler::toIndex(const Vec3& point) const {
  const Vec3 d = point - origin_;
  Vec3 index;
  for (int i = 0; i < 3; ++i)
    index[i] = toIndex_[3 * i] * d[0] + toIndex_[3 * i + 1] * d[1] + toIndex_[3 * i + 2] * d[2];
  return index;
}

Vec3 ImageSampler::toPoint(const Vec3& index) const {
  Vec3 point;
  for (int i = 0; i < 3; ++i)
    point[i] = origin_[i] + toPoint_[3 * i] * index[0] + toPoint_[3 * i + 1] * index[1] +
               toPoint_[3 * i + 2] * index[2];
  return point;
}

std::optional<float> ImageSampler::at(const Vec3& point) const {
  const Vec3 index = toIndex(point);
  long base[3];
  double frac[3];
  for (int i = 0; i < 3; ++i) {
    const double x = index[i];
    if (x < -0.5 || x > size_[i] - 0.5) return std::nullopt;
    // Inside the outer half voxel the value is that of the edge voxel.
    const double clamped = std::clamp(x, 0.0, static_cast<double>(size_[i] - 1));
    base[i] = std::min(static_cast<long>(clamped), size_[i] - 2 < 0 ? 0 : size_[i] - 2);
    frac[i] = size_[i] == 1 ? 0.0 : clamped - base[i];
  }
  const long sx = 1, sy = size_[0], sz = size_[0] * size_[1];
  const long dx = size_[0] > 1 ? sx : 0, dy = size_[1] > 1 ? sy : 0, dz = size_[2] > 1 ? sz : 0;
  const float* p = buffer_ + base[0] * sx + base[1] * sy + base[2] * sz;
  const double fx = frac[0], fy = frac[1], fz = frac[2];
  const double c00 = p[0] * (1 - fx) + p[dx] * fx;
  const double c10 = p[dy] * (1 - fx) + p[dy + dx] * fx;
  const double c01 = p[dz] * (1 - fx) + p[dz + dx] * fx;
  const double c11 = p[dz + dy] * (1 - fx) + p[dz + dy + dx] * fx;
  const double c0 = c00 * (1 - fy) + c10 * fy;
  const double c1 = c01 * (1 - fy) + c11 * fy;
  return static_cast<float>(c0 * (1 - fz) + c1 * fz);
}

double intensityScale(const Image* image, std::size_t samples) {
  const float* p = image->GetBufferPointer();
  const std::size_t n = image->GetBufferedRegion().GetNumberOfPixels();
  const std::size_t stride = std::max<std::size_t>(1, n / samples);
  std::vector<float> sample;
  sample.reserve(n / stride + 1);
  for (std::size_t i = 0; i < n; i += stride) sample.push_back(std::abs(p[i]));
  const auto it = sample.begin() + static_cast<long>(0.99 * (sample.size() - 1));
  std::nth_element(sample.begin(), it, sample.end());
  return *it > 0 ? *it : 1.0;
}

}  // namespace cordscope
