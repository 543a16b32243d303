// End-to-end tests of the cordscope binary: help, exit codes, one-line errors, info and convert.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "TestSupport.h"
#include "data/Nifti.h"
#include "data/Volume.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;
using test::quote;
using test::runCordscope;
using test::TempDir;

int lineCount(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

TEST(Cli, HelpAndVersion) {
  const auto help = runCordscope("--help");
  EXPECT_EQ(help.exitCode, 0);
  for (const char* command : {"analyze", "info", "convert", "phantom"})
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  EXPECT_EQ(runCordscope("--version").exitCode, 0);
  EXPECT_NE(runCordscope("--version").out.find("cordscope "), std::string::npos);
  for (const char* command : {"analyze", "info", "convert", "phantom"}) {
    const auto r = runCordscope(std::string(command) + " --help");
    EXPECT_EQ(r.exitCode, 0) << command;
    EXPECT_NE(r.out.find("usage: cordscope " + std::string(command)), std::string::npos) << r.out;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(runCordscope("").exitCode, 2);
  EXPECT_EQ(runCordscope("frobnicate").exitCode, 2);
  EXPECT_EQ(runCordscope("info").exitCode, 2);
  const auto r = runCordscope("info /tmp --no-such-option");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  TempDir dir;
  const auto wrongExtension = runCordscope("convert /tmp -o " + quote(dir / "out.png"));
  EXPECT_EQ(wrongExtension.exitCode, 2);
  EXPECT_NE(wrongExtension.err.find(".nii"), std::string::npos);
}

// An output folder that cannot be one (empty, an existing file) is a usage error naming it, not
// an internal failure; a thread count far beyond the cores is clamped with a warning (100000
// crashed the thread pool).
TEST(Cli, OutputFolderProblemsAndWildThreadCountsAreAnswered) {
  TempDir dir;
  ASSERT_EQ(runCordscope("phantom -o " + quote(dir / "p")).exitCode, 0);
  const std::string input = quote(dir / "p/dicom");
  const auto empty = runCordscope("analyze " + input + " -o '' --no-render");
  EXPECT_EQ(empty.exitCode, 2) << empty.err;
  EXPECT_NE(empty.err.find("-o needs a folder name"), std::string::npos) << empty.err;
  std::ofstream(dir / "file.txt") << "x";
  const auto file =
      runCordscope("analyze " + input + " -o " + quote(dir / "file.txt") + " --no-render");
  EXPECT_EQ(file.exitCode, 2) << file.err;
  EXPECT_NE(file.err.find("is a file, not a folder"), std::string::npos) << file.err;
  const auto batch = runCordscope("batch " + quote(dir / "p") + " -o " + quote(dir / "file.txt"));
  EXPECT_EQ(batch.exitCode, 2) << batch.err;
  const auto threads = runCordscope("analyze " + input + " -o " + quote(dir / "out") +
                                    " --no-render --threads 100000");
  EXPECT_EQ(threads.exitCode, 0) << threads.err;
  EXPECT_NE(threads.err.find("--threads 100000 is more than 8 x"), std::string::npos)
      << threads.err;
}

// --max-memory: a series that would need more (here the default phantom, 400 x 400 x 15: about
// 327 MB to analyse, 129 MB to convert) is refused before a pixel is read, with exit 3 and the
// sizes named; a limit that is no number is a usage error.
TEST(Cli, SeriesBeyondMaxMemoryIsRefusedBeforeReading) {
  TempDir dir;
  ASSERT_EQ(runCordscope("phantom -o " + quote(dir / "p")).exitCode, 0);
  const std::string input = quote(dir / "p/dicom");
  const auto analyze = runCordscope("analyze " + input + " -o " + quote(dir / "a") +
                                    " --no-render --max-memory 300");
  EXPECT_EQ(analyze.exitCode, 3) << analyze.err;
  EXPECT_NE(analyze.err.find("(400x400x15, 2.4 million voxels) needs about 327 MB to analyse, more "
                             "than --max-memory 300 MB"),
            std::string::npos)
      << analyze.err;
  EXPECT_FALSE(fs::exists(dir / "a/report.json"));
  const auto convert =
      runCordscope("convert " + input + " -o " + quote(dir / "c.nii") + " --max-memory 120");
  EXPECT_EQ(convert.exitCode, 3) << convert.err;
  EXPECT_NE(convert.err.find("to convert, more than --max-memory 120 MB"), std::string::npos)
      << convert.err;
  EXPECT_EQ(runCordscope("convert " + input + " -o " + quote(dir / "c.nii") + " --max-memory 140")
                .exitCode,
            0);
  for (const char* bad : {"0", "-5", "nan"})
    EXPECT_EQ(runCordscope("analyze " + input + " -o " + quote(dir / "b") + " --max-memory " + bad)
                  .exitCode,
              2)
        << bad;
}

TEST(Cli, BadInputIsOneLineAndExitThree) {
  TempDir dir;
  fs::create_directories(dir / "empty");
  std::ofstream(dir / "random.dcm", std::ios::binary) << std::string(3000, '\x7f');
  struct Case {
    std::string path, expected;
  } cases[] = {{dir / "absent", "no such file or directory"},
               {dir / "empty", "no DICOM or NIfTI files"},
               {dir / "random.dcm", "not a DICOM file"}};
  for (const Case& c : cases) {
    for (const std::string& command :
         {std::string("info "), std::string("convert -o ") + quote(dir / "o.nii.gz") + " "}) {
      const auto r = runCordscope(command + quote(c.path));
      EXPECT_EQ(r.exitCode, 3) << command << c.path << r.err;
      EXPECT_EQ(lineCount(r.err), 1) << r.err;
      EXPECT_NE(r.err.find(c.path), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    }
  }
}

TEST(Cli, InfoJsonOnRealData) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const auto r = runCordscope("info --json " + quote((data / "real/sct-t2-lesion/dicom").string()));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["series"].size(), 1u);
  const auto& s = j["series"][0];
  EXPECT_EQ(s["orientation"], "sagittal");
  EXPECT_EQ(s["size"], nlohmann::json({99, 99, 29}));
  EXPECT_EQ(s["files"], 29);
  EXPECT_EQ(s["metadata"]["patient_age_years"], 47.0);
  EXPECT_EQ(j["analysed_series"]["id"], s["id"]);

  const auto text = runCordscope("info " + quote((data / "dicom").string()));
  ASSERT_EQ(text.exitCode, 0) << text.err;
  EXPECT_NE(text.out.find("Product EPI Sag Ascending"), std::string::npos);
  EXPECT_NE(text.out.find("gre_field_mapping"), std::string::npos);
}

TEST(Cli, ConvertEqualsTheReferenceNiftiAndDcm2niix) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  TempDir dir;
  const auto r = runCordscope("convert " + quote((data / "real/sct-t2-lesion/dicom").string()) +
                              " -o " + quote(dir / "t2.nii.gz"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const Volume converted = readNifti(dir / "t2.nii.gz");
  const Volume reference = readNifti((data / "real/sct-t2-lesion/t2_lesion.nii.gz").string());
  EXPECT_EQ(test::compareInWorld(converted.image.GetPointer(), reference.image.GetPointer(), 1e-4),
            "");
  EXPECT_TRUE(fs::exists(dir / "t2.json"));
  // The sidecar carries the metadata back: a converted NIfTI is still chosen as sagittal T2.
  const Volume reread = readNifti(dir / "t2.nii.gz");
  EXPECT_EQ(reread.meta.seriesDescription, "T2 TSE SAG");
  ASSERT_TRUE(reread.meta.echoTimeMs && reread.meta.repetitionTimeMs);
  EXPECT_DOUBLE_EQ(*reread.meta.echoTimeMs, 100.0);
  EXPECT_DOUBLE_EQ(*reread.meta.repetitionTimeMs, 3000.0);
  EXPECT_EQ(reread.meta.modality, "MR");

  for (const char* folder :
       {"dicom/siemens-gre-sag-classic", "dicom/siemens-xa30-epi-sag-enhanced"}) {
    TempDir scratch;
    const auto c = runCordscope("convert " + quote((data / folder).string()) + " -o " +
                                quote(scratch / "x.nii"));
    ASSERT_EQ(c.exitCode, 0) << c.err;
    const Volume ours = readNifti(scratch / "x.nii");
    const Volume ref = readNifti(test::runDcm2niix(data / folder, scratch).string());
    EXPECT_EQ(test::compareInWorld(ours.image.GetPointer(), ref.image.GetPointer(), 1e-3), "")
        << folder;
  }
}

}  // namespace
}  // namespace cordscope

