// `analyze --dicom-out` (issue 19), end to end through the binary: every object written passes
// dciodvfy (dicom3tools) without an error, dcmdump and dsrdump read them, the SEG read back with
// DCMTK lies on the source grid and equals cord/canal/lesion/levels.nii.gz voxel for voxel, and
// the SR's numbers equal report.json's. On the default sagittal phantom, the demo study (a long
// lesion, ADI 5 mm), an axial phantom and the real DICOM series in ../shared/data.
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/oflog/oflog.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "TestSupport.h"
#include "data/Input.h"
#include "data/Levels.h"
#include "data/Nifti.h"
#include "measurement/Analysis.h"
#include "visualization/DicomExport.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

std::string text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  item.findAndGetOFStringArray(tag, value);
  return value.c_str();
}

struct Validation {
  int errors = 0, warnings = 0;
  std::string log;
};

// dciodvfy's verdict on one file: its "Error" and "Warning" lines counted.
Validation dciodvfy(const fs::path& file) {
  const test::CommandResult r = test::runShell("dciodvfy " + test::quote(file.string()));
  Validation v;
  std::stringstream lines(r.out + r.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Error", 0) == 0) ++v.errors;
    if (line.rfind("Warning", 0) == 0) ++v.warnings;
    if (line.rfind("Error", 0) == 0 || line.rfind("Warning", 0) == 0) v.log += line + "\n";
  }
  return v;
}

// Every object in OUTDIR/dicom: dciodvfy without errors (warnings printed for the record),
// dcmdump reads it; returns the files by SOP class.
std::map<std::string, std::vector<fs::path>> validateObjects(const fs::path& dicomDir) {
  std::map<std::string, std::vector<fs::path>> bySopClass;
  for (const auto& entry : fs::directory_iterator(dicomDir)) {
    const fs::path file = entry.path();
    EXPECT_EQ(file.extension(), ".dcm") << file << ": only DICOM objects in the folder";
    const Validation v = dciodvfy(file);
    EXPECT_EQ(v.errors, 0) << file.filename() << ":\n" << v.log;
    std::cout << "[ dciodvfy ] " << dicomDir.parent_path().filename().string() << "/"
              << file.filename().string() << ": " << v.errors << " errors, " << v.warnings
              << " warnings\n"
              << v.log;
    EXPECT_EQ(test::runShell("dcmdump " + test::quote(file.string())).exitCode, 0) << file;
    DcmFileFormat dcm;
    EXPECT_TRUE(dcm.loadFile(file.c_str()).good()) << file;
    bySopClass[text(*dcm.getDataset(), DCM_SOPClassUID)].push_back(file);
  }
  return bySopClass;
}

// The voxel grid of a NIfTI mask, to place the SEG's frames by their positions alone.
struct Grid {
  Mask::Pointer mask;
  std::size_t nx = 0, ny = 0, nz = 0;
  // The slice a frame at `position` (LPS) is, or -1 when it is no slice of the grid.
  long sliceAt(const double position[3]) const {
    const auto origin = mask->GetOrigin();
    const auto d = mask->GetDirection();
    const auto s = mask->GetSpacing();
    double along[3] = {0, 0, 0};
    for (int axis = 0; axis < 3; ++axis)
      for (int r = 0; r < 3; ++r) along[axis] += (position[r] - origin[r]) * d[r][axis];
    const double k = along[2] / s[2];
    if (std::abs(along[0]) > 1e-3 || std::abs(along[1]) > 1e-3) return -1;
    if (std::abs(k - std::round(k)) > 1e-3 || k < -0.5 || k > nz - 0.5) return -1;
    return std::lround(k);
  }
};

Grid gridOf(const fs::path& nifti) {
  Grid g;
  g.mask = readMask(nifti.string());
  const auto size = g.mask->GetLargestPossibleRegion().GetSize();
  g.nx = size[0];
  g.ny = size[1];
  g.nz = size[2];
  return g;
}

