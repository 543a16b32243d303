// Points and directions in patient space (millimetres). cordscope computes in LPS, ITK's
// convention; reports and NIfTI viewers speak RAS - the flip of the first two axes, both ways.
#pragma once
#include <array>
#include <cmath>

namespace cordscope {

using Vec3 = std::array<double, 3>;

constexpr double kPi = 3.14159265358979323846;

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
inline double norm(const Vec3& a) {
  return std::sqrt(dot(a, a));
}
inline Vec3 normalized(const Vec3& a) {
  const double n = norm(a);
  return n > 0 ? (1.0 / n) * a : a;
}
inline Vec3 rasFromLps(const Vec3& p) {
  return {-p[0], -p[1], p[2]};
}
inline Vec3 lpsFromRas(const Vec3& p) {
  return rasFromLps(p);
}

}  // namespace cordscope
