// Follow-up comparison (issue 10) through the binary: unchanged anatomy scanned at another
// position and slice placement is stable; a lesion shortened from 8 to 5 segments is improved
// with the right numbers; a lesion gone is resolved; a new one is new; the same study as DICOM
// and as NIfTI is stable; the thresholds stay above the measured repeatability.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "TestSupport.h"
#include "measurement/FollowUp.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

// A phantom study; `extra` adds options (lesion, position, date).
fs::path phantom(const test::TempDir& dir, const std::string& name, const std::string& extra) {
  const auto r = test::runCordscope("phantom -o " + test::quote(dir / name) + " " + extra);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  return dir.path() / name / "dicom";
}

nlohmann::json compare(const test::TempDir& dir, const std::vector<fs::path>& studies,
                       std::string* out = nullptr) {
  std::string args = "compare";
  for (const fs::path& s : studies) args += " " + test::quote(s.string());
  const auto r = test::runShell("env -u DISPLAY " + test::quote(CORDSCOPE_BINARY) + " " + args +
                                " -o " + test::quote(dir / "out") + " --no-render");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  if (out) *out = r.out;
  std::ifstream in(dir.path() / "out/compare.json");
  return nlohmann::json::parse(in);
}

// The second time point differs in position (tilt 4 degrees, lordosis 11 mm), slice placement
// (3.5 mm slices, 380 matrix) and noise; the anatomy (seed) is the same.
const char* kMoved = " --tilt 4 --slice-thickness 3.5 --lordosis 11 --matrix 380 --noise 0.05";