// One segment of the SEG painted back onto `grid` (0/1), from its frames' positions.
std::vector<unsigned char> paintSegment(DcmSegmentation& seg, std::size_t number, const Grid& grid,
                                        const std::string& where) {
  std::vector<unsigned char> painted(grid.nx * grid.ny * grid.nz, 0);
  OFVector<size_t> frames;
  seg.getFramesForSegment(number, frames);
  EXPECT_FALSE(frames.empty()) << where << ": segment " << number << " has no frame";
  for (size_t frameNo : frames) {
    FGPlanePosPatient* position = OFstatic_cast(
        FGPlanePosPatient*, seg.getFunctionalGroups().get(OFstatic_cast(Uint32, frameNo),
                                                          DcmFGTypes::EFG_PLANEPOSPATIENT));
    EXPECT_NE(position, nullptr) << where;
    if (!position) continue;
    Float64 xyz[3];
    EXPECT_TRUE(position->getImagePositionPatient(xyz[0], xyz[1], xyz[2]).good()) << where;
    const long k = grid.sliceAt(xyz);
    EXPECT_GE(k, 0) << where << ": frame " << frameNo << " is not on the source grid";
    if (k < 0) continue;
    const DcmIODTypes::Frame* frame = seg.getFrame(frameNo);
    EXPECT_NE(frame, nullptr) << where;
    if (!frame) continue;
    const std::size_t pixels = grid.nx * grid.ny;
    std::unique_ptr<DcmIODTypes::Frame> unpacked;
    const Uint8* bytes = frame->pixData;
    if (frame->length != pixels) {  // stored bit-packed: one bit per pixel
      unpacked.reset(DcmSegUtils::unpackBinaryFrame(frame, static_cast<Uint16>(grid.ny),
                                                    static_cast<Uint16>(grid.nx)));
      EXPECT_NE(unpacked, nullptr) << where;
      if (!unpacked) continue;
      bytes = unpacked->pixData;
    }
    for (std::size_t i = 0; i < pixels; ++i) painted[k * pixels + i] = bytes[i] != 0;
  }
  return painted;
}

// Voxels of `expected` (value == label, or non-zero when label is 0) against `painted`: the
// Dice coefficient, after counting the voxels that differ.
double diceAgainst(const std::vector<unsigned char>& painted, const Grid& expected, int label,
                   std::size_t& differing) {
  const unsigned char* v = expected.mask->GetBufferPointer();
  std::size_t both = 0, a = 0, b = 0;
  differing = 0;
  for (std::size_t i = 0; i < painted.size(); ++i) {
    const bool in = label == 0 ? v[i] != 0 : v[i] == label;
    a += in;
    b += painted[i];
    both += in && painted[i];
    differing += in != (painted[i] != 0);
  }
  return a + b == 0 ? 1.0 : 2.0 * both / (a + b);
}

// The SEG read back equals the masks analyze wrote beside it, voxel for voxel, and refers to the
// source study and series. Returns the segment labels it holds.
std::vector<std::string> checkSegmentation(const fs::path& segFile, const fs::path& outDir,
                                           const nlohmann::json& report) {
  DcmSegmentation* loaded = nullptr;
  EXPECT_TRUE(DcmSegmentation::loadFile(segFile.c_str(), loaded).good()) << segFile;
  std::unique_ptr<DcmSegmentation> seg(loaded);
  if (!seg) return {};
  const std::string where = segFile.string();
  OFString study;
  seg->getStudy().getStudyInstanceUID(study);
  EXPECT_EQ(study.c_str(), report["input"]["metadata"]["study_instance_uid"].get<std::string>());
  OFString series;
  seg->getSeries().getSeriesInstanceUID(series);
  EXPECT_NE(series.c_str(), report["input"]["series_instance_uid"].get<std::string>());
  const std::map<std::string, Grid> grids = {{"cord", gridOf(outDir / "cord.nii.gz")},
                                             {"canal", gridOf(outDir / "canal.nii.gz")},
                                             {"lesion", gridOf(outDir / "lesion.nii.gz")},
                                             {"levels", gridOf(outDir / "levels.nii.gz")}};
  std::vector<std::string> labels;
  std::map<std::string, std::set<int>> expectedLabels;  // every label of every mask has a segment
  for (const auto& [name, grid] : grids) {
    const unsigned char* v = grid.mask->GetBufferPointer();
    for (std::size_t i = 0; i < grid.nx * grid.ny * grid.nz; ++i)
      if (v[i]) expectedLabels[name].insert(name == "lesion" || name == "levels" ? v[i] : 0);
  }
  for (size_t n = 1; n <= seg->getNumberOfSegments(); ++n) {
    DcmSegment* segment = seg->getSegment(n);
    OFString label;
    segment->getSegmentLabel(label);
    labels.push_back(label.c_str());
    std::string mask;
    int value = 0;
    const std::string l = label.c_str();
    if (l == "Spinal cord") mask = "cord";
    if (l == "Spinal canal") mask = "canal";
    if (l.rfind("Lesion ", 0) == 0) mask = "lesion", value = std::stoi(l.substr(7));
    if (l.rfind("Cord at ", 0) == 0) mask = "levels", value = parseLevel(l.substr(8));
    EXPECT_FALSE(mask.empty()) << where << ": unexpected segment '" << l << "'";
    if (mask.empty()) continue;
    std::size_t differing = 0;
    const double d =
        diceAgainst(paintSegment(*seg, n, grids.at(mask), where), grids.at(mask), value, differing);
    std::cout << "[ SEG      ] " << segFile.parent_path().parent_path().filename().string()
              << " segment " << n << " '" << l << "': Dice " << d << ", " << differing
              << " voxels differ\n";
    EXPECT_EQ(differing, 0u) << where << ": segment '" << l << "'";
    EXPECT_DOUBLE_EQ(d, 1.0) << where << ": segment '" << l << "'";
    expectedLabels[mask].erase(value);
  }
  for (const auto& [mask, left] : expectedLabels)
    EXPECT_TRUE(left.empty()) << where << ": " << mask << ".nii.gz labels without a segment";
  return labels;
}

