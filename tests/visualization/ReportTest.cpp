// The report a radiologist reads (issue 8), end to end through the binary with DISPLAY unset (the
// 3D view must start its own Xvfb): report.json against truth, metrics.csv, each picture's size,
// contrast and lesion colour, and report.html loaded in headless Chromium (screenshot and text).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "TestSupport.h"
#include "data/Levels.h"
#include "data/Nifti.h"
#include "measurement/LevelMetrics.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

test::CommandResult analyzeHeadless(const std::string& args) {
  return test::runShell("env -u DISPLAY " + test::quote(CORDSCOPE_BINARY) + " analyze " + args);
}

// Pixels in the lesion red (BGR), as the pictures paint lesions.
int redPixels(const cv::Mat& picture) {
  int n = 0;
  for (int y = 0; y < picture.rows; ++y)
    for (int x = 0; x < picture.cols; ++x) {
      const cv::Vec3b p = picture.at<cv::Vec3b>(y, x);
      n += p[2] > 150 && p[1] < 90 && p[0] < 90;
    }
  return n;
}

// A picture that exists, has a sensible size and is not blank (grey levels spread).
cv::Mat expectPicture(const fs::path& path, int minWidth, int minHeight) {
  const cv::Mat picture = cv::imread(path.string(), cv::IMREAD_COLOR);
  EXPECT_FALSE(picture.empty()) << path;
  if (picture.empty()) return picture;
  EXPECT_GE(picture.cols, minWidth) << path;
  EXPECT_GE(picture.rows, minHeight) << path;
  cv::Scalar mean, sd;
  cv::meanStdDev(picture, mean, sd);
  EXPECT_GT(sd[0] + sd[1] + sd[2], 30.0) << path << " looks blank";
  return picture;
}

// The banner's background colours (BGR), as HtmlReport.cpp's style sets them.
const cv::Vec3b kNeutral{241, 239, 236}, kAmber{138, 224, 255}, kRed{196, 196, 248};

// Pixels of a banner colour in the page's top 600 rows (where the banner must be).
int bannerPixels(const cv::Mat& shot, const cv::Vec3b& colour) {
  int n = 0;
  for (int y = 0; y < std::min(shot.rows, 600); ++y)
    for (int x = 0; x < shot.cols; ++x) {
      const cv::Vec3b p = shot.at<cv::Vec3b>(y, x);
      n += std::abs(p[0] - colour[0]) <= 3 && std::abs(p[1] - colour[1]) <= 3 &&
           std::abs(p[2] - colour[2]) <= 3;
    }
  return n;
}

bool haveChromium() {
  return test::runShell("command -v chromium").exitCode == 0;
}

// report.html in headless Chromium: a screenshot that is not blank, and the page's text.
std::string loadInChromium(const fs::path& html, const fs::path& screenshot) {
  const std::string url = "file://" + fs::absolute(html).string();
  const auto shot = test::runShell(
      "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot=" +
      test::quote(screenshot.string()) + " --window-size=1300,1600 " + test::quote(url));
  EXPECT_TRUE(fs::exists(screenshot)) << shot.err;
  expectPicture(screenshot, 1300, 1600);
  const auto dom = test::runShell("chromium --headless --no-sandbox --disable-gpu --dump-dom " +
                                  test::quote(url));
  EXPECT_EQ(dom.exitCode, 0) << dom.err;
  return dom.out;
}

