// The malformed-input corpus of issue 23, generated: one file per family of defect a hostile or
// damaged archive holds, each given to the command line as a user would, with the exit code and
// the one-line message asserted. The corpus is made from a phantom series (DCMTK edits, bytes cut
// or replaced) so that it follows the writer; fuzz/corpus/ holds what the fuzzers found.
#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "TestSupport.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;
using test::quote;
using test::runCordscope;

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void writeBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

struct Family {
  std::string name;
  std::function<fs::path(const fs::path& dir)> make;  // returns the input
  std::string command;                                // "info", "convert" or "analyze"
  int exitCode;
  std::string message;  // in stderr
};

TEST(Malformed, EveryFamilyGetsItsExitCodeAndOneLine) {
  test::TempDir dir;
  ASSERT_EQ(runCordscope("phantom -o " + quote(dir / "p") + " --seed 11").exitCode, 0);
  std::vector<fs::path> slices;
  for (const auto& f : fs::directory_iterator(dir / "p/dicom")) slices.push_back(f.path());
  std::sort(slices.begin(), slices.end());
  ASSERT_EQ(
      runCordscope("convert " + quote(dir / "p/dicom") + " -o " + quote(dir / "p.nii")).exitCode,
      0);
  const std::string slice = readBytes(slices[7]), nifti = readBytes(dir / "p.nii");

  const auto edited = [&](const std::string& name, const std::function<void(DcmDataset&)>& edit) {
    return [=](const fs::path& d) {
      DcmFileFormat file;
      EXPECT_TRUE(file.loadFile(slices[7].c_str()).good());
      edit(*file.getDataset());
      EXPECT_TRUE(file.saveFile((d / name).c_str(), EXS_LittleEndianExplicit).good());
      return d / name;
    };
  };
  const auto bytes = [&](const std::string& name, const std::function<std::string()> make) {
    return [=](const fs::path& d) {
      writeBytes(d / name, make());
      return d / name;
    };
  };
  const auto niftiWith = [&](std::size_t offset, const std::string& value) {
    std::string b = nifti;
    b.replace(offset, value.size(), value);
    return b;
  };
  const auto f32 = [](float v) { return std::string(reinterpret_cast<const char*>(&v), 4); };

  const std::vector<Family> families = {
      {"random bytes named .dcm",
       bytes("random.dcm",
             [] {
               std::mt19937 r(3);
               std::string s(5000, 0);
               for (char& c : s) c = static_cast<char>(r());
               return s;
             }),
       "info", 3, "not a DICOM file"},
      {"DICOM cut inside the pixel data",
       bytes("cut.dcm", [&] { return slice.substr(0, slice.size() * 6 / 10); }), "info", 3,
       "cut.dcm: "},
      {"Columns 65535",
       edited("wide.dcm", [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_Columns, 65535); }),
       "info", 3, "pixel data shorter than declared"},
      {"NumberOfFrames 2^31",
       edited("frames.dcm",
              [](DcmDataset& ds) { ds.putAndInsertString(DCM_NumberOfFrames, "2147483648"); }),
       "info", 3, "pixel data shorter than declared"},
      {"BitsAllocated 12",
       edited("bits.dcm", [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_BitsAllocated, 12); }),
       "info", 3, "BitsAllocated 12 is not supported"},
      {"orientation not orthonormal",
       edited("skew.dcm",
              [](DcmDataset& ds) {
                ds.putAndInsertString(DCM_ImageOrientationPatient, "0\\1\\0\\0\\0.3\\-0.954");
              }),
       "info", 3, "image orientation is not orthonormal"},
      {"RescaleSlope 0 (GDCM asserted: fuzz_dicom_folder)",
       edited("slope.dcm", [](DcmDataset& ds) { ds.putAndInsertString(DCM_RescaleSlope, "0"); }),
       "info", 3, "RescaleSlope '0' is not a usable number"},
      {"RescaleIntercept without RescaleSlope (GDCM asserted: fuzz_dicom_folder)",
       edited("intercept.dcm",
              [](DcmDataset& ds) {
                ds.putAndInsertString(DCM_RescaleIntercept, "0");
                ds.findAndDeleteElement(DCM_RescaleSlope);
              }),
       "info", 3, "RescaleIntercept without RescaleSlope"},
      {"PixelSpacing inf",
       edited("inf.dcm",
              [](DcmDataset& ds) { ds.putAndInsertString(DCM_PixelSpacing, "inf\\inf"); }),
       "info", 3, "not a finite number"},
      {"sequences nested 100,000 deep",
       [&](const fs::path& d) {
         fs::copy_file(slices[7], d / "nested.dcm");
         test::nestSequences(d / "nested.dcm", 100000, true);
         return d / "nested.dcm";
       },
       "info", 3, "sequences nested more than 64 deep"},
      {"NIfTI pixdim NaN", bytes("nanpix.nii", [&] { return niftiWith(80, f32(std::nanf(""))); }),
       "info", 3, "voxel size (pixdim) is not a number"},
      {"NIfTI declaring more than the file",
       bytes("short.nii", [&] { return nifti.substr(0, nifti.size() / 2); }), "info", 3,
       "truncated: the NIfTI header declares"},
      {"NIfTI .gz cut at 60 %",
       [&](const fs::path& d) {
         ([&] {
           gzFile out = gzopen((d / "whole.nii.gz").c_str(), "wb1");
           gzwrite(out, nifti.data(), static_cast<unsigned>(nifti.size()));
           gzclose(out);
         })();
         const std::string gz = readBytes(d / "whole.nii.gz");
         writeBytes(d / "cut.nii.gz", gz.substr(0, gz.size() * 6 / 10));
         return d / "cut.nii.gz";
       },
       "info", 3, "truncated"},
      {"NIfTI without magic (Analyze)",
       bytes("analyze.nii", [&] { return niftiWith(344, std::string("xx1\0", 4)); }), "info", 3,
       "not a NIfTI-1 file"},
      {"header size not 348",
       bytes("size.nii", [&] { return niftiWith(0, std::string("\x00\x5c\x01\x5c", 4)); }), "info",
       3, "not a NIfTI file (its header size is not 348)"},
      {"NIfTI-2",
       bytes("two.nii", [&] { return niftiWith(0, std::string("\x1c\x02\x00\x00", 4)); }), "info",
       3, "a NIfTI-2 header"},
      {"NIfTI sform with a 6e12 mm voxel edge (ITK's SVD of such a matrix never returned: "
       "fuzz_nifti)",
       bytes(
           "sform.nii",
           [&] { return niftiWith(254, std::string("\x01\x00", 2)).replace(280, 4, f32(6e12f)); }),
       "info", 3, "NIfTI orientation (sform) makes a voxel edge 6e+12 mm long"},
      {"NIfTI pixdim 0 (ITK made it 1 mm)",
       bytes("zeropix.nii", [&] { return niftiWith(80, f32(0.0f)); }), "info", 3,
       "NIfTI voxel size (pixdim[1]) is 0 mm, not a voxel size"},
      {"NIfTI without orientation",
       bytes("noform.nii", [&] { return niftiWith(252, std::string(4, '\0')); }), "convert", 0,
       "warning: no orientation in the NIfTI header"},
      {"a cord mask given as the image (analysed, it was a \"cord\" in a T1-like image)",
       [&](const fs::path& d) {
         fs::copy_file(dir.path() / "p/truth/cord.nii.gz", d / "cord.nii.gz");
         return d / "cord.nii.gz";
       },
       "analyze", 3, "holds only 2 distinct values: a mask or label map, not an MR image"},
      {"a FIFO",
       [](const fs::path& d) {
         ::mkfifo((d / "fifo.nii").c_str(), 0600);
         return d / "fifo.nii";
       },
       "info", 3, "not a regular file"},
  };
  for (const Family& family : families) {
    const fs::path case_ = dir.path() / ("case" + std::to_string(&family - families.data()));
    fs::create_directories(case_);
    const fs::path input = family.make(case_);
    std::string command = family.command + " " + quote(input.string());
    if (family.command == "convert") command += " -o " + quote((case_ / "out.nii.gz").string());
    if (family.command == "analyze")
      command += " -o " + quote((case_ / "out").string()) + " --no-render";
    const test::CommandResult r = runCordscope(command);
    EXPECT_EQ(r.exitCode, family.exitCode) << family.name << ": " << r.err;
    EXPECT_NE(r.err.find(family.message), std::string::npos) << family.name << ": " << r.err;
    if (family.exitCode != 0) {
      // One line: cordscope's own, naming the file, and no library chatter before it.
      EXPECT_EQ(r.err.rfind("cordscope: error: ", 0), 0u) << family.name << ": " << r.err;
      EXPECT_NE(r.err.find(input.filename().string()), std::string::npos)
          << family.name << ": " << r.err;
    }
  }
}

}  // namespace
}  // namespace cordscope