// Every SEG frame derives from the source image at its position: the same SOP Instance (and, in a
// multi-frame source, the same frame number), as the source series lists them.
void checkSourceReferences(const fs::path& segFile, const SeriesEntry& series) {
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(segFile.c_str()).good()) << segFile;
  DcmSequenceOfItems* frames = nullptr;
  ASSERT_TRUE(
      file.getDataset()->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).good());
  ASSERT_NE(frames, nullptr);
  for (unsigned long i = 0; i < frames->card(); ++i) {
    DcmItem* frame = frames->getItem(i);
    DcmItem *plane = nullptr, *derivation = nullptr, *sourceImage = nullptr;
    ASSERT_TRUE(frame->findAndGetSequenceItem(DCM_PlanePositionSequence, plane).good());
    ASSERT_TRUE(frame->findAndGetSequenceItem(DCM_DerivationImageSequence, derivation).good());
    ASSERT_TRUE(derivation->findAndGetSequenceItem(DCM_SourceImageSequence, sourceImage).good());
    double position[3];
    for (unsigned long c = 0; c < 3; ++c)
      ASSERT_TRUE(plane->findAndGetFloat64(DCM_ImagePositionPatient, position[c], c).good());
    const DicomFrame* expected = nullptr;
    for (const DicomFrame& f : series.frames)
      if (std::abs(f.position[0] - position[0]) < 1e-4 &&
          std::abs(f.position[1] - position[1]) < 1e-4 &&
          std::abs(f.position[2] - position[2]) < 1e-4)
        expected = &f;
    ASSERT_NE(expected, nullptr) << segFile << ": frame " << i + 1 << " at no source position";
    const auto slash = expected->sopInstanceUid.find('/');
    EXPECT_EQ(text(*sourceImage, DCM_ReferencedSOPInstanceUID),
              expected->sopInstanceUid.substr(0, slash))
        << segFile << ": frame " << i + 1;
    EXPECT_EQ(text(*sourceImage, DCM_ReferencedFrameNumber),
              slash == std::string::npos ? "" : std::to_string(expected->frame + 1))
        << segFile << ": frame " << i + 1;
  }
}

// The SR's numbers by group (tracking identifier) and concept code value.
std::map<std::string, std::map<std::string, double>> srNumbers(const fs::path& srFile) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(srFile.c_str()).good()) << srFile;
  DSRDocument doc;
  EXPECT_TRUE(doc.read(*file.getDataset()).good()) << srFile;
  std::map<std::string, std::map<std::string, double>> numbers;
  DSRDocumentTree& tree = doc.getTree();
  std::string group = "(report)";
  if (tree.gotoRoot() == 0) return numbers;
  do {
    DSRContentItem& item = tree.getCurrentContentItem();
    const DSRCodedEntryValue& concept = item.getConceptName();
    if (concept.getCodeValue() == "112039" && item.getValueType() == DSRTypes::VT_Text)
      group = item.getStringValue().c_str();
    if (item.getValueType() == DSRTypes::VT_Num)
      numbers[group][concept.getCodeValue().c_str()] =
          std::stod(item.getNumericValue().getNumericValue().c_str());
  } while (tree.iterate());
  return numbers;
}