TEST(Compare, SameAnatomyMovedIsStable) {
  test::TempDir dir;
  const fs::path a = phantom(dir, "a", "--seed 31 --lesion C3:C6:dorsal");
  const fs::path b = phantom(
      dir, "b", std::string("--seed 31 --lesion C3:C6:dorsal --study-date 20240415") + kMoved);
  std::string out;
  const nlohmann::json c = compare(dir, {a, b}, &out);
  ASSERT_EQ(c["comparisons"].size(), 1u);
  const auto& lesions = c["comparisons"][0]["lesions"];
  ASSERT_EQ(lesions.size(), 1u);
  EXPECT_EQ(lesions[0]["class"], "stable") << lesions[0]["change"];
  EXPECT_NE(out.find(": stable"), std::string::npos) << out;
  EXPECT_NE(out.find("over 3 months"), std::string::npos) << out;
  const auto& alignment = c["comparisons"][0]["alignment"];
  EXPECT_TRUE(alignment["registration_converged"].get<bool>()) << alignment;
  EXPECT_LT(alignment["level_residual_max"].get<double>(), 0.5) << alignment;
  std::cout << "[ compare moved ] " << lesions[0]["change"] << "; alignment " << alignment << "\n";
  // The picture: both time points, lesion red in each half.
  const cv::Mat picture = cv::imread((dir.path() / "out/compare.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(picture.empty());
  int left = 0, right = 0;
  for (int y = 0; y < picture.rows; ++y)
    for (int x = 0; x < picture.cols; ++x) {
      const cv::Vec3b p = picture.at<cv::Vec3b>(y, x);
      if (p[2] > 150 && p[1] < 90 && p[0] < 90) (x < picture.cols / 2 + 30 ? left : right)++;
    }
  EXPECT_GT(left, 200);
  EXPECT_GT(right, 200);
  EXPECT_TRUE(fs::exists(dir.path() / "out/compare.html"));
  EXPECT_TRUE(fs::exists(dir.path() / "out/compare.csv"));
}

// 8 segments (C2-T2) -> 5 (C2-C6) -> 3 (C2-C4): improved twice, with the numbers, and a trend.
TEST(Compare, ShortenedLesionIsImprovedWithTrend) {
  test::TempDir dir;
  const fs::path a = phantom(dir, "a", "--seed 41 --lesion C2:T2:dorsal --study-date 20240110");
  const fs::path b =
      phantom(dir, "b", "--seed 41 --lesion C2:C6:dorsal --study-date 20240710 --lordosis 10");
  const fs::path c3 =
      phantom(dir, "c", "--seed 41 --lesion C2:C4:dorsal --study-date 20250110 --tilt -3");
  std::string out;
  // Given out of order: the dates set the order.
  const nlohmann::json c = compare(dir, {b, a, c3}, &out);
  ASSERT_EQ(c["comparisons"].size(), 2u);
  EXPECT_EQ(c["time_points"][0]["study_date"], "20240110");
  const auto& first = c["comparisons"][0]["lesions"];
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["class"], "improved");
  EXPECT_EQ(first[0]["baseline"]["segments_spanned"], 8);
  EXPECT_EQ(first[0]["followup"]["segments_spanned"], 5);
  EXPECT_EQ(first[0]["change"]["segments"], -3);
  EXPECT_EQ(first[0]["followup"]["bottom_level"], "C6");
  EXPECT_NE(out.find("Dorsal lesion C2\u2013T2, 8 segments \u2192 C2\u2013C6, 5 segments over 6 "
                     "months: improved"),
            std::string::npos)
      << out;
  EXPECT_EQ(c["comparisons"][1]["lesions"][0]["class"], "improved");
  EXPECT_EQ(c["comparisons"][1]["lesions"][0]["followup"]["segments_spanned"], 3);
  ASSERT_EQ(c["trend"].size(), 3u);
  EXPECT_EQ(c["trend"][0]["max_segments_spanned"], 8);
  EXPECT_EQ(c["trend"][2]["max_segments_spanned"], 3);
  EXPECT_NEAR(c["trend"][2]["x"].get<double>(), 12.0, 0.5);
  EXPECT_TRUE(fs::exists(dir.path() / "out/trend.png"));
}

TEST(Compare, GoneIsResolvedAndNewIsNew) {
  test::TempDir dir;
  const fs::path a = phantom(dir, "a", "--seed 51 --lesion C3:C5:dorsal --study-date 20240101");
  const fs::path b = phantom(dir, "b", "--seed 51 --lesion C6:C7:lateral --study-date 20241001");
  std::string out;
  const nlohmann::json c = compare(dir, {a, b}, &out);
  const auto& lesions = c["comparisons"][0]["lesions"];
  ASSERT_EQ(lesions.size(), 2u) << lesions;
  std::vector<std::string> classes;
  for (const auto& l : lesions) classes.push_back(l["class"]);
  std::sort(classes.begin(), classes.end());
  EXPECT_EQ(classes, (std::vector<std::string>{"new", "resolved"}));
  EXPECT_NE(out.find(": resolved"), std::string::npos) << out;
}

// The same study as DICOM and as NIfTI (the second given as an analyze output folder): stable,
// the same numbers.
TEST(Compare, SameStudyDicomAndNiftiIsStable) {
  test::TempDir dir;
  const fs::path a = phantom(dir, "a", "--seed 61 --lesion C4:C7:central");
  ASSERT_EQ(test::runCordscope("convert " + test::quote(a.string()) + " -o " +
                               test::quote(dir / "a.nii.gz"))
                .exitCode,
            0);
  ASSERT_EQ(test::runShell("env -u DISPLAY " + test::quote(CORDSCOPE_BINARY) + " analyze " +
                           test::quote(dir / "a.nii.gz") + " -o " + test::quote(dir / "analysed") +
                           " --no-render --quiet")
                .exitCode,
            0);
  const nlohmann::json c = compare(dir, {a, dir.path() / "analysed"});
  const auto& lesions = c["comparisons"][0]["lesions"];
  ASSERT_EQ(lesions.size(), 1u);
  EXPECT_EQ(lesions[0]["class"], "stable");
  EXPECT_NEAR(lesions[0]["change"]["length_mm"].get<double>(), 0.0, 1.0);
  EXPECT_EQ(lesions[0]["change"]["segments"], 0);
}

// Repeatability: phantom pairs of unchanged anatomy (same seed) at another position, slice
// placement and noise. Each threshold must stay at least 1.5 times the largest difference.
TEST(Compare, ThresholdsStayAboveRepeatability) {
  const FollowUpRules rules;
  double length = 0, volume = 0, csa = 0;
  const std::vector<std::pair<int, std::string>> cases = {
      {21, "C3:C5:dorsal"}, {23, "C4:C6:central"}, {24, "C5:C7:lateral"}, {25, "C3:C4:dorsal"}};
  for (const auto& [seed, lesion] : cases) {
    test::TempDir dir;
    const fs::path a = phantom(dir, "a", "--seed " + std::to_string(seed) + " --lesion " + lesion);
    const fs::path b =
        phantom(dir, "b", "--seed " + std::to_string(seed) + " --lesion " + lesion + kMoved);
    const nlohmann::json c = compare(dir, {a, b});
    for (const auto& l : c["comparisons"][0]["lesions"]) {
      EXPECT_EQ(l["class"], "stable") << seed;
      if (!l["change"]["length_mm"].is_number()) continue;
      length = std::max(length, std::abs(l["change"]["length_mm"].get<double>()));
      volume = std::max(volume, std::abs(l["change"]["volume_fraction"].get<double>()));
    }
    for (const auto& level : c["comparisons"][0]["levels"])
      if (level["csa_change_percent"].is_number())
        csa = std::max(csa, std::abs(level["csa_change_percent"].get<double>()));
  }
  std::cout << "[ repeatability ] max |length change| " << length << " mm, |volume change| "
            << 100 * volume << " %, |CSA change| " << csa << " %\n";
  EXPECT_LE(1.5 * length, rules.lengthMm);
  EXPECT_LE(1.5 * volume, rules.volumeFraction);
  EXPECT_LE(1.5 * csa, rules.csaPercent);
}

// Bad input: one study, a missing path, a folder that is no analyze output - a one-line error
// naming the problem, a non-zero exit, no crash.
TEST(Compare, BadInputIsAClearError) {
  test::TempDir dir;
  const auto one =
      test::runCordscope("compare " + test::quote(dir / "a") + " -o " + test::quote(dir / "out"));
  EXPECT_EQ(one.exitCode, 2) << one.err;
  EXPECT_NE(one.err.find("baseline and at least one follow-up"), std::string::npos) << one.err;
  const auto missing =
      test::runCordscope("compare " + test::quote(dir / "nothing-here") + " " +
                         test::quote(dir / "nor-here") + " -o " + test::quote(dir / "out"));
  EXPECT_NE(missing.exitCode, 0);
  EXPECT_NE(missing.err.find("nothing-here"), std::string::npos) << missing.err;
  fs::create_directories(dir.path() / "empty");
  std::ofstream(dir.path() / "empty/report.json") << "not json";
  const auto broken =
      test::runCordscope("compare " + test::quote(dir / "empty") + " " +
                         test::quote(dir / "empty") + " -o " + test::quote(dir / "out"));
  EXPECT_NE(broken.exitCode, 0);
  EXPECT_NE(broken.err.find("report.json"), std::string::npos) << broken.err;
  EXPECT_EQ(broken.err.find("internal failure"), std::string::npos) << broken.err;
}

// A time point whose analysis failed its quality control (a real EPI series, not a spine study)
// is refused: its "cord" would read as change.
TEST(Compare, TimePointThatFailedQualityControlIsRefused) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const auto analysed = test::runCordscope(
      "analyze " + test::quote((data / "dicom/siemens-xa30-epi-sag-enhanced").string()) +
      " --no-render --quiet -o " + test::quote(dir / "epi"));
  ASSERT_EQ(analysed.exitCode, 1) << analysed.err;
  const auto r = test::runCordscope("compare " + test::quote(dir / "epi") + " " +
                                    test::quote(dir / "epi") + " -o " + test::quote(dir / "out"));
  EXPECT_EQ(r.exitCode, 3) << r.err;
  EXPECT_NE(r.err.find("failed its quality control (cord size implausible"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "out/compare.json"));
}

}  // namespace
}  // namespace cordscope
