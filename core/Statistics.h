// Small order statistics shared by the segmentation and measurement code.
#pragma once
#include <vector>

namespace cordscope {

// The q-quantile (0..1) by selection (the element at floor(q * (n - 1))); NaN when empty.
double percentile(std::vector<double> values, double q);
double median(std::vector<double> values);
// NaN entries take the nearest defined value before them, else after them (ends and gaps of a
// profile along the cord); all-NaN stays NaN.
void fillGapsWithNearest(std::vector<double>& values);

}  // namespace cordscope