// Equal to the printed precision: report.json's own digits (it rounds most values to 0.01),
// else the 16 characters a DICOM decimal string holds (14 significant digits or more).
void expectSame(double sr, const nlohmann::json& json, const std::string& what) {
  ASSERT_TRUE(json.is_number()) << what;
  const double expected = json.get<double>();
  EXPECT_NEAR(sr, expected, 1e-12 * std::max(1.0, std::abs(expected)) + 1e-13) << what;
}

// Every number report.json gives for the lesions, the levels and the junction is in the SR,
// with the same value.
void checkReportNumbers(const fs::path& srFile, const nlohmann::json& report) {
  const auto numbers = srNumbers(srFile);
  int checked = 0;  // values report.json gives (null ones are not measured, so not in the SR)
  const auto expectIn = [&](const std::string& group, const std::string& code,
                            const nlohmann::json& value, const std::string& what) {
    if (value.is_null()) return;
    ++checked;
    const auto g = numbers.find(group);
    ASSERT_NE(g, numbers.end()) << srFile << ": no measurement group '" << group << "'";
    const auto n = g->second.find(code);
    ASSERT_NE(n, g->second.end()) << srFile << ": '" << group << "' lacks " << what;
    expectSame(n->second, value, group + " " + what);
  };
  for (const auto& lesion : report["lesions"]) {
    const std::string group = "cord lesion " + std::to_string(lesion["id"].get<int>());
    expectIn(group, "410668003", lesion["length_mm"], "length_mm");
    expectIn(group, "118565006", lesion["volume_mm3"], "volume_mm3");
    expectIn(group, "SEGSPAN", lesion["segments_spanned"], "segments_spanned");
    expectIn(group, "SEGEQUIV", lesion["segments_equivalent"], "segments_equivalent");
  }
  for (const auto& level : report["cord"]["levels"]) {
    const std::string group = "cord at " + level["level"].get<std::string>();
    expectIn(group, "CSA", level["csa_mm2"], "csa_mm2");
    expectIn(group, "CORDAP", level["ap_mm"], "ap_mm");
    expectIn(group, "CORDRL", level["rl_mm"], "rl_mm");
    expectIn(group, "CSAZ", level["csa_z"], "csa_z");
    expectIn(group, "CORDAPZ", level["ap_z"], "ap_z");
    expectIn(group, "CANALAREA", level["canal_area_mm2"], "canal_area_mm2");
  }
  const auto& cc = report["craniocervical"];
  if (cc["measured"].get<bool>()) {
    expectIn("craniocervical junction", "ADI", cc["adi_mm"], "adi_mm");
    expectIn("craniocervical junction", "PADI", cc["padi_mm"], "padi_mm");
    expectIn("craniocervical junction", "SAC", cc["sac_soft_tissue_mm"], "sac_soft_tissue_mm");
    expectIn("craniocervical junction", "MCRAE", cc["dens_tip_below_mcrae_mm"], "McRae");
    expectIn("craniocervical junction", "RANAWAT", cc["ranawat_mm"], "ranawat_mm");
  }
  std::cout << "[ SR       ] " << srFile.parent_path().parent_path().filename().string() << ": "
            << checked << " report.json numbers compared\n";
}

// analyze --dicom-out on `input`, then every check above. Returns report.json.
// `source` is the DICOM folder analysed (the input, or the demo's study).
nlohmann::json analyzeAndValidate(const std::string& input, const fs::path& out,
                                  const std::string& extra = "--no-render",
                                  const fs::path& source = {}) {
  const test::CommandResult r =
      test::runShell("env -u DISPLAY " + test::quote(CORDSCOPE_BINARY) + " analyze " + input +
                     " -o " + test::quote(out.string()) + " --dicom-out --quiet " + extra);
  EXPECT_TRUE(r.exitCode == 0 || r.exitCode == 1) << r.err;
  const nlohmann::json report = test::readJson(out / "report.json");
  EXPECT_TRUE(report["cord"]["found"].get<bool>()) << input;
  const auto objects = validateObjects(out / "dicom");
  const auto seg = objects.find(UID_SegmentationStorage);
  const auto sr = objects.find(UID_EnhancedSRStorage);
  const auto sc = objects.find(UID_SecondaryCaptureImageStorage);
  EXPECT_TRUE(seg != objects.end() && seg->second.size() == 1) << "one SEG";
  EXPECT_TRUE(sr != objects.end() && sr->second.size() == 1) << "one SR";
  EXPECT_TRUE(sc != objects.end() && !sc->second.empty()) << "key images";
  if (seg != objects.end()) {
    const auto labels = checkSegmentation(seg->second.front(), out, report);
    EXPECT_GE(labels.size(), 2u);
    const Inventory inventory = scanInput(source.empty() ? out / "demo-input/dicom" : source);
    checkSourceReferences(seg->second.front(), inventory.series[chooseSeries(inventory).index]);
  }
  if (sr != objects.end()) {
    const test::CommandResult dump = test::runShell("dsrdump " + test::quote(sr->second.front()));
    EXPECT_EQ(dump.exitCode, 0) << dump.err;
    EXPECT_NE(dump.out.find("Imaging Measurement Report"), std::string::npos);
    checkReportNumbers(sr->second.front(), report);
  }
  return report;
}

