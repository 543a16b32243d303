// Grouping, sorting, series choice and bad input, on series written by our DICOM writer.
#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>
#include <itkImageRegionIteratorWithIndex.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "TestSupport.h"
#include "data/DicomStructure.h"
#include "data/DicomWriter.h"
#include "data/Error.h"
#include "data/Input.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

enum class Plane { Sagittal, Axial };

Volume makeVolume(Plane plane, unsigned slices = 6, const std::string& description = "T2 TSE SAG") {
  auto image = Image::New();
  Image::RegionType region;
  region.SetSize({16, 20, slices});
  image->SetRegions(region);
  image->Allocate();
  Image::DirectionType d;
  d.Fill(0);
  if (plane == Plane::Sagittal) {
    d[1][0] = 1;
    d[2][1] = -1;
    d[0][2] = 1;
  } else {
    d.SetIdentity();
  }
  image->SetDirection(d);
  const double spacing[3] = {0.8, 0.8, 3.0};
  image->SetSpacing(spacing);
  for (itk::ImageRegionIteratorWithIndex<Image> it(image, region); !it.IsAtEnd(); ++it)
    it.Set(static_cast<float>(it.GetIndex()[2] * 100 + it.GetIndex()[1]));
  Volume v;
  v.image = image;
  v.meta.modality = "MR";
  v.meta.seriesDescription = description;
  v.meta.echoTimeMs = description.find("T2") != std::string::npos ? 100.0 : 10.0;
  v.meta.repetitionTimeMs = description.find("T2") != std::string::npos ? 3000.0 : 500.0;
  v.meta.patientAgeYears = 47;
  v.meta.studyDate = "20240115";
  return v;
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// Which input a file came through (the note on an assembled series, batch's join of a study's
// folders): by the path's text at a separator, never by a bare prefix.
TEST(DicomInput, PathWithinInput) {
  EXPECT_TRUE(isWithin("a/b/c.dcm", "a/b"));
  EXPECT_TRUE(isWithin("a/b/c.dcm", "a/b/"));
  EXPECT_TRUE(isWithin("a/b", "a/b"));
  EXPECT_FALSE(isWithin("a/bc/d.dcm", "a/b"));
  EXPECT_FALSE(isWithin("a", "a/b"));
  EXPECT_FALSE(isWithin("a/b", ""));
}

TEST(DicomInput, SortsByPositionNotByFileName) {
  TempDir dir;
  DicomWriteOptions options = test::uidSeeded("shuffled");
  options.shuffleFileNames = true;
  options.shuffleSeed = 7;
  const Volume written = makeVolume(Plane::Sagittal, 9);
  writeDicomSeries(written, dir / "s", options);
  const Volume read = loadInput(dir / "s");
  EXPECT_EQ(test::compareInWorld(written.image.GetPointer(), read.image.GetPointer(), 1e-5), "");
}

TEST(DicomInput, SkipsNonDicomAndDamagedFilesAndLoadsTheRest) {
  TempDir dir;
  const auto files =
      writeDicomSeries(makeVolume(Plane::Sagittal), dir / "s", test::uidSeeded("mixed"));
  std::ofstream(dir / "s/notes.txt") << "not an image\n";
  {
    std::ofstream random(dir / "s/random.dcm", std::ios::binary);
    for (int i = 0; i < 4000; ++i) random.put(static_cast<char>((i * 7919) % 251));
  }
  {  // A cut-off copy of a real slice, under another name.
    std::ifstream in(files[2], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir / "s/zz_cut.dcm", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  const Inventory inventory = scanInput(dir / "s");
  EXPECT_EQ(inventory.filesSkipped, 3u);
  ASSERT_EQ(inventory.series.size(), 1u);
  EXPECT_EQ(inventory.series[0].size[2], 6u);
  std::string warnings;
  for (const auto& w : inventory.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("notes.txt: not a DICOM file"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("random.dcm: not a DICOM file"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("zz_cut.dcm: truncated"), std::string::npos) << warnings;
  EXPECT_NO_THROW(loadSeries(inventory, 0));
}

// Headers that declare more than the file holds are skipped with the defect named, before any
// pixel buffer is allocated (Columns 65535 asked for gigabytes, NumberOfFrames 2^31 looped for
// minutes, BitsAllocated 12 tripped a GDCM assertion); the good slices load.
TEST(DicomInput, HeadersThatLieAreSkippedWithTheirDefect) {
  TempDir dir;
  const auto files =
      writeDicomSeries(makeVolume(Plane::Sagittal), dir / "s", test::uidSeeded("lying"));
  const auto edited = [&](const std::string& name, const std::function<void(DcmDataset&)>& edit) {
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile(files[1].c_str()).good());
    edit(*file.getDataset());
    ASSERT_TRUE(file.saveFile((dir / ("s/" + name)).c_str(), EXS_LittleEndianExplicit).good());
  };
  edited("zz_wide.dcm", [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_Columns, 65535); });
  edited("zz_frames.dcm",
         [](DcmDataset& ds) { ds.putAndInsertString(DCM_NumberOfFrames, "2147483648"); });
  edited("zz_bits.dcm", [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_BitsAllocated, 12); });
  const Inventory inventory = scanInput(dir / "s");
  EXPECT_EQ(inventory.filesSkipped, 3u);
  ASSERT_EQ(inventory.series.size(), 1u);
  EXPECT_EQ(inventory.series[0].size[2], 6u);
  std::string warnings;
  for (const auto& w : inventory.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("zz_wide.dcm: pixel data shorter than declared"), std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find("zz_frames.dcm: pixel data shorter than declared"), std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find("zz_bits.dcm: BitsAllocated 12 is not supported"), std::string::npos)
      << warnings;
  EXPECT_NO_THROW(loadSeries(inventory, 0));
}

// Sequences nested deeper than any real object (64) are skipped with their defect before a parser
// recurses into them: 100,000 deep crashed the batch parent (SIGSEGV) while it read headers. A
// real nesting depth (5) reads as before.
TEST(DicomInput, DeeplyNestedSequencesAreSkippedNotParsed) {
  TempDir dir;
  const auto files =
      writeDicomSeries(makeVolume(Plane::Sagittal, 6), dir / "s", test::uidSeeded("nested"));
  test::nestSequences(files[0], 5, true);
  test::nestSequences(files[1], 5, false);
  EXPECT_EQ(dicom::sequenceNestingDepth(files[0], dicom::kMaxSequenceNesting), 5u);
  EXPECT_EQ(dicom::sequenceNestingDepth(files[1], dicom::kMaxSequenceNesting), 5u);
  EXPECT_EQ(dicom::sequenceNestingDepth(files[2], dicom::kMaxSequenceNesting), 0u);
  const Inventory shallow = scanInput(dir / "s");
  EXPECT_EQ(shallow.filesSkipped, 0u);
  ASSERT_EQ(shallow.series.size(), 1u);
  EXPECT_EQ(shallow.series[0].size[2], 6u);

  const auto more =
      writeDicomSeries(makeVolume(Plane::Sagittal, 6), dir / "t", test::uidSeeded("nested-deep"));
  test::nestSequences(more[2], 100000, true);
  test::nestSequences(more[3], 65, false);
  EXPECT_EQ(dicom::sequenceNestingDepth(more[2], dicom::kMaxSequenceNesting),
            dicom::kMaxSequenceNesting + 1);
  const Inventory deep = scanInput(dir / "t");
  EXPECT_EQ(deep.filesSkipped, 2u);
  std::string warnings;
  for (const auto& w : deep.warnings) warnings += w + "\n";
  for (const auto& f : {more[2], more[3]})
    EXPECT_NE(warnings.find(f + ": sequences nested more than 64 deep"), std::string::npos)
        << warnings;
  ASSERT_EQ(deep.series.size(), 1u);
  EXPECT_FALSE(deep.series[0].loadable());  // two slices missing from the stack
}

// Geometry no scanner writes is skipped with what is wrong, never repaired in silence: a row and
// column 73 degrees apart, a column of length 0.95, an infinite pixel spacing (it crashed).
TEST(DicomInput, GeometryThatCannotBeTrueIsSkipped) {
  TempDir dir;
  const auto files =
      writeDicomSeries(makeVolume(Plane::Sagittal), dir / "s", test::uidSeeded("bent"));
  const auto edited = [&](const std::string& name, const DcmTagKey& tag, const char* value) {
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile(files[1].c_str()).good());
    file.getDataset()->putAndInsertString(tag, value);
    ASSERT_TRUE(file.saveFile((dir / ("s/" + name)).c_str(), EXS_LittleEndianExplicit).good());
  };
  edited("zz_skew.dcm", DCM_ImageOrientationPatient, "0\\1\\0\\0\\0.3\\-0.954");
  edited("zz_short.dcm", DCM_ImageOrientationPatient, "0\\1\\0\\0\\0\\-0.95");
  edited("zz_inf.dcm", DCM_PixelSpacing, "inf\\inf");
  const Inventory inventory = scanInput(dir / "s");
  std::string warnings;
  for (const auto& w : inventory.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("zz_skew.dcm: image orientation is not orthonormal"), std::string::npos)
      << warnings;
  EXPECT_NE(
      warnings.find(
          "zz_short.dcm: image orientation is not orthonormal (row length 1, column length 0.95"),
      std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find(
                "zz_inf.dcm: image position, orientation or pixel spacing is not a finite number"),
            std::string::npos)
      << warnings;
  ASSERT_EQ(inventory.series.size(), 1u);
  EXPECT_EQ(inventory.series[0].size[2], 6u);
  EXPECT_NO_THROW(loadSeries(inventory, 0));
}

TEST(DicomInput, RefusesAStackWithAMissingSlice) {
  TempDir dir;
  const auto files =
      writeDicomSeries(makeVolume(Plane::Sagittal, 8), dir / "s", test::uidSeeded("gap"));
  fs::remove(files[4]);
  EXPECT_NE(errorOf([&] { loadInput(dir / "s"); }).find("missing slice"), std::string::npos);
}

TEST(DicomInput, RefusesASingleSlice) {
  TempDir dir;
  writeDicomSeries(makeVolume(Plane::Sagittal, 1), dir / "s", test::uidSeeded("single"));
  EXPECT_NE(errorOf([&] { loadInput(dir / "s"); }).find("single 2D slice"), std::string::npos);
}

TEST(DicomInput, RefusesNonMrModality) {
  TempDir dir;
  Volume ct = makeVolume(Plane::Axial, 5, "CT NECK");
  ct.meta.modality = "CT";
  writeDicomSeries(ct, dir / "s", test::uidSeeded("ct"));
  const std::string error = errorOf([&] { loadInput(dir / "s"); });
  EXPECT_NE(error.find("cordscope analyses MR"), std::string::npos) << error;
  EXPECT_NE(error.find("CT"), std::string::npos) << error;
}

// A European archive's text is Latin-1 (SpecificCharacterSet ISO_IR 100, as the writer declares):
// it is read as UTF-8, so that JSON, CSV and HTML can hold it.
TEST(DicomInput, Latin1TextIsDecodedToUtf8) {
  TempDir dir;
  const Volume written = makeVolume(Plane::Sagittal, 6,
                                    "HWS S\xE4ule T2 m\xFC"
                                    "de");  // Latin-1 bytes
  writeDicomSeries(written, dir / "s", test::uidSeeded("latin1"));
  const Volume read = loadInput(dir / "s");
  EXPECT_EQ(read.meta.seriesDescription,
            "HWS S\xC3\xA4ule T2 m\xC3\xBC"
            "de");
  const Inventory inventory = scanInput(dir / "s");
  ASSERT_EQ(inventory.series.size(), 1u);
  EXPECT_NO_THROW(nlohmann::json(inventory.series.front()).dump());
}

TEST(DicomInput, EmptyFolderAndMissingPathAreClearErrors) {
  TempDir dir;
  fs::create_directories(dir / "empty");
  EXPECT_NE(errorOf([&] { scanInput(dir / "empty"); }).find("no DICOM or NIfTI files"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { scanInput(dir / "absent"); }).find("no such file or directory"),
            std::string::npos);
}

TEST(DicomInput, SplitsASeriesThatMixesOrientations) {
  TempDir dir;
  Volume sagittal = makeVolume(Plane::Sagittal, 5);
  Volume axial = makeVolume(Plane::Axial, 4);
  sagittal.meta.seriesInstanceUid = axial.meta.seriesInstanceUid = "1.2.3.4";
  sagittal.meta.studyInstanceUid = axial.meta.studyInstanceUid = "1.2.3";
  DicomWriteOptions first = test::uidSeeded("a"), second = test::uidSeeded("b");
  second.fileNamePrefix = "AX";
  writeDicomSeries(sagittal, dir / "s", first);
  writeDicomSeries(axial, dir / "s", second);
  const Inventory inventory = scanInput(dir / "s");
  ASSERT_EQ(inventory.series.size(), 2u);
  EXPECT_EQ(inventory.series[0].id, "1.2.3.4#1");
  EXPECT_NE(inventory.series[0].splitReason.find("orientations"), std::string::npos);
  const SeriesChoice choice = chooseSeries(inventory);
  EXPECT_EQ(inventory.series[choice.index].orientation, Orientation::Sagittal);
  // The bare UID is ambiguous now: the error says so and lists the stacks.
  EXPECT_NE(errorOf([&] { chooseSeries(inventory, "1.2.3.4"); }).find("split into 2"),
            std::string::npos);
  EXPECT_EQ(chooseSeries(inventory, "1.2.3.4#2").index, 1u);
}

TEST(DicomInput, SplitsEchoesAndLoadsFirstVolumeOf4D) {
  TempDir dir;
  Volume echo1 = makeVolume(Plane::Sagittal, 5), echo2 = makeVolume(Plane::Sagittal, 5);
  echo1.meta.seriesInstanceUid = echo2.meta.seriesInstanceUid = "1.2.3.5";
  echo2.meta.echoTimeMs = 120.0;
  DicomWriteOptions o2 = test::uidSeeded("e2");
  o2.fileNamePrefix = "E2";
  writeDicomSeries(echo1, dir / "echo", test::uidSeeded("e1"));
  writeDicomSeries(echo2, dir / "echo", o2);
  EXPECT_EQ(scanInput(dir / "echo").series.size(), 2u);

  Volume t1 = makeVolume(Plane::Sagittal, 5), t2 = makeVolume(Plane::Sagittal, 5);
  t1.meta.seriesInstanceUid = t2.meta.seriesInstanceUid = "1.2.3.6";
  t2.image->FillBuffer(9);
  DicomWriteOptions p1 = test::uidSeeded("t1"), p2 = test::uidSeeded("t2");
  p1.temporalPosition = 1;
  p2.temporalPosition = 2;
  p2.fileNamePrefix = "T2";
  p2.instanceNumberOffset = 100;
  writeDicomSeries(t1, dir / "4d", p1);
  writeDicomSeries(t2, dir / "4d", p2);
  const Inventory inventory = scanInput(dir / "4d");
  ASSERT_EQ(inventory.series.size(), 1u);
  EXPECT_EQ(inventory.series[0].volumeCount, 2u);
  const Volume first = loadSeries(inventory, 0);
  EXPECT_EQ(test::compareInWorld(t1.image.GetPointer(), first.image.GetPointer(), 1e-5), "");
  ASSERT_FALSE(first.warnings.empty());
  EXPECT_NE(first.warnings.front().find("only the first volume"), std::string::npos);
}

// One 12-slice stack exported as two series, odd and even slices (issue 23: the half was
// analysed as a study at 6 mm spacing and read ADI 6.5 mm on a normal neck). They are kept apart,
// each named in the other's notes, which reach the loaded volume's warnings; a third series of
// the study on the same grid but shifted by a whole slice (a repeat) is not called interleaved.
TEST(DicomInput, InterleavedSeriesAreNotedAndNotMixed) {
  TempDir dir;
  const auto files =
      writeDicomSeries(makeVolume(Plane::Sagittal, 12), dir / "s", test::uidSeeded("whole"));
  ASSERT_EQ(files.size(), 12u);
  const auto read = [](const fs::path& path, const DcmTagKey& tag) {
    DcmFileFormat file;
    OFString value;
    EXPECT_TRUE(file.loadFile(path.c_str()).good());
    file.getDataset()->findAndGetOFString(tag, value);
    return std::string(value.c_str());
  };
  const auto rewrite = [](const fs::path& path, const DcmTagKey& tag, const std::string& value) {
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile(path.c_str()).good());
    file.getDataset()->putAndInsertString(tag, value.c_str());
    ASSERT_TRUE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
  };
  const std::string studyUid = read(files[0], DCM_StudyInstanceUID);
  const std::string wholeUid = read(files[0], DCM_SeriesInstanceUID);
  const std::string otherUid = "2.25.4242424242";
  for (std::size_t i = 1; i < files.size(); i += 2) {
    rewrite(files[i], DCM_SeriesInstanceUID, otherUid);
    rewrite(files[i], DCM_SeriesNumber, "3");
  }
  Volume shifted = makeVolume(Plane::Sagittal, 6);
  auto origin = shifted.image->GetOrigin();
  origin[0] += 3.0;
  shifted.image->SetOrigin(origin);
  for (const auto& f : writeDicomSeries(shifted, dir / "s/repeat", test::uidSeeded("repeat")))
    rewrite(f, DCM_StudyInstanceUID, studyUid);
  const std::string repeatUid =
      read(dir / "s/repeat" / fs::path(files[0]).filename(), DCM_SeriesInstanceUID);

  const Inventory inventory = scanInput(dir / "s");
  ASSERT_EQ(inventory.series.size(), 3u);
  for (const SeriesEntry& s : inventory.series) {
    std::string notes;
    for (const std::string& n : s.notes) notes += n + "\n";
    EXPECT_EQ(s.size[2], 6u);
    EXPECT_EQ(s.meta.studyInstanceUid, studyUid);
    if (s.meta.seriesInstanceUid == repeatUid) {
      EXPECT_EQ(notes.find("interleave"), std::string::npos) << notes;
      continue;
    }
    const std::string other = s.meta.seriesInstanceUid == otherUid ? wholeUid : otherUid;
    EXPECT_NE(notes.find("interleave with those of series"), std::string::npos) << notes;
    EXPECT_NE(notes.find("(" + other + ")"), std::string::npos) << notes;
    EXPECT_NE(notes.find("not mixed"), std::string::npos) << notes;
    EXPECT_EQ(notes.find(repeatUid), std::string::npos) << notes;
  }
  const Volume half = loadSeries(inventory, chooseSeries(inventory, otherUid).index);
  EXPECT_NEAR(half.image->GetSpacing()[2], 6.0, 1e-3);
  std::string warnings;
  for (const auto& w : half.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("interleave with those of series"), std::string::npos) << warnings;
}

