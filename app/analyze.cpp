// cordscope analyze: the whole pipeline for one study - ingest, cord and canal segmentation, discs
// and vertebral levels, lesions, craniocervical measurements, quality control, then the outputs
// (masks, CSVs, pictures, report.html, report.json last).
#include <itkMultiThreaderBase.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <sstream>

#include "Command.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Levels.h"
#include "data/Nifti.h"
#include "data/OutputFile.h"
#include "data/Phantom.h"
#include "measurement/Analysis.h"
#include "measurement/CraniocervicalMetrics.h"
#include "measurement/LesionMetrics.h"
#include "measurement/LevelMetrics.h"
#include "measurement/Quality.h"
#include "segmentation/CordSegmentation.h"
#include "segmentation/Lesions.h"
#include "segmentation/Vertebrae.h"
#include "version.h"
#include "visualization/DicomExport.h"
#include "visualization/HtmlReport.h"
#include "visualization/Pictures.h"
#include "visualization/Render3D.h"

namespace cordscope::app {
namespace {

// Fault injection for the batch tests (tests/cli/BatchTest.cpp, docs/batch.md): with
// CORDSCOPE_TEST_FAULT=crash:TEXT,hang:TEXT2 an analysis whose input path contains TEXT dies of
// SIGSEGV, one whose path contains TEXT2 never ends, as a library might on a hostile file - so
// that the batch's isolation of its studies is tested against a real crash and a real hang.
// Unset, it costs one getenv.
void injectFaultForTests(const std::string& input) {
  const char* fault = std::getenv("CORDSCOPE_TEST_FAULT");
  if (!fault) return;
  std::stringstream specs(fault);
  for (std::string spec; std::getline(specs, spec, ',');) {
    const auto colon = spec.find(':');
    if (colon == std::string::npos || colon + 1 == spec.size()) continue;
    if (input.find(spec.substr(colon + 1)) == std::string::npos) continue;
    if (spec.compare(0, colon, "crash") == 0) std::raise(SIGSEGV);
    if (spec.compare(0, colon, "hang") == 0)
      for (;;) ::pause();
  }
}

namespace fs = std::filesystem;

struct AnalyzeOptions {
  // DICOM folders or files, or one NIfTI file; several when one study was exported into several
  // folders (read together: series are assembled by their UIDs across them).
  std::vector<std::string> inputs;
  std::string outputDir;
  std::string series;
  bool demo = false;
  Contrast contrast = Contrast::Auto;
  std::string c2c3;   // "x,y,z" RAS mm
  std::string discs;  // label image or CSV
  ExtensiveRule extensive;
  CraniocervicalRules craniocervical;
  bool render = true;  // the 3D view (--no-render skips it)
  bool quiet = false;
  int threads = 0;         // 0: all cores
  bool anonymize = false;  // no names, IDs, dates or paths in the JSON (and the page built from it)
  std::string axial = "auto";  // the axial series for lesion patterns: auto, none, or a series
  double maxMemoryMb = kDefaultMaxMemoryMb;
  bool dicomOut = false;  // SEG, SR and key images into OUTDIR/dicom (DICOM inputs)
  int seriesNumberBase = DicomExportOptions{}.seriesNumberBase;
};

// "x,y,z" in RAS millimetres -> LPS.
Vec3 parseRasPoint(const std::string& text, const std::string& option) {
  std::stringstream in(text);
  std::string a, b, c, extra;
  try {
    if (std::getline(in, a, ',') && std::getline(in, b, ',') && std::getline(in, c, ',') &&
        !std::getline(in, extra, ',')) {
      const Vec3 point{-std::stod(a), -std::stod(b), std::stod(c)};
      // NaN or inf would anchor the level names nowhere.
      if (std::isfinite(point[0]) && std::isfinite(point[1]) && std::isfinite(point[2]))
        return point;
    }
  } catch (const std::exception&) {
  }
  throw UsageError(option + " expects X,Y,Z in RAS millimetres (as a NIfTI viewer shows), got '" +
                   text + "'");
}

// lesions.csv: one row per lesion; levels empty when not named.
void writeLesionsCsv(const std::vector<Lesion>& lesions, const std::string& path) {
  std::ostringstream out;
  out << "id,length_mm,top_level,bottom_level,segments_spanned,segments_equivalent,volume_mm3,"
         "max_axial_area_mm2,max_axial_damage_ratio,intensity_ratio,pattern,per_level_mm\n";
  out.precision(6);
  for (const Lesion& l : lesions) {
    std::string perLevel;
    for (const LevelCoverage& c : l.perLevel)
      perLevel += (perLevel.empty() ? "" : ";") + levelName(c.level) + ":" +
                  std::to_string(std::lround(c.mm * 10) / 10.0).substr(0, 5);
    out << l.id << ',' << l.lengthMm << ',' << (l.topLevel ? levelName(*l.topLevel) : "") << ','
        << (l.bottomLevel ? levelName(*l.bottomLevel) : "") << ','
        << (l.segmentsSpanned ? std::to_string(*l.segmentsSpanned) : "") << ','
        << (l.segmentsEquivalent ? std::to_string(*l.segmentsEquivalent) : "") << ',' << l.volumeMm3
        << ',' << l.maxAxialAreaMm2 << ',' << l.maxAxialDamageRatio << ',' << l.intensityRatio
        << ',' << l.pattern << ',' << perLevel << '\n';
  }
  writeFileAtomically(path, out.str(), "the lesion table");
}

// discs.csv: one row per disc, cranial first; RAS millimetres; name empty when not named.
void writeDiscsCsv(const VertebralLabels& labels, const std::string& path) {
  std::ostringstream out;
  out << "name,x_ras_mm,y_ras_mm,z_ras_mm,confidence,arc_mm\n";
  out.precision(6);
  for (const Disc& d : labels.discs)
    out << d.name << ',' << -d.position[0] << ',' << -d.position[1] << ',' << d.position[2] << ','
        << d.confidence << ',' << d.arcMm << '\n';
  writeFileAtomically(path, out.str(), "the disc table");
}

// centerline.csv: one row per cross-section along the cord (every 0.5 mm), RAS millimetres as in
// NIfTI viewers, with the section's cord and canal area and diameters.
void writeCenterlineCsv(const CordSegmentation& seg, const std::string& path) {
  std::ostringstream out;
  out << "arc_mm,x_ras_mm,y_ras_mm,z_ras_mm,area_mm2,ap_mm,rl_mm,canal_area_mm2,canal_ap_mm,canal_"
         "rl_mm,measured,anterior_x_ras,anterior_y_ras,anterior_z_ras\n";
  out.precision(6);
  for (const CrossSection& s : seg.sections)
    out << s.arcMm << ',' << -s.centre[0] << ',' << -s.centre[1] << ',' << s.centre[2] << ','
        << s.areaMm2 << ',' << s.apMm << ',' << s.rlMm << ',' << s.canalAreaMm2 << ','
        << s.canalApMm << ',' << s.canalRlMm << ',' << (s.measured ? 1 : 0) << ',' << -s.anterior[0]
        << ',' << -s.anterior[1] << ',' << s.anterior[2] << '\n';
  writeFileAtomically(path, out.str(), "the centerline table");
}

// The demo study: a long dorsal lesion (the B12 pattern, 8 segments) and anterior atlantoaxial
// subluxation (ADI 5 mm), so one command shows every feature.
PhantomOptions demoPhantom() {
  PhantomOptions o;
  o.seed = 2024;
  o.ageYears = 58;
  o.lesions = {{2, 9, "dorsal", 0.6}};
  o.adiMm = 5.0;
  return o;
}

// "path": the input (the first, when several; all of them in "paths").
nlohmann::json inputJson(const Volume& v, const SeriesEntry& s,
                         const std::vector<std::string>& paths, const std::string& choice) {
  const auto size = v.image->GetLargestPossibleRegion().GetSize();
  const auto spacing = v.image->GetSpacing();
  const auto& m = v.meta;
  nlohmann::json j = {{"kind", s.kind},
                      {"path", paths.front()},
                      {"series_instance_uid", m.seriesInstanceUid},
                      {"series_id", s.id},
                      {"series_description", m.seriesDescription},
                      {"series_choice", choice},
                      {"patient_age_years", m.patientAgeYears ? nlohmann::json(*m.patientAgeYears)
                                                              : nlohmann::json(nullptr)},
                      {"sex", m.patientSex},
                      {"study_date", m.studyDate},
                      {"size", {size[0], size[1], size[2]}},
                      {"spacing_mm", {spacing[0], spacing[1], spacing[2]}},
                      {"orientation", toString(v.orientation())},
                      {"axis_code", axisCode(v.image->GetDirection())},
                      {"metadata", m}};
  if (paths.size() > 1) j["paths"] = paths;
  return j;
}

// One line per stage on stderr as the analysis goes, when stderr is a terminal and not --quiet
// (a batch's logs stay clean).
class Progress {
 public:
  Progress(bool enabled, int stages)
      : enabled_(enabled), stages_(stages), start_(std::chrono::steady_clock::now()) {}
  void stage(const std::string& name) {
    if (!enabled_) return;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char text[96];
    std::snprintf(text, sizeof text, "[%d/%d %5.1f s] ", ++done_, stages_, seconds);
    std::cerr << "cordscope: " << text << name << "\n";
  }