TEST(DicomOut, DefaultSagittalPhantom) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("phantom -o " + test::quote(dir / "phantom")).exitCode, 0);
  const nlohmann::json report = analyzeAndValidate(
      test::quote(dir / "phantom/dicom"), dir.path() / "out", "", dir.path() / "phantom/dicom");
  // With the 3D view rendered, both pictures become key images, then the findings page.
  std::vector<std::string> comments;
  for (const auto& entry : fs::directory_iterator(dir.path() / "out/dicom"))
    if (entry.path().filename().string().rfind("key", 0) == 0) {
      DcmFileFormat file;
      ASSERT_TRUE(file.loadFile(entry.path().c_str()).good());
      comments.push_back(text(*file.getDataset(), DCM_InstanceNumber) + " " +
                         text(*file.getDataset(), DCM_ImageComments));
    }
  std::sort(comments.begin(), comments.end());
  const bool rendered = fs::exists(dir.path() / "out/render3d.png");
  ASSERT_EQ(comments.size(), rendered ? 3u : 2u);
  EXPECT_NE(comments.front().find("mid-sagittal"), std::string::npos) << comments.front();
  if (rendered) {
    EXPECT_NE(comments[1].find("3D view"), std::string::npos) << comments[1];
  }
  EXPECT_NE(comments.back().find("key findings"), std::string::npos) << comments.back();
}

TEST(DicomOut, DemoStudyWithLongLesion) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  test::TempDir dir;
  const nlohmann::json report = analyzeAndValidate("--demo", dir.path() / "demo");
  ASSERT_FALSE(report["lesions"].empty()) << "the demo study has a lesion";
  // The lesion's tracking UID is the same in the SEG and the SR: a follow-up can refer to it.
  const test::CommandResult seg =
      test::runShell("dcmdump +P 0062,0021 " + test::quote(dir / "demo/dicom/seg.dcm"));
  const test::CommandResult sr =
      test::runShell("dsrdump " + test::quote(dir / "demo/dicom/sr.dcm"));
  const auto start = seg.out.find("[2.25.");
  ASSERT_NE(start, std::string::npos) << seg.out;
  const std::string uid = seg.out.substr(start + 1, seg.out.find(']', start) - start - 1);
  EXPECT_NE(sr.out.find(uid), std::string::npos) << "tracking UID " << uid << " not in the SR";
}

TEST(DicomOut, AxialPhantom) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("phantom --orientation axial --lesion C3:C5:dorsal -o " +
                               test::quote(dir / "phantom"))
                .exitCode,
            0);
  analyzeAndValidate(test::quote(dir / "phantom/dicom"), dir.path() / "axial", "--no-render",
                     dir.path() / "phantom/dicom");
}

TEST(DicomOut, RealDicomSeries) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  test::TempDir dir;
  analyzeAndValidate(test::quote((data / "real/sct-t2-lesion/dicom").string()), dir.path() / "real",
                     "--no-render", data / "real/sct-t2-lesion/dicom");
}