// The demo study (dorsal lesion C2-T2, 8 segments; ADI 5 mm): every output, the pictures with
// the lesion in colour, the page with the key numbers.
TEST(Report, DemoEndToEnd) {
  test::TempDir dir;
  const auto r = analyzeHeadless("--demo -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const fs::path out = dir / "out";
  for (const char* name :
       {"report.json", "report.html", "metrics.csv", "lesions.csv", "discs.csv", "cord.nii.gz",
        "canal.nii.gz", "lesion.nii.gz", "levels.nii.gz", "sagittal.png", "render3d.png"})
    EXPECT_TRUE(fs::exists(out / name)) << name;
  // Six summary lines on stdout: the study, the quality verdict, the findings, what was written.
  std::istringstream lines(r.out);
  std::vector<std::string> summary;
  for (std::string line; std::getline(lines, line);) summary.push_back(line);
  ASSERT_EQ(summary.size(), 6u) << r.out;
  EXPECT_EQ(summary[1], "quality: pass");
  EXPECT_NE(summary[2].find("8 vertebral segments"), std::string::npos) << summary[2];
  EXPECT_NE(summary[3].find("ADI 5."), std::string::npos) << summary[3];
  EXPECT_NE(summary[5].find("render3d.png"), std::string::npos) << summary[5];
  // Not a terminal: no progress lines.
  EXPECT_EQ(r.err.find("[1/"), std::string::npos) << r.err;

  const nlohmann::json report = test::readJson(out / "report.json");
  const nlohmann::json truth = test::readJson(out / "demo-input/truth.json");
  EXPECT_EQ(report["schema"], "cordscope.report/1");
  EXPECT_TRUE(report["warnings"].empty()) << report["warnings"];
  // Per level: CSA within 10 % of truth, z-scores present for C1-T2.
  const auto& levels = report["cord"]["levels"];
  ASSERT_GE(levels.size(), 9u);
  int compared = 0;
  for (const auto& level : levels) {
    const std::string name = level["level"];
    if (parseLevel(name) <= 9) {
      EXPECT_TRUE(level["csa_z"].is_number()) << name;
    }
    for (const auto& truthLevel : truth["cord"]["levels"])
      if (truthLevel["name"] == name) {
        const double t = truthLevel["csa_mm2"];
        EXPECT_NEAR(level["csa_mm2"].get<double>(), t, 0.1 * t) << name;
        ++compared;
      }
  }
  EXPECT_GE(compared, 7);
  std::ifstream csv(out / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(
      header.rfind("VertLevel,level,MEAN(area),STD(area),MEAN(diameter_AP),MEAN(diameter_RL)", 0),
      0u)
      << header;

  const cv::Mat sagittal = expectPicture(out / "sagittal.png", 600, 800);
  const cv::Mat render = expectPicture(out / "render3d.png", 1200, 600);
  std::cout << "[ demo ] sagittal " << sagittal.cols << "x" << sagittal.rows << ", red "
            << redPixels(sagittal) << "; render3d red " << redPixels(render) << "\n";
  EXPECT_GT(redPixels(sagittal), 1000);
  EXPECT_GT(redPixels(render), 1000);

  // The measured distances within 1 mm of truth (report.json: no browser needed for these) ...
  const auto& cc = report["craniocervical"];
  ASSERT_TRUE(cc["adi_mm"].is_number() && cc["padi_mm"].is_number()) << cc;
  EXPECT_NEAR(cc["adi_mm"].get<double>(), truth["craniocervical"]["adi_mm"].get<double>(), 1.0);
  EXPECT_NEAR(cc["padi_mm"].get<double>(), truth["craniocervical"]["padi_mm"].get<double>(), 1.0);

  // ... and the page shows them as report.json has them.
  if (!haveChromium())
    GTEST_SKIP() << "chromium is not installed (scripts/bootstrap.sh installs it)";
  const std::string text = loadInChromium(out / "report.html", dir / "screenshot.png");
  const auto shown = [](const char* name, double mm) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s %.1f mm", name, mm);
    return std::string(buffer);
  };
  for (const std::string& key :
       {std::string("8 vertebral segments"), std::string("C2\u2013T2"), shown("ADI", cc["adi_mm"]),
        std::string("anterior atlantoaxial subluxation"), shown("PADI", cc["padi_mm"]),
        std::string("data:image/png;base64,"), std::string("Quality control: pass")})
    EXPECT_NE(text.find(key), std::string::npos) << key;
}

// A lesion-free phantom without the 3D view: no lesion colour anywhere, no render3d.png, and a
// page that says so.
TEST(Report, LesionFreeNoRender) {
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("phantom -o " + test::quote(dir / "study") + " --seed 77 --adi 1.5")
                .exitCode,
            0);
  const auto r = analyzeHeadless(test::quote(dir / "study/dicom") + " --no-render -o " +
                                 test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out/render3d.png"));
  const cv::Mat sagittal = expectPicture(dir / "out/sagittal.png", 600, 800);
  EXPECT_LT(redPixels(sagittal), 50);
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  EXPECT_TRUE(report["lesions"].empty());
  EXPECT_EQ(report["craniocervical"]["flags"]["aas_anterior"], false);
  if (!haveChromium())
    GTEST_SKIP() << "chromium is not installed (scripts/bootstrap.sh installs it)";
  const std::string text = loadInChromium(dir / "out/report.html", dir / "screenshot.png");
  EXPECT_NE(text.find("No T2-hyperintense intramedullary lesion found"), std::string::npos);
  EXPECT_NE(text.find("ADI 1."), std::string::npos);
  // A pass is shown, in neutral grey: the banner is there, and neither amber nor red.
  EXPECT_EQ(report["quality"]["verdict"], "pass") << report["quality"];
  EXPECT_NE(text.find("Quality control: pass"), std::string::npos);
  const cv::Mat shot = cv::imread(dir / "screenshot.png", cv::IMREAD_COLOR);
  EXPECT_GT(bannerPixels(shot, kNeutral), 20000);
  EXPECT_EQ(bannerPixels(shot, kAmber), 0);
  EXPECT_EQ(bannerPixels(shot, kRed), 0);
}

// The quality banner atop the page: amber for a check (a study framed below the craniocervical
// junction: levels not named), red for a fail (no cord in the image), with the reasons; the page
// is still written when the analysis fails.
TEST(Report, QualityBannerShowsTheVerdict) {
  if (!haveChromium())
    GTEST_SKIP() << "chromium is not installed (scripts/bootstrap.sh installs it)";
  test::TempDir dir;
  const test::CroppedPhantom crop = test::writePhantomWithoutJunction(dir.path(), 22);
  auto r = analyzeHeadless(test::quote(crop.nifti.string()) + " --no-render -o " +
                           test::quote(dir / "check"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string text = loadInChromium(dir / "check/report.html", dir / "check.png");
  EXPECT_NE(text.find("Quality control: check"), std::string::npos);
  EXPECT_NE(text.find("levels not named"), std::string::npos);
  cv::Mat shot = cv::imread(dir / "check.png", cv::IMREAD_COLOR);
  std::cout << "[ banner ] check: amber " << bannerPixels(shot, kAmber) << " px\n";
  EXPECT_GT(bannerPixels(shot, kAmber), 20000);
  EXPECT_EQ(bannerPixels(shot, kRed), 0);

  auto image = Image::New();
  Image::SizeType size{{40, 60, 50}};
  image->SetRegions(size);
  image->Allocate();
  float* p = image->GetBufferPointer();
  for (std::size_t i = 0; i < 40 * 60 * 50; ++i) p[i] = 100.0f + static_cast<float>(i % 40);
  writeNifti(image.GetPointer(), dir / "flat.nii.gz");
  r = analyzeHeadless(test::quote(dir / "flat.nii.gz") + " --no-render -o " +
                      test::quote(dir / "fail"));
  ASSERT_EQ(r.exitCode, 1) << r.err;
  text = loadInChromium(dir / "fail/report.html", dir / "fail.png");
  EXPECT_NE(text.find("Quality control: fail"), std::string::npos);
  EXPECT_NE(text.find("no spinal cord found"), std::string::npos);
  shot = cv::imread(dir / "fail.png", cv::IMREAD_COLOR);
  std::cout << "[ banner ] fail: red " << bannerPixels(shot, kRed) << " px\n";
  EXPECT_GT(bannerPixels(shot, kRed), 20000);
  EXPECT_EQ(bannerPixels(shot, kAmber), 0);
}

// Real DICOM with an expert-marked lesion: the pictures show it in colour.
TEST(Report, RealDicomWithLesion) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const auto r = analyzeHeadless(test::quote((data / "real/sct-t2-lesion/dicom").string()) +
                                 " -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  ASSERT_FALSE(report["lesions"].empty());
  const cv::Mat sagittal = expectPicture(dir / "out/sagittal.png", 300, 400);
  EXPECT_GT(redPixels(sagittal), 100);
  const cv::Mat render = expectPicture(dir / "out/render3d.png", 1200, 600);
  EXPECT_GT(redPixels(render), 100);
  std::cout << "[ sct-t2-lesion ] sagittal red " << redPixels(sagittal) << ", render3d red "
            << redPixels(render) << "\n";
}

// Real NIfTI (the PAM50 template): the whole report, the craniocervical block measured.
TEST(Report, RealNifti) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const auto r =
      analyzeHeadless(test::quote((data / "real/pam50-small/PAM50_small_t2.nii.gz").string()) +
                      " --no-render -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  EXPECT_TRUE(report["craniocervical"]["measured"].get<bool>());
  EXPECT_EQ(report["vertebrae"]["anchor"], "dens base");
  expectPicture(dir / "out/sagittal.png", 300, 800);  // the whole spine: tall and narrow
  EXPECT_TRUE(fs::exists(dir / "out/report.html"));
}

// The built-in normative table is the one in ../shared/data/normative (no drift).
TEST(Report, NormativeTableMatchesTheSharedCsv) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  for (const auto& [file, table] : {std::pair{"cord_per_level.csv", &normativeCord()},
                                    std::pair{"canal_per_level.csv", &normativeCanal()}}) {
    std::ifstream in(data / "normative" / file);
    std::string line;
    std::getline(in, line);
    std::size_t row = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      std::stringstream fields(line);
      std::string level, n, values[6];
      std::getline(fields, level, ',');
      std::getline(fields, n, ',');
      for (auto& v : values) std::getline(fields, v, ',');
      ASSERT_LT(row, table->size()) << file;
      const NormativeRow& r = (*table)[row++];
      EXPECT_EQ(r.level, parseLevel(level)) << file << " " << level;
      EXPECT_EQ(r.subjects, std::stoi(n));
      const double ours[6] = {r.areaMean, r.areaSd, r.apMean, r.apSd, r.rlMean, r.rlSd};
      for (int k = 0; k < 6; ++k)
        EXPECT_DOUBLE_EQ(ours[k], std::stod(values[k])) << file << " " << level << " " << k;
    }
    EXPECT_EQ(row, table->size()) << file;
  }
}

}  // namespace
}  // namespace cordscope