 private:
  bool enabled_;
  int stages_;
  int done_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// --dicom-out: the SEG, SR and key images into OUTDIR/dicom (visualization/DicomExport.h); the
// names written. Nothing for a NIfTI input (no study, series or images in a PACS to add to), when
// no cord was found (nothing to segment or measure) or the verdict is fail, each said in a note.
std::vector<std::string> writeDicomOutputs(const Volume& volume, const SeriesEntry& series,
                                           const Analysis& analysis,
                                           const std::vector<Lesion>& lesions,
                                           const QualityReport& quality,
                                           const nlohmann::json& report,
                                           const AnalyzeOptions& options) {
  if (volume.sourceKind != "dicom") {
    note(
        "--dicom-out: no DICOM results for a NIfTI input: a DICOM result belongs to the study "
        "and references the images it came from, which a NIfTI file does not carry");
    return {};
  }
  if (!analysis.cord.found) {
    note("--dicom-out: no DICOM results: no cord was found to segment or measure");
    return {};
  }
  // A result that failed quality control is not sent where a radiologist would read it as one.
  if (quality.verdict == Verdict::Fail) {
    note(
        "--dicom-out: no DICOM results: the result failed quality control (report.json says "
        "why)");
    return {};
  }
  const fs::path outDir(options.outputDir);
  DicomExportOptions dicom;
  dicom.folder = (outDir / "dicom").string();
  dicom.seriesNumberBase = options.seriesNumberBase;
  dicom.softwareVersion = CORDSCOPE_VERSION;
  dicom.keyImages = {
      {(outDir / "sagittal.png").string(),
       "cordscope: mid-sagittal plane with cord, levels, lesions and craniocervical measures"},
      {(outDir / "render3d.png").string(), "cordscope: 3D view of cord, canal and lesions"}};
  return writeDicomResults({volume, series, analysis, lesions, quality, &report}, dicom).written;
}

int runAnalyze(AnalyzeOptions options) {
  using clock = std::chrono::steady_clock;
  nlohmann::json timings = nlohmann::json::object();
  auto since = [](clock::time_point t) {
    return std::chrono::duration<double>(clock::now() - t).count();
  };
  // Options are checked before any work: a typo must not cost a segmentation.
  VertebraeOptions vertebraeOptions;
  if (!options.c2c3.empty()) vertebraeOptions.c2c3 = parseRasPoint(options.c2c3, "--c2c3");
  if (!options.discs.empty()) vertebraeOptions.manualDiscs = readDiscs(options.discs);
  if (vertebraeOptions.c2c3 && !vertebraeOptions.manualDiscs.empty())
    throw UsageError("give --c2c3 or --discs, not both (--discs names every disc itself)");
  if (options.extensive.segments < 1) throw UsageError("--extensive-segments must be at least 1");
  // Three series numbers from the base, each an IS (at most 2^31 - 1).
  if (options.seriesNumberBase < 1 || options.seriesNumberBase > 2147483644)
    throw UsageError("--series-number-base must be between 1 and 2147483644");
  if (options.threads != 0) {
    const int threads = clampWorkers(options.threads, "--threads");
    itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(threads);
    cv::setNumThreads(threads);
  }
  Progress progress(!options.quiet && ::isatty(STDERR_FILENO), options.dicomOut ? 11 : 10);
  std::vector<std::string> outputs;  // file names written, in order
  makeOutputDir(options.outputDir);
  {
    // An earlier run's report must not pass for this one's if this one fails on the way.
    std::error_code ignored;
    fs::remove(fs::path(options.outputDir) / "report.json", ignored);
  }
  if (options.demo) {
    if (!options.inputs.empty()) throw UsageError("--demo analyses its own study: give no INPUT");
    const auto start = clock::now();
    const PhantomOptions phantom = demoPhantom();
    const std::string demoDir = (fs::path(options.outputDir) / "demo-input").string();
    writePhantom(makePhantom(phantom), phantom, demoDir);
    options.inputs = {demoDir + "/dicom"};
    timings["demo_phantom_s"] = since(start);
    note("demo study written to " + options.inputs.front() +
         " (dorsal lesion C2-T2, 8 segments; ADI 5 mm; truth beside it)");
  }
  if (options.inputs.empty()) throw UsageError("analyze needs an INPUT (or --demo)");
  for (const std::string& input : options.inputs)
    if (input.empty()) throw UsageError("an INPUT is an empty path");

  auto start = clock::now();
  const Inventory inventory = scanInput(options.inputs);
  const std::string& input = inventory.inputPath;  // the inputs joined, for messages
  injectFaultForTests(input);
  progress.stage("reading " + input);
  const SeriesChoice choice = chooseSeries(inventory, options.series);
  checkMemory(input, inventory.series[choice.index], options.maxMemoryMb, kAnalyzeMemory);
  const Volume volume = loadSeries(inventory, choice.index);
  if (isLabelImage(*volume.image))
    // A segmentation given by mistake: "analysed" it gave a cord in a T1-like image and a fail.
    throw InputError(input + ": holds only " + std::to_string(distinctValuesUpTo17(*volume.image)) +
                     " distinct values: a mask or label map, not an MR image");
  timings["load_s"] = since(start);

  AnalysisOptions analysisOptions;
  analysisOptions.centerline.contrast = options.contrast;
  analysisOptions.vertebrae = vertebraeOptions;
  analysisOptions.craniocervical = options.craniocervical;
  analysisOptions.extensive = options.extensive;
  analysisOptions.stage = [&](const std::string& name) { progress.stage(name); };
  const Analysis analysis = analyzeStudy(volume, analysisOptions);
  timings.update(analysis.timings);
  const CordSegmentation& cord = analysis.cord;
  const VertebralLabels& vertebrae = analysis.vertebrae;
  const CraniocervicalMeasures& craniocervical = analysis.craniocervical;
  const LesionSegmentation& lesions = analysis.lesions;
  std::vector<Lesion> lesionMetrics = analysis.lesionMetrics;
  const LesionSummary& summary = analysis.summary;
  const std::vector<LevelMetrics>& levelMetrics = analysis.levelMetrics;
  QualityReport quality = analysis.quality;

  // An axial series of the same study: the lesions' pattern and cross-section where it covers
  // them (the sagittal keeps their length and levels).
  nlohmann::json seriesUsed = {{"length_and_levels", volume.meta.seriesInstanceUid},
                               {"axial", nullptr}};
  std::vector<std::string> axialWarnings;
  std::vector<AxialOnlyLesion> axialOnly;
  if (options.axial != "none") {
    std::optional<std::size_t> axialIndex;
    if (options.axial == "auto") {
      axialIndex = chooseAxialCompanion(inventory, choice.index);
    } else {
      axialIndex = chooseSeries(inventory, options.axial).index;
      if (*axialIndex == choice.index)
        throw UsageError("--axial names the series analysed; give another or none");
    }
    if (axialIndex) {
      start = clock::now();
      progress.stage("axial series");
      checkMemory(input, inventory.series[*axialIndex], options.maxMemoryMb, kAnalyzeMemory);
      const Volume axialVolume = loadSeries(inventory, *axialIndex);
      AnalysisOptions axialOptions;
      axialOptions.extensive = options.extensive;
      const Analysis axial = analyzeStudy(axialVolume, axialOptions);
      // By description and number, not UID: the label goes into lesions and warnings, which
      // --anonymize keeps.
      const std::string label = "'" + axialVolume.meta.seriesDescription + "' (series " +
                                std::to_string(axialVolume.meta.seriesNumber) + ")";
      nlohmann::json used{{"series_instance_uid", axialVolume.meta.seriesInstanceUid},
                          {"series_description", axialVolume.meta.seriesDescription},
                          {"cord_found", axial.cord.found},
                          {"quality", toString(axial.quality.verdict)}};
      if (axial.cord.found && axial.quality.verdict != Verdict::Fail && axial.lesions.looked &&
          cord.found) {
        axialOnly =
            refineWithAxial(lesionMetrics, cord, vertebrae, axial.lesionMetrics, axial.cord, label);
        int refined = 0;
        for (const Lesion& l : lesionMetrics) refined += l.patternSource != "sagittal";
        used["used_for"] =
            std::to_string(refined) + " lesion(s): pattern and largest cross-section";
        for (const AxialOnlyLesion& a : axialOnly)
          axialWarnings.push_back(
              "the axial series " + label + " shows a T2-hyperintense " + a.pattern + " lesion" +
              (a.topLevel
                   ? " at " + levelName(*a.topLevel) +
                         (*a.bottomLevel != *a.topLevel ? "-" + levelName(*a.bottomLevel) : "")
                   : "") +
              " that the sagittal series does not: check it on the axial images");
      } else {
        used["used_for"] = nullptr;
        axialWarnings.push_back(
            "the axial series " + label + " was not used: " +
            (axial.cord.found
                 ? "its " + std::string(axial.lesions.looked ? "quality control failed"
                                                             : "contrast does not show T2 lesions")
                 : "no cord found in it"));
      }
      // A lesion the axial series shows and the sagittal does not: the sagittal result (its
      // lesion count, length, segments) is incomplete, so the study is not a silent pass.
      if (!axialOnly.empty()) {
        quality.reasons.push_back(
            {"lesion_only_on_axial", Verdict::Check,
             "lesion only on the axial series: " + std::to_string(axialOnly.size()) +
                 " T2-hyperintense lesion(s) seen on " + label +
                 " are not on the sagittal series, so the lesion findings (length, segments) are "
                 "incomplete"});
        quality.verdict = std::max(quality.verdict, Verdict::Check);
      }
      seriesUsed["axial"] = used;
      timings["axial_s"] = since(start);
    }
  }

  const fs::path outDir(options.outputDir);
  writeNifti(cord.cord.GetPointer(), (outDir / "cord.nii.gz").string());
  writeNifti(cord.canal.GetPointer(), (outDir / "canal.nii.gz").string());
  writeCenterlineCsv(cord, (outDir / "centerline.csv").string());
  writeNifti(vertebrae.levelMap.GetPointer(), (outDir / "levels.nii.gz").string());
  writeDiscsCsv(vertebrae, (outDir / "discs.csv").string());
  writeNifti(lesions.mask.GetPointer(), (outDir / "lesion.nii.gz").string());
  writeLesionsCsv(lesionMetrics, (outDir / "lesions.csv").string());
  writeLevelMetricsCsv(levelMetrics, (outDir / "metrics.csv").string());
  outputs.insert(outputs.end(), {"cord.nii.gz", "canal.nii.gz", "centerline.csv", "levels.nii.gz",
                                 "discs.csv", "lesion.nii.gz", "lesions.csv", "metrics.csv"});

  start = clock::now();
  progress.stage("sagittal picture");
  // Stale pictures from an earlier run must not pass for this one's.
  fs::remove(outDir / "sagittal.png");
  fs::remove(outDir / "render3d.png");
  if (cord.found) {
    writeSagittalPicture({volume, cord, vertebrae, lesions, lesionMetrics, craniocervical},
                         (outDir / "sagittal.png").string());
    outputs.push_back("sagittal.png");
  }
  timings["pictures_s"] = since(start);
  std::vector<std::string> renderWarnings;
  if (options.render && cord.found) {
    start = clock::now();
    progress.stage("3D view");
    const Render3DResult rendered =
        writeRender3D({volume, cord, vertebrae, lesions, lesionMetrics, craniocervical},
                      (outDir / "render3d.png").string());
    if (rendered.written)
      outputs.push_back("render3d.png");
    else
      renderWarnings.push_back("render3d.png not written: " + rendered.skipped);
    timings["render3d_s"] = since(start);
  }

  std::vector<std::string> warnings = volume.warnings;
  warnings.insert(warnings.end(), vertebrae.warnings.begin(), vertebrae.warnings.end());
  if (!lesions.looked) warnings.push_back("lesions: " + lesions.note);
  warnings.insert(warnings.end(), axialWarnings.begin(), axialWarnings.end());
  warnings.insert(warnings.end(), renderWarnings.begin(), renderWarnings.end());
  if (cord.found)
    warnings.insert(warnings.end(), craniocervical.warnings.begin(), craniocervical.warnings.end());
  nlohmann::json report{{"schema", "cordscope.report/1"},
                        {"tool", {{"name", "cordscope"}, {"version", CORDSCOPE_VERSION}}},
                        {"input", inputJson(volume, inventory.series[choice.index],
                                            inventory.inputPaths, choice.reason)},
                        {"cord",
                         [&] {
                           nlohmann::json j = cord;
                           j["levels"] = levelMetrics;
                           j["normative_reference"] = kNormativeCitation;
                           return j;
                         }()},
                        {"vertebrae", vertebrae},
                        {"lesions", lesionMetrics},
                        {"series_used", seriesUsed},
                        {"summary", summary},
                        {"craniocervical", craniocervical},
                        {"quality", quality},
                        {"warnings", warnings},
                        {"timings_s", timings}};
  if (options.anonymize) {
    // Identifiers out: the input's path, UIDs, patient ID, dates. Age and sex stay (cohort
    // measures, not identifiers).
    nlohmann::json& inputEntry = report["input"];
    for (const char* key : {"path", "series_instance_uid", "series_id", "study_date"})
      inputEntry[key] = nullptr;
    inputEntry.erase("paths");
    for (const char* key :
         {"patient_name", "patient_id", "study_instance_uid", "series_instance_uid", "study_date"})
      inputEntry["metadata"][key] = nullptr;
    report["anonymized"] = true;
    report["series_used"]["length_and_levels"] = nullptr;
    if (report["series_used"]["axial"].is_object())
      report["series_used"]["axial"]["series_instance_uid"] = nullptr;
    std::vector<std::string> kept;
    for (std::string w : report["warnings"].get<std::vector<std::string>>()) {
      for (const std::string& path : inventory.inputPaths)
        for (std::size_t at; !path.empty() && (at = w.find(path)) != std::string::npos;)
          w.replace(at, path.size(), "INPUT");
      kept.push_back(w);
    }
    report["warnings"] = kept;
  }
  // Objects of an earlier run into this OUTDIR must not pass for this run's.
  removeDicomResults((outDir / "dicom").string());
  if (options.dicomOut) {
    start = clock::now();
    progress.stage("DICOM results");
    for (const std::string& name :
         writeDicomOutputs(volume, inventory.series[choice.index], analysis, lesionMetrics, quality,
                           report, options))
      outputs.push_back("dicom/" + name);
    report["timings_s"]["dicom_s"] = since(start);
  }
  progress.stage("report");
  writeHtmlReport(report,
                  {{"Mid-sagittal plane, sagittal montage and axial cuts through the lesions",
                    (outDir / "sagittal.png").string()},
                   {"3D view", (outDir / "render3d.png").string()}},
                  (outDir / "report.html").string());
  outputs.push_back("report.html");
  // Last of all: a report.json in OUTDIR means every output beside it was written whole.
  writeFileAtomically((outDir / "report.json").string(), report.dump(2) + "\n", "the report");
  outputs.push_back("report.json");
  for (const std::string& w : warnings) warn(w);
  // A fail verdict is never a success: every output is written (without a cord: cord.found false
  // and empty masks on the input grid) so that a batch keeps the record and a reader can see why,
  // and the exit code says the analysis failed, in one line naming the input and the reasons.
  const auto failLine = [&] {
    std::string reasons;
    for (const QualityReason& r : quality.reasons)
      if (r.severity == Verdict::Fail) reasons += (reasons.empty() ? "" : "; ") + r.message;
    return "cordscope: error: " + input + ": " + reasons + " (quality control: fail)";
  };
  if (!cord.found) {
    std::cerr << failLine() << "\n";
    return static_cast<int>(ExitCode::AnalysisFailed);
  }
  // The summary: six lines on stdout - the study, the quality verdict, the key findings - and
  // what was written.
  const auto size = volume.image->GetLargestPossibleRegion().GetSize();
  std::vector<std::string> lines = {
      "study: '" + volume.meta.seriesDescription + "' " + std::to_string(size[0]) + "x" +
          std::to_string(size[1]) + "x" + std::to_string(size[2]) + " " +
          toString(volume.orientation()) + "; cord " +
          std::to_string(static_cast<int>(std::lround(cord.lengthMm))) + " mm, levels " +
          (vertebrae.named && !vertebrae.levels.empty()
               ? levelName(vertebrae.levels.front()) + "-" + levelName(vertebrae.levels.back()) +
                     " (" + vertebrae.anchor + ")"
               : std::string("not named")),
      "quality: " + quality.headline()};
  for (const Finding& f : keyFindings(report))
    if (f.topic != "prognosis" && lines.size() < 5) lines.push_back(f.text);
  std::string written;
  for (const std::string& o : outputs) written += (written.empty() ? "" : " ") + o;
  lines.push_back("outputs in " + outDir.string() + ": " + written);
  for (const std::string& line : lines) std::cout << line << "\n";
  if (quality.verdict == Verdict::Fail) {
    std::cerr << failLine() << "\n";
    return static_cast<int>(ExitCode::AnalysisFailed);
  }
  return 0;
}

}  // namespace

Command analyzeCommand() {
  Command c;
  c.name = "analyze";
  c.summary = "analyse one study: cord, levels, lesions, atlantoaxial distances, report";
  c.usage =
      "cordscope analyze INPUT [INPUT...] -o OUTDIR [--series UID] [--contrast auto|t1|t2|t2s] "
      "[--c2c3 X,Y,Z] "
      "[--discs FILE] [--adi-female-cutoff] [--max-memory MB] [--dicom-out] "
      "[--series-number-base N] [--demo]";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::vector<std::string>>()->multitoken(),
                    "DICOM folder or file, or NIfTI file; several DICOM folders are read as one")(
        "output,o", po::value<std::string>()->required(), "output folder")(
        "series", po::value<std::string>()->default_value(""),
        "series to analyse (default: the sagittal T2)")(
        "contrast", po::value<std::string>()->default_value("auto"),
        "auto (from the metadata, else the image), t1 (CSF darker than cord), t2 or t2s (CSF "
        "brighter)")("demo", po::bool_switch(),
                     "analyse a built-in synthetic study (written to OUTDIR/demo-input)")(
        "c2c3", po::value<std::string>()->default_value(""),
        "the C2-C3 disc, X,Y,Z in RAS mm, when the field of view does not show the foramen "
        "magnum (or to overrule the automatic anchor)")(
        "discs", po::value<std::string>()->default_value(""),
        "disc positions given by hand: a label image (value N = disc at the top of vertebra N, "
        "3 = C2-C3) or a CSV name,x_ras_mm,y_ras_mm,z_ras_mm; replaces the detection")(
        "extensive-segments", po::value<int>()->default_value(7),
        "a lesion spanning this many vertebral segments is flagged extensive (the B12 "
        "myelopathy reading)")("extensive-exclusive", po::bool_switch(),
                               "flag only lesions spanning more than --extensive-segments "
                               "(default: that many or more)")("no-render", po::bool_switch(),
                                                               "skip the 3D view (render3d.png)")(
        "quiet", po::bool_switch(), "no progress lines")(
        "anonymize", po::bool_switch(),
        "no names, IDs, dates or paths in report.json and report.html")(
        "axial", po::value<std::string>()->default_value("auto"),
        "axial series of the same study for the lesions' pattern and cross-section: auto (the "
        "T2-like one with most slices), none, or a series UID")(
        "threads", po::value<int>()->default_value(0), "threads to use (default: all cores)")(
        "max-memory", po::value<double>()->default_value(kDefaultMaxMemoryMb),
        "MB a series may need; a larger one is refused before it is read (exit 3)")(
        "adi-female-cutoff", po::bool_switch(),
        "flag anterior atlantoaxial subluxation at ADI > 2.5 mm when PatientSex is F (default: "
        "> 3 mm for everyone)")("dicom-out", po::bool_switch(),
                                "DICOM input: also write a segmentation (SEG), a measurement "
                                "report (TID 1500 SR) and key images (SC) of the same study "
                                "into OUTDIR/dicom")(
        "series-number-base",
        po::value<int>()->default_value(DicomExportOptions{}.seriesNumberBase),
        "series numbers of the DICOM results: N (SEG), N+1 (SR), N+2 (key images)");
    p.add("input", -1);
  };
  c.run = [](const po::variables_map& vm) {
    return runAnalyze(
        {vm.count("input") ? vm["input"].as<std::vector<std::string>>()
                           : std::vector<std::string>{},
         vm["output"].as<std::string>(), vm["series"].as<std::string>(), vm["demo"].as<bool>(),
         parseContrast(vm["contrast"].as<std::string>()), vm["c2c3"].as<std::string>(),
         vm["discs"].as<std::string>(),
         ExtensiveRule{vm["extensive-segments"].as<int>(), !vm["extensive-exclusive"].as<bool>()},
         [&] {
           CraniocervicalRules rules;
           rules.femaleAdiCutoff = vm["adi-female-cutoff"].as<bool>();
           return rules;
         }(),
         !vm["no-render"].as<bool>(), vm["quiet"].as<bool>(), vm["threads"].as<int>(),
         vm["anonymize"].as<bool>(), vm["axial"].as<std::string>(), vm["max-memory"].as<double>(),
         vm["dicom-out"].as<bool>(), vm["series-number-base"].as<int>()});
  };
  return c;
}

}  // namespace cordscope::app