// A multi-frame (enhanced) source: frames are referenced by their number in the one file. The
// real Siemens XA30 series is a brain EPI whose "cord" fails quality control, so analyze writes
// nothing for it; the export is run in-process here to check the objects themselves.
TEST(DicomOut, MultiFrameSource) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  test::TempDir dir;
  const Inventory inventory = scanInput((data / "dicom/siemens-xa30-epi-sag-enhanced").string());
  const SeriesChoice choice = chooseSeries(inventory);
  const SeriesEntry& series = inventory.series[choice.index];
  const Volume volume = loadSeries(inventory, choice.index);
  const Analysis analysis = analyzeStudy(volume);
  ASSERT_TRUE(analysis.cord.found) << "the export needs masks to write";
  const fs::path out = dir.path() / "multiframe";
  fs::create_directories(out);
  writeNifti(analysis.cord.cord.GetPointer(), (out / "cord.nii.gz").string());
  writeNifti(analysis.cord.canal.GetPointer(), (out / "canal.nii.gz").string());
  writeNifti(analysis.lesions.mask.GetPointer(), (out / "lesion.nii.gz").string());
  writeNifti(analysis.vertebrae.levelMap.GetPointer(), (out / "levels.nii.gz").string());
  DicomExportOptions options;
  options.folder = (out / "dicom").string();
  writeDicomResults({volume, series, analysis, analysis.lesionMetrics, analysis.quality, nullptr},
                    options);
  validateObjects(out / "dicom");
  const nlohmann::json ids = {
      {"input",
       {{"series_instance_uid", volume.meta.seriesInstanceUid},
        {"metadata", {{"study_instance_uid", volume.meta.studyInstanceUid}}}}}};
  checkSegmentation(out / "dicom/seg.dcm", out, ids);
  checkSourceReferences(out / "dicom/seg.dcm", series);
}

// A result that failed quality control goes to no PACS, and objects an earlier run left in
// OUTDIR/dicom are removed (they would pass for this run's).
TEST(DicomOut, NothingWhenQualityFails) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  fs::create_directories(dir.path() / "out/dicom");
  std::ofstream(dir.path() / "out/dicom/seg.dcm") << "stale";
  const test::CommandResult r = test::runCordscope(
      "analyze " + test::quote((data / "dicom/siemens-xa30-epi-sag-enhanced").string()) + " -o " +
      test::quote(dir / "out") + " --dicom-out --no-render --quiet");
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_EQ(test::readJson(dir.path() / "out/report.json")["quality"]["verdict"], "fail");
  EXPECT_FALSE(fs::exists(dir.path() / "out/dicom/seg.dcm"));
  EXPECT_NE(r.err.find("no DICOM results: the result failed quality control"), std::string::npos)
      << r.err;
}

// An object that cannot be written is exit 5, one line naming it, and no report.json (written
// last, it would say every output beside it is whole).
TEST(DicomOut, UnwritableFolderIsExit5) {
  test::TempDir dir;
  fs::create_directories(dir.path() / "out");
  std::ofstream(dir.path() / "out/dicom") << "a file where the folder goes";
  const test::CommandResult r = test::runCordscope("analyze --demo -o " + test::quote(dir / "out") +
                                                   " --dicom-out --no-render --quiet");
  EXPECT_EQ(r.exitCode, 5) << r.err;
  EXPECT_NE(r.err.find(dir / "out/dicom"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "out/report.json"));
}

TEST(DicomOut, NothingForNifti) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const test::CommandResult r = test::runCordscope(
      "analyze " + test::quote((data / "real/sct-t2-lesion/t2_lesion.nii.gz").string()) + " -o " +
      test::quote(dir / "out") + " --dicom-out --no-render --quiet");
  EXPECT_TRUE(r.exitCode == 0 || r.exitCode == 1) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "out/dicom"));
  EXPECT_NE(r.err.find("no DICOM results for a NIfTI input"), std::string::npos) << r.err;
}

TEST(DicomOut, SeriesNumberBase) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("analyze --demo -o " + test::quote(dir / "out") +
                               " --dicom-out --no-render --quiet --series-number-base 700")
                .exitCode,
            0);
  const std::map<std::string, std::string> expected = {
      {"seg.dcm", "700"}, {"sr.dcm", "701"}, {"key1.dcm", "702"}};
  for (const auto& [name, number] : expected) {
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile((dir.path() / "out/dicom" / name).c_str()).good()) << name;
    EXPECT_EQ(text(*file.getDataset(), DCM_SeriesNumber), number) << name;
  }
  EXPECT_EQ(test::runCordscope("analyze --demo -o " + test::quote(dir / "bad") +
                               " --dicom-out --series-number-base 0")
                .exitCode,
            2);
}

}  // namespace
}  // namespace cordscope
