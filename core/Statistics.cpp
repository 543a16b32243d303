#include "core/Statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cordscope {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto it = values.begin() + static_cast<long>(q * (values.size() - 1));
  std::nth_element(values.begin(), it, values.end());
  return *it;
}

double median(std::vector<double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto it = values.begin() + static_cast<long>(values.size() / 2);
  std::nth_element(values.begin(), it, values.end());
  return *it;
}

void fillGapsWithNearest(std::vector<double>& values) {
  double last = std::numeric_limits<double>::quiet_NaN();
  for (double& v : values) {
    if (std::isnan(v))
      v = last;
    else
      last = v;
  }
  last = std::numeric_limits<double>::quiet_NaN();
  for (auto it = values.rbegin(); it != values.rend(); ++it) {
    if (std::isnan(*it))
      *it = last;
    else
      last = *it;
  }
}

}  // namespace cordscope
