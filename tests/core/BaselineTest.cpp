#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/Baseline.h"

namespace cordscope {
namespace {

// A sloping baseline with noise, a plateau raised over most of it: the envelope must bridge
// under the plateau (the case of a holocord lesion longer than any local fit's window).
TEST(Baseline, BridgesUnderAPlateauLongerThanItsSmoothingLength) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.005);
  const int n = 400;
  std::vector<double> y(n), truth(n);
  for (int i = 0; i < n; ++i) {
    truth[i] = 0.26 + 0.0002 * i;
    y[i] = truth[i] + noise(rng) + (i >= 100 && i < 340 ? 0.25 : 0.0);  // 60 % of the profile
  }
  BaselineOptions o;
  o.lambda = std::pow(80.0, 4);
  const std::vector<double> z = asymmetricBaseline(y, o);
  ASSERT_EQ(z.size(), y.size());
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(z[i], truth[i], 0.02) << i;  // within 4 noise SDs, never up on the plateau
  }
}

TEST(Baseline, MissingSamplesAreBridgedAndAllMissingStaysMissing) {
  std::vector<double> y(50);
  for (int i = 0; i < 50; ++i) y[i] = 1.0 + 0.1 * i;
  for (int i = 20; i < 30; ++i) y[i] = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> z = asymmetricBaseline(y);
  for (int i = 20; i < 30; ++i) EXPECT_NEAR(z[i], 1.0 + 0.1 * i, 1e-3) << i;  // a line stays
  const std::vector<double> none =
      asymmetricBaseline(std::vector<double>(5, std::numeric_limits<double>::quiet_NaN()));
  for (double v : none) EXPECT_TRUE(std::isnan(v));
  EXPECT_TRUE(asymmetricBaseline({}).empty());
}

}  // namespace
}  // namespace cordscope