namespace cordscope {
namespace {

// No display and no Xvfb to be had: the 3D view is skipped with a warning, everything else is
// written, and the run succeeds.
TEST(Report, NoXServerSkipsTheRenderOnly) {
  test::TempDir dir;
  const auto r =
      test::runShell("env -u DISPLAY PATH=/nonexistent " + test::quote(CORDSCOPE_BINARY) +
                     " analyze --demo -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out/render3d.png"));
  EXPECT_TRUE(fs::exists(dir / "out/sagittal.png"));
  EXPECT_TRUE(fs::exists(dir / "out/report.html"));
  EXPECT_NE(r.err.find("render3d.png not written"), std::string::npos) << r.err;
  const nlohmann::json report = test::readJson(dir / "out/report.json");
  bool warned = false;
  for (const auto& w : report["warnings"])
    warned |= w.get<std::string>().find("Xvfb") != std::string::npos;
  EXPECT_TRUE(warned) << report["warnings"];
}

// On a terminal: one progress line per stage on stderr; --quiet silences them.
TEST(Report, ProgressLinesOnATerminal) {
  if (test::runShell("command -v script").exitCode != 0)
    GTEST_SKIP() << "util-linux 'script' is not installed";
  test::TempDir dir;
  const std::string command =
      test::quote(CORDSCOPE_BINARY) + " analyze --demo --no-render -o " + test::quote(dir / "out");
  // script(1) runs the command on a pseudo-terminal; its output (stdout and stderr) is the log.
  const auto shown = test::runShell("script -qec " + test::quote(command) + " /dev/null");
  EXPECT_NE(shown.out.find("[1/10"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("lesions"), std::string::npos) << shown.out;
  const auto quiet =
      test::runShell("script -qec " + test::quote(command + " --quiet") + " /dev/null");
  EXPECT_EQ(quiet.out.find("[1/10"), std::string::npos) << quiet.out;
}

}  // namespace
}  // namespace cordscope
