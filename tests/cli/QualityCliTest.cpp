// Quality control end to end (issue 18, item 5): the verdict on the console, in report.json and in
// the exit code. The default phantom passes; a phantom cut below the craniocervical junction is a
// check (levels not named, as many discs as the truth has in view); a study without a cord and a
// real series whose "cord" is not one fail with exit 1, outputs written, one error line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "TestSupport.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> codes(const nlohmann::json& quality) {
  std::vector<std::string> out;
  for (const auto& reason : quality["reasons"]) out.push_back(reason["code"]);
  return out;
}

int errorLines(const std::string& err) {
  int n = 0;
  for (const std::string& line : lines(err)) n += line.rfind("cordscope: error:", 0) == 0;
  return n;
}

TEST(QualityCli, DefaultPhantomPasses) {
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("phantom -o " + test::quote(dir / "study")).exitCode, 0);
  const auto r = test::runCordscope("analyze " + test::quote(dir / "study/dicom") +
                                    " --no-render -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto summary = lines(r.out);
  ASSERT_EQ(summary.size(), 6u) << r.out;
  EXPECT_EQ(summary[1], "quality: pass");
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  EXPECT_EQ(report["quality"]["verdict"], "pass");
  EXPECT_TRUE(report["quality"]["reasons"].empty()) << report["quality"];
  EXPECT_DOUBLE_EQ(report["quality"]["measures"]["measured_fraction"].get<double>(), 1.0);
  EXPECT_EQ(errorLines(r.err), 0) << r.err;
}

// The field of view starts 5 mm above C2-C3: no foramen magnum, no dens, so nothing can anchor
// the names. Exit 0, verdict check for exactly that reason, and the discs counted as the truth has
// them in view.
TEST(QualityCli, CropWithoutTheJunctionIsACheck) {
  test::TempDir dir;
  const test::CroppedPhantom crop = test::writePhantomWithoutJunction(dir.path(), 21);
  const auto r = test::runCordscope("analyze " + test::quote(crop.nifti.string()) +
                                    " --no-render -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  EXPECT_FALSE(report["vertebrae"]["named"].get<bool>());
  EXPECT_EQ(report["quality"]["verdict"], "check") << report["quality"];
  EXPECT_EQ(codes(report["quality"]), std::vector<std::string>{"levels_not_named"})
      << report["quality"];
  const int found = static_cast<int>(report["vertebrae"]["discs"].size());
  EXPECT_NEAR(found, crop.discsInView, 1)
      << "truth has " << crop.discsInView << " discs below the cut";
  std::cout << "[ crop ] " << found << " discs found, " << crop.discsInView
            << " in view in truth\n";
  const std::string expected =
      "quality: check - levels not named: " + std::to_string(found) + " discs were found";
  const auto summary = lines(r.out);
  ASSERT_EQ(summary.size(), 6u) << r.out;
  EXPECT_EQ(summary[1].rfind(expected, 0), 0u) << summary[1];
  EXPECT_EQ(errorLines(r.err), 0) << r.err;
}

// A real series that is no cervical spine (Siemens EPI, 86 x 86 x 63): its "cord" of 400 mm2 was
// reported as a success before quality control. Now: exit 1, outputs written, the summary shows
// the verdict, and one error line names the input and the reasons.
TEST(QualityCli, ImplausibleCordFailsWithExitOne) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const fs::path input = data / "dicom/siemens-xa30-epi-sag-enhanced";
  const auto r = test::runCordscope("analyze " + test::quote(input.string()) + " --no-render -o " +
                                    test::quote(dir / "out"));
  EXPECT_EQ(r.exitCode, 1) << r.err;
  for (const char* name : {"report.json", "report.html", "cord.nii.gz", "metrics.csv"})
    EXPECT_TRUE(fs::exists(dir.path() / "out" / name)) << name;
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  EXPECT_EQ(report["quality"]["verdict"], "fail");
  const auto found = codes(report["quality"]);
  EXPECT_EQ(found.front(), "cord_area_implausible") << report["quality"];
  EXPECT_GT(report["quality"]["measures"]["median_area_mm2"].get<double>(), 150.0);
  EXPECT_EQ(report["quality"]["reasons"][0]["severity"], "fail");
  const auto summary = lines(r.out);
  ASSERT_EQ(summary.size(), 6u) << r.out;
  EXPECT_EQ(summary[1].rfind("quality: fail - cord size implausible", 0), 0u) << summary[1];
  ASSERT_EQ(errorLines(r.err), 1) << r.err;
  for (const std::string& line : lines(r.err))
    if (line.rfind("cordscope: error:", 0) == 0) {
      EXPECT_NE(line.find(input.string()), std::string::npos) << line;
      EXPECT_NE(line.find("cord size implausible"), std::string::npos) << line;
      EXPECT_NE(line.find("(quality control: fail)"), std::string::npos) << line;
    }
}

}  // namespace
}  // namespace cordscope