namespace cordscope {
namespace {

// Issue 23's first finding: a valid study whose patient name has umlauts (SpecificCharacterSet
// ISO_IR 100, Latin-1 bytes) failed with "invalid UTF-8 byte". Now it is analysed and the name is
// shown as written - in report.html (where the radiologist checks whose study it is), in
// report.json and by `info` - and left out with --anonymize.
TEST(Malformed, Latin1PatientNameIsShownInTheReport) {
  test::TempDir dir;
  ASSERT_EQ(runCordscope("phantom -o " + quote(dir / "p") + " --seed 12").exitCode, 0);
  for (const auto& f : fs::directory_iterator(dir / "p/dicom")) {
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile(f.path().c_str()).good());
    ASSERT_TRUE(file.loadAllDataIntoMemory().good());  // saved over the file it was read from
    DcmDataset& ds = *file.getDataset();
    ASSERT_TRUE(ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100").good());
    ASSERT_TRUE(
        ds.putAndInsertString(DCM_PatientName, "M\xFCller^J\xFCrgen^Sch\xF6n").good());  // Latin-1
    ASSERT_TRUE(file.saveFile(f.path().c_str(), EXS_LittleEndianExplicit).good());
  }
  const std::string utf8 = "M\xC3\xBCller, J\xC3\xBCrgen Sch\xC3\xB6n";
  const auto r = runCordscope("analyze " + quote(dir / "p/dicom") + " -o " + quote(dir / "out") +
                              " --no-render --quiet");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const std::string html = readBytes(dir.path() / "out/report.html");
  EXPECT_NE(html.find("<b>" + utf8 + "</b>"), std::string::npos);
  const nlohmann::json report = nlohmann::json::parse(readBytes(dir.path() / "out/report.json"));
  EXPECT_EQ(report["input"]["metadata"]["patient_name"], utf8);
  const auto info = runCordscope("info --json " + quote(dir / "p/dicom"));
  ASSERT_EQ(info.exitCode, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out)["series"][0]["metadata"]["patient_name"], utf8);

  const auto anonymous = runCordscope("analyze " + quote(dir / "p/dicom") + " -o " +
                                      quote(dir / "anon") + " --no-render --quiet --anonymize");
  ASSERT_EQ(anonymous.exitCode, 0) << anonymous.err;
  for (const char* name : {"report.html", "report.json"}) {
    const std::string text = readBytes(dir.path() / "anon" / name);
    EXPECT_EQ(text.find("ller"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace cordscope
