#include "core/Baseline.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace cordscope {
namespace {

// Solves (diag(w) + lambda D'D) z = w .* y, D the second-difference operator: a symmetric
// positive (semi)definite pentadiagonal system, by a banded LDL' factorisation (O(n)).
std::vector<double> whittaker(const std::vector<double>& y, const std::vector<double>& w,
                              double lambda) {
  const long n = static_cast<long>(y.size());
  // Bands of D'D: row i has entries at i-2, i-1, i (and symmetric). For interior rows they are
  // 1, -4, 6; rows near the ends have fewer second differences.
  std::vector<std::array<double, 3>> a(n);  // a[i][k]: entry (i, i-k), k = 0..2
  for (long j = 0; j + 2 < n; ++j) {        // second difference j: z_j - 2 z_{j+1} + z_{j+2}
    const long r[3] = {j, j + 1, j + 2};
    const double c[3] = {1, -2, 1};
    for (int p = 0; p < 3; ++p)
      for (int q = 0; q <= p; ++q) a[r[p]][p - q] += lambda * c[p] * c[q];
  }
  std::vector<double> b(n);
  for (long i = 0; i < n; ++i) {
    a[i][0] += w[i];
    b[i] = w[i] * y[i];
  }
  // LDL': L unit lower with two sub-diagonals l1 (i, i-1), l2 (i, i-2).
  std::vector<double> d(n), l1(n), l2(n);
  for (long i = 0; i < n; ++i) {
    l2[i] = i >= 2 ? a[i][2] / d[i - 2] : 0;
    l1[i] = i >= 1 ? (a[i][1] - (i >= 2 ? l2[i] * l1[i - 1] * d[i - 2] : 0)) / d[i - 1] : 0;
    d[i] =
        a[i][0] - (i >= 1 ? l1[i] * l1[i] * d[i - 1] : 0) - (i >= 2 ? l2[i] * l2[i] * d[i - 2] : 0);
    if (!(d[i] > 1e-300)) d[i] = 1e-300;  // only with (near) no weight and no penalty
  }
  std::vector<double> z(b);
  for (long i = 0; i < n; ++i)
    z[i] -= (i >= 1 ? l1[i] * z[i - 1] : 0) + (i >= 2 ? l2[i] * z[i - 2] : 0);
  for (long i = 0; i < n; ++i) z[i] /= d[i];
  for (long i = n - 1; i >= 0; --i)
    z[i] -= (i + 1 < n ? l1[i + 1] * z[i + 1] : 0) + (i + 2 < n ? l2[i + 2] * z[i + 2] : 0);
  return z;
}

}  // namespace

std::vector<double> asymmetricBaseline(const std::vector<double>& y, const BaselineOptions& o) {
  const long n = static_cast<long>(y.size());
  std::vector<double> w(n), values(n);
  long defined = 0;
  for (long i = 0; i < n; ++i) {
    const bool ok = std::isfinite(y[i]);
    w[i] = ok ? 1.0 : 0.0;
    values[i] = ok ? y[i] : 0.0;
    defined += ok;
  }
  if (defined == 0) return std::vector<double>(n, std::numeric_limits<double>::quiet_NaN());
  if (defined < 3 || n < 3) {  // nothing to bend: the lowest value
    double low = std::numeric_limits<double>::infinity();
    for (long i = 0; i < n; ++i)
      if (w[i] > 0) low = std::min(low, values[i]);
    return std::vector<double>(n, low);
  }
  std::vector<double> z;
  for (int iteration = 0; iteration < o.iterations; ++iteration) {
    z = whittaker(values, w, o.lambda);
    for (long i = 0; i < n; ++i)
      if (std::isfinite(y[i])) w[i] = y[i] > z[i] ? o.asymmetry : 1 - o.asymmetry;
  }
  return z;
}

}  // namespace cordscope