namespace cordscope {
namespace {

TEST(Cli, AnalyzeDemoWritesTheInputReport) {
  test::TempDir dir;
  const auto r = test::runCordscope("analyze --demo -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::ifstream in(dir / "out/report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report["schema"], "cordscope.report/1");
  EXPECT_EQ(report["input"]["orientation"], "sagittal");
  EXPECT_DOUBLE_EQ(report["input"]["patient_age_years"].get<double>(), 58.0);
  std::ifstream truthIn(dir / "out/demo-input/truth.json");
  const auto truth = nlohmann::json::parse(truthIn);
  EXPECT_EQ(truth["lesions"][0]["segments_spanned"], 8);
  EXPECT_NEAR(truth["craniocervical"]["adi_mm"].get<double>(), 5.0, 1e-6);
  // The analysis finds the demo's lesion as the truth has it.
  ASSERT_EQ(report["lesions"].size(), 1u);
  const auto& lesion = report["lesions"][0];
  EXPECT_EQ(lesion["segments_spanned"], 8);
  EXPECT_EQ(lesion["top_level"], "C2");
  EXPECT_EQ(lesion["bottom_level"], "T2");
  EXPECT_EQ(lesion["pattern"], "dorsal");
  EXPECT_NEAR(lesion["length_mm"].get<double>(), truth["lesions"][0]["length_mm"].get<double>(), 5);
  EXPECT_EQ(report["summary"]["extensive_ge7_segments"], true);
  EXPECT_EQ(report["summary"]["prognosis"]["age_under_50"], false);
  // ... and its atlantoaxial subluxation (ADI 5 mm: above 3, below 6).
  const auto& cc = report["craniocervical"];
  ASSERT_TRUE(cc["measured"].get<bool>()) << cc["warnings"];
  EXPECT_NEAR(cc["adi_mm"].get<double>(), truth["craniocervical"]["adi_mm"].get<double>(), 1.0);
  EXPECT_NEAR(cc["padi_mm"].get<double>(), truth["craniocervical"]["padi_mm"].get<double>(), 1.0);
  EXPECT_EQ(cc["flags"]["aas_anterior"], true);
  EXPECT_EQ(cc["flags"]["aas_over_6mm"], false);
  EXPECT_EQ(cc["flags"]["padi_below_14mm"], false);
  EXPECT_EQ(cc["landmarks_ras_mm"]["dens_tip"].size(), 3u);
  EXPECT_TRUE(fs::exists(dir / "out/lesion.nii.gz"));
  std::ifstream csv(dir / "out/lesions.csv");
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header.rfind("id,length_mm,top_level,bottom_level,segments_spanned", 0), 0u);
  EXPECT_EQ(row.rfind("1,", 0), 0u);
  // The rule is an option: "> 8" does not flag an 8-segment lesion.
  const auto strict = test::runCordscope("analyze " + test::quote(dir / "out/demo-input/dicom") +
                                         " -o " + test::quote(dir / "strict") +
                                         " --extensive-segments 8 --extensive-exclusive");
  ASSERT_EQ(strict.exitCode, 0) << strict.err;
  std::ifstream strictIn(dir / "strict/report.json");
  const auto strictReport = nlohmann::json::parse(strictIn);
  EXPECT_EQ(strictReport["summary"]["extensive_ge7_segments"], false);
  EXPECT_EQ(strictReport["summary"]["extensive_rule"]["reads"], "> 8 segments");
  EXPECT_EQ(test::runCordscope("analyze -o " + test::quote(dir / "x")).exitCode, 2);
}

TEST(Cli, AnalyzeReadsRealDicom) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const auto r =
      test::runCordscope("analyze " + test::quote((data / "real/sct-t2-lesion/dicom").string()) +
                         " -o " + test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::ifstream in(dir / "out/report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report["input"]["size"], nlohmann::json({99, 99, 29}));
  EXPECT_EQ(report["input"]["series_description"], "T2 TSE SAG");
  EXPECT_TRUE(report["cord"]["found"].get<bool>());
}

// The cord outputs of analyze on a real NIfTI: masks on exactly the input's grid (same size and
// affine, so they overlay the expert mask voxel by voxel), the centerline table, the report block.
TEST(Cli, AnalyzeWritesCordOutputsOnTheInputGrid) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const fs::path input = data / "real/sct-t2/t2.nii.gz";
  const auto r = test::runCordscope("analyze " + test::quote(input.string()) + " -o " +
                                    test::quote(dir / "out"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const Volume volume = readNifti(input.string());
  const Mask::Pointer cord = readMask(dir / "out/cord.nii.gz");
  const Mask::Pointer canal = readMask(dir / "out/canal.nii.gz");
  for (const Mask* m : {cord.GetPointer(), canal.GetPointer()}) {
    EXPECT_EQ(m->GetLargestPossibleRegion(), volume.image->GetLargestPossibleRegion());
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(m->GetOrigin()[a], volume.image->GetOrigin()[a], 1e-4);
      EXPECT_NEAR(m->GetSpacing()[a], volume.image->GetSpacing()[a], 1e-6);
      for (int b = 0; b < 3; ++b)
        EXPECT_NEAR(m->GetDirection()[a][b], volume.image->GetDirection()[a][b], 1e-6);
    }
  }
  const Mask::Pointer expert = readMask((data / "real/sct-t2/t2_seg-manual.nii.gz").string());
  EXPECT_GE(test::dice(cord, expert), 0.85);
  std::ifstream in(dir / "out/report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_TRUE(report["cord"]["found"].get<bool>());
  EXPECT_EQ(report["cord"]["contrast"], "t2");
  // The image covers about C2-C5 (60 mm along the cord); volume near 55 mm * 75 mm2.
  EXPECT_NEAR(report["cord"]["length_mm"].get<double>(), 55.0, 8.0);
  EXPECT_NEAR(report["cord"]["volume_mm3"].get<double>(), 4000.0, 1200.0);
  std::ifstream csv(dir / "out/centerline.csv");
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("arc_mm,x_ras_mm,y_ras_mm,z_ras_mm,area_mm2,ap_mm,rl_mm", 0), 0u);
  int rows = 0;
  while (std::getline(csv, row)) ++rows;
  EXPECT_NEAR(rows, 2 * report["cord"]["length_mm"].get<double>(), 3);  // a section every 0.5 mm
}

// Vertebrae: a 55 mm field without the foramen magnum - discs found, not named, a warning; with
// --c2c3 (RAS) they are named, levels.nii.gz labels the cord on the input grid, discs.csv lists
// them; a malformed --c2c3 is a usage error.
TEST(Cli, AnalyzeNamesLevelsFromGivenC2C3) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const fs::path input = data / "real/sct-t2/t2.nii.gz";
  auto r = test::runCordscope("analyze " + test::quote(input.string()) + " -o " +
                              test::quote(dir / "auto"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.err.find("foramen magnum"), std::string::npos) << r.err;
  {
    std::ifstream in(dir / "auto/report.json");
    const auto report = nlohmann::json::parse(in);
    EXPECT_FALSE(report["vertebrae"]["named"].get<bool>());
    EXPECT_GE(report["vertebrae"]["discs"].size(), 2u);
  }
  // The C2-C3 disc of this image, about where the expert's C2/C3 level boundary meets the cord.
  r = test::runCordscope("analyze " + test::quote(input.string()) + " -o " +
                         test::quote(dir / "given") + " --c2c3=-7,14,14");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::ifstream in(dir / "given/report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_TRUE(report["vertebrae"]["named"].get<bool>());
  EXPECT_EQ(report["vertebrae"]["anchor"], "c2c3 given");
  const auto& levels = report["vertebrae"]["levels"];
  ASSERT_GE(levels.size(), 3u);
  for (const char* name : {"C2", "C3", "C4"})
    EXPECT_NE(std::find(levels.begin(), levels.end(), name), levels.end()) << name;
  const Mask::Pointer map = readMask(dir / "given/levels.nii.gz");
  const Volume volume = readNifti(input.string());
  EXPECT_EQ(map->GetLargestPossibleRegion(), volume.image->GetLargestPossibleRegion());
  const Mask::Pointer expert =
      readMask((data / "real/sct-t2/t2_seg-manual_labeled.nii.gz").string());
  long total = 0, same = 0;
  const unsigned char* e = expert->GetBufferPointer();
  const unsigned char* m = map->GetBufferPointer();
  for (std::size_t i = 0; i < expert->GetBufferedRegion().GetNumberOfPixels(); ++i)
    if (e[i]) {
      ++total;
      same += e[i] == m[i];
    }
  EXPECT_GE(static_cast<double>(same) / total, 0.8);
  std::ifstream csv(dir / "given/discs.csv");
  std::string header, first;
  std::getline(csv, header);
  EXPECT_EQ(header, "name,x_ras_mm,y_ras_mm,z_ras_mm,confidence,arc_mm");
  EXPECT_EQ(test::runCordscope("analyze " + test::quote(input.string()) + " -o " +
                               test::quote(dir / "bad") + " --c2c3 1,2")
                .exitCode,
            2);
  // Conflicting or impossible options are refused before any work, in one line.
  for (const std::string& bad :
       {" --c2c3=-7,14,14 --discs " + test::quote(dir / "given/discs.csv"),
        std::string(" --extensive-segments 0"), std::string(" --c2c3=nan,14,14"),
        std::string(" --c2c3=-7,inf,14")}) {
    const auto refused = test::runCordscope("analyze " + test::quote(input.string()) + " -o " +
                                            test::quote(dir / "refused") + bad);
    EXPECT_EQ(refused.exitCode, 2) << bad << ": " << refused.err;
    EXPECT_NE(refused.err.find("cordscope: error:"), std::string::npos) << refused.err;
    EXPECT_FALSE(fs::exists(dir / "refused/report.json")) << bad;
  }
}

// --discs with a label image (the Spinal Cord Toolbox convention): PAM50's own disc labels name
// its levels exactly as given.
TEST(Cli, AnalyzeTakesDiscLabels) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const auto r = test::runCordscope(
      "analyze " + test::quote((data / "real/pam50-small/PAM50_small_t2.nii.gz").string()) +
      " -o " + test::quote(dir / "out") + " --discs " +
      test::quote((data / "real/pam50-small/PAM50_small_label_disc.nii.gz").string()));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::ifstream in(dir / "out/report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report["vertebrae"]["anchor"], "discs given");
  ASSERT_EQ(report["vertebrae"]["discs"].size(), 18u);  // labels 2 (C1/C2) to 19 (T11-T12)
  EXPECT_EQ(report["vertebrae"]["discs"][1]["name"], "C2-C3");
  EXPECT_EQ(report["vertebrae"]["discs"][1]["given"], true);
  const auto bad = test::runCordscope(
      "analyze " + test::quote((data / "real/pam50-small/PAM50_small_t2.nii.gz").string()) +
      " -o " + test::quote(dir / "bad") + " --discs " + test::quote(dir / "missing.csv"));
  EXPECT_EQ(bad.exitCode, 3) << bad.err;
  EXPECT_NE(bad.err.find("missing.csv"), std::string::npos);
}

// No cord in the image: one clear line, exit 1, and the outputs still written.
TEST(Cli, AnalyzeWithoutCordExitsOneAndKeepsOutputs) {
  test::TempDir dir;
  auto image = Image::New();
  Image::SizeType size{{40, 60, 50}};
  image->SetRegions(size);
  Image::SpacingType spacing;
  spacing.Fill(1.0);
  image->SetSpacing(spacing);
  image->Allocate();
  float* p = image->GetBufferPointer();
  for (std::size_t i = 0; i < 40 * 60 * 50; ++i) p[i] = 100.0f + static_cast<float>(i % 40);
  writeNifti(image.GetPointer(), dir / "flat.nii.gz");
  const auto r = test::runCordscope("analyze " + test::quote(dir / "flat.nii.gz") + " -o " +
                                    test::quote(dir / "out"));
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_NE(r.err.find("no spinal cord found"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal"), std::string::npos) << r.err;
  // One error line, naming the input and the quality verdict (warnings may precede it).
  int errors = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("cordscope: error:", 0) == 0) {
      ++errors;
      EXPECT_NE(line.find(dir / "flat.nii.gz"), std::string::npos) << line;
      EXPECT_NE(line.find("(quality control: fail)"), std::string::npos) << line;
    }
  EXPECT_EQ(errors, 1) << r.err;
  std::ifstream in(dir / "out/report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_FALSE(report["cord"]["found"].get<bool>());
  EXPECT_TRUE(report["cord"]["length_mm"].is_null());
  EXPECT_EQ(report["quality"]["verdict"], "fail");
  ASSERT_EQ(report["quality"]["reasons"].size(), 1u) << report["quality"];
  EXPECT_EQ(report["quality"]["reasons"][0]["code"], "cord_not_found");
  EXPECT_EQ(report["quality"]["reasons"][0]["severity"], "fail");
  EXPECT_TRUE(fs::exists(dir / "out/report.html"));
  EXPECT_TRUE(fs::exists(dir / "out/cord.nii.gz"));
  EXPECT_TRUE(fs::exists(dir / "out/centerline.csv"));
}

}  // namespace
}  // namespace cordscope
