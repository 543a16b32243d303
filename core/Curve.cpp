#include "core/Curve.h"

#include <algorithm>
#include <cmath>

namespace cordscope {

std::vector<Vec3> resampleEvenly(const std::vector<Vec3>& polyline, double stepMm) {
  if (polyline.size() < 2) return polyline;
  std::vector<double> arc(polyline.size(), 0.0);
  for (std::size_t i = 1; i < polyline.size(); ++i)
    arc[i] = arc[i - 1] + norm(polyline[i] - polyline[i - 1]);
  const double total = arc.back();
  const int n = std::max(1, static_cast<int>(std::round(total / stepMm)));
  std::vector<Vec3> out;
  std::size_t seg = 1;
  for (int i = 0; i <= n; ++i) {
    const double t = total * i / n;
    while (seg + 1 < polyline.size() && arc[seg] < t) ++seg;
    const double span = arc[seg] - arc[seg - 1];
    const double f = span > 0 ? std::clamp((t - arc[seg - 1]) / span, 0.0, 1.0) : 0.0;
    out.push_back(polyline[seg - 1] + f * (polyline[seg] - polyline[seg - 1]));
  }
  return out;
}

std::vector<Vec3> smoothCurve(const std::vector<Vec3>& points, double sigmaPoints) {
  const long n = static_cast<long>(points.size());
  if (n < 3 || sigmaPoints <= 0) return points;
  const long radius = static_cast<long>(std::ceil(3 * sigmaPoints));
  std::vector<double> kernel(2 * radius + 1);
  for (long i = -radius; i <= radius; ++i)
    kernel[i + radius] = std::exp(-0.5 * i * i / (sigmaPoints * sigmaPoints));
  // Point reflection about the ends keeps the end points and the end direction.
  const auto at = [&](long i) -> Vec3 {
    if (i < 0) return 2.0 * points[0] - points[std::min(n - 1, -i)];
    if (i >= n) return 2.0 * points[n - 1] - points[std::max(0L, 2 * (n - 1) - i)];
    return points[i];
  };
  std::vector<Vec3> out(points.size());
  for (long i = 0; i < n; ++i) {
    Vec3 sum{0, 0, 0};
    double weight = 0;
    for (long d = -radius; d <= radius; ++d) {
      sum = sum + kernel[d + radius] * at(i + d);
      weight += kernel[d + radius];
    }
    out[i] = (1.0 / weight) * sum;
  }
  return out;
}

}  // namespace cordscope