TEST(DicomInput, ChoosesTheSagittalT2AmongSeveral) {
  TempDir dir;
  writeDicomSeries(makeVolume(Plane::Axial, 5, "T1 SE AX"), dir / "study/ax",
                   test::uidSeeded("ax"));
  writeDicomSeries(makeVolume(Plane::Sagittal, 5, "T1 SE SAG"), dir / "study/t1",
                   test::uidSeeded("t1"));
  writeDicomSeries(makeVolume(Plane::Sagittal, 7, "T2 TSE SAG"), dir / "study/t2",
                   test::uidSeeded("t2"));
  const Inventory inventory = scanInput(dir / "study");
  ASSERT_EQ(inventory.series.size(), 3u);
  const SeriesChoice choice = chooseSeries(inventory);
  EXPECT_EQ(inventory.series[choice.index].meta.seriesDescription, "T2 TSE SAG");
  EXPECT_NE(choice.reason.find("sagittal T2"), std::string::npos);

  fs::remove_all(dir / "study/t2");
  const std::string error = errorOf([&] { chooseSeries(scanInput(dir / "study")); });
  EXPECT_NE(error.find("none is a sagittal T2"), std::string::npos) << error;
  EXPECT_NE(error.find("T1 SE AX"), std::string::npos) << error;
}

}  // namespace
}  // namespace cordscope
