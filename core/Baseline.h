// The lower envelope of a sampled profile that only ever rises above it (peaks over a baseline).
#pragma once
#include <vector>

namespace cordscope {

// Asymmetric least squares smoothing (Eilers & Boelens 2005, "Baseline correction with asymmetric
// least squares smoothing"): the z minimising sum w_i (y_i - z_i)^2 + lambda sum (second
// difference of z)^2, with w_i = asymmetry where y_i lies above z and 1 - asymmetry where below,
// re-weighted `iterations` times. Under a plateau the baseline bridges from both sides (a
// straight line where the penalty rules) instead of following it, however long the plateau, as
// long as the profile shows its baseline somewhere. NaN samples carry no weight and are
// bridged the same way; all-NaN gives all-NaN. lambda is in samples^4 (a smoothing length of L
// samples is lambda ~ L^4).
struct BaselineOptions {
  double lambda = 1e6;
  double asymmetry = 0.01;
  int iterations = 12;
};
std::vector<double> asymmetricBaseline(const std::vector<double>& y, const BaselineOptions& o = {});

}  // namespace cordscope
