// cordscope compare: follow-up of one patient's scans (issue 10) - is the lesion shrinking?
// Each argument is a study (analysed here first, into OUTDIR/timepoint-N) or an `analyze`
// output folder. Time points are ordered by StudyDate when every one has it, else by the
// arguments; the first is the baseline and every later one is compared with it.
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ChildProcess.h"
#include "Command.h"
#include "data/Csv.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Nifti.h"
#include "data/OutputFile.h"
#include "measurement/FollowUp.h"
#include "segmentation/Registration.h"
#include "version.h"
#include "visualization/ComparePicture.h"
#include "visualization/HtmlReport.h"

namespace cordscope::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Runs `cordscope analyze` on a study into `outDir` (a child process, as the batch does); its
// output goes to outDir/analyze.log. Throws with the child's error line when it fails.
void analyseInto(const std::string& input, const fs::path& outDir, bool render) {
  fs::create_directories(outDir);
  std::vector<std::string> args = {"analyze", input, "-o", outDir.string(), "--quiet"};
  if (!render) args.push_back("--no-render");
  const std::string log = (outDir / "analyze.log").string();
  const int status = runSelf(args, log);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string last = lastErrorLine(log);
  throw Error(
      ExitCode::AnalysisFailed,
      input + ": the analysis failed" + (last.empty() ? "" : ": " + last) + " (log: " + log + ")");
}

struct Loaded {
  TimePoint point;
  std::vector<CenterlineSample> centerline;
  std::optional<Volume> volume;
  Mask::Pointer cord, lesion;
  std::string volumeNote;
};

Loaded loadTimePoint(const fs::path& dir, int order) {
  Loaded t;
  std::ifstream in(dir / "report.json");
  if (!in) throw InputError((dir / "report.json").string() + ": not an analyze output folder");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string checkReasons;
  t.point =
      timePointFromReport(text, (dir / "report.json").string(), dir.string(), order, checkReasons);
  if (!checkReasons.empty()) warn(dir.string() + ": quality control: check: " + checkReasons);
  const json& input = t.point.report.value("input", json::object());
  t.centerline = readCenterlineCsv((dir / "centerline.csv").string());
  t.cord = readMask((dir / "cord.nii.gz").string());
  t.lesion = readMask((dir / "lesion.nii.gz").string());
  // The image itself (for the registration and the picture), from where the analysis read it.
  const std::string path =
      input.contains("path") && input["path"].is_string() ? input["path"].get<std::string>() : "";
  const std::string series = input.contains("series_id") && input["series_id"].is_string()
                                 ? input["series_id"].get<std::string>()
                                 : "";
  if (path.empty()) {
    t.volumeNote = "its input path is not recorded (anonymised)";
  } else {
    try {
      const bool dicom = input.contains("kind") && input["kind"].is_string() &&
                         input["kind"].get<std::string>() == "dicom";
      // A study read from several folders is read from all of them again.
      std::vector<std::string> paths{path};
      if (input.contains("paths") && input["paths"].is_array()) {
        paths.clear();
        for (const json& p : input["paths"])
          if (p.is_string()) paths.push_back(p.get<std::string>());
      }
      t.volume = loadInput(paths, dicom ? series : "");
    } catch (const Error& e) {
      t.volumeNote = e.what();
    }
  }
  return t;
}

// How well the level alignment and the registration agree: follow-up centerline points mapped
// by the registration into the baseline, their level coordinate there against their own.
json alignmentCheck(const Loaded& base, const Loaded& follow, const RigidRegistration& reg) {
  json j = {{"registration_converged", reg.converged},
            {"registration_note", reg.note},
            {"rotation_deg", reg.rotationDeg},
            {"translation_mm", reg.translationMm}};
  if (!reg.converged) return j;
  std::vector<double> residuals;
  for (std::size_t i = 0; i < follow.centerline.size(); i += 20) {
    const CenterlineSample& s = follow.centerline[i];
    const auto uFollow = levelCoordinate(follow.point.report, s.arcMm);
    if (!uFollow) continue;
    const Vec3 p = reg.toBaseline(s.centre);
    // The baseline arc whose centre lies nearest.
    double best = 1e9, arc = 0;
    for (const CenterlineSample& b : base.centerline)
      if (const double d = norm(b.centre - p); d < best) {
        best = d;
        arc = b.arcMm;
      }
    if (best > 10) continue;  // outside the baseline's cord in view
    if (const auto uBase = levelCoordinate(base.point.report, arc))
      residuals.push_back(std::abs(*uBase - *uFollow));
  }
  if (!residuals.empty()) {
    std::sort(residuals.begin(), residuals.end());
    j["level_residual_median"] = residuals[residuals.size() / 2];
    j["level_residual_max"] = residuals.back();
    j["points_compared"] = residuals.size();
  }
  return j;
}

std::string value(const json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_float()) {
    char t[32];
    std::snprintf(t, sizeof t, "%.2f", j.get<double>());
    return t;
  }
  return j.dump();
}

int runCompare(const std::vector<std::string>& inputs, const std::string& outputDir, bool render) {
  if (inputs.size() < 2)
    throw UsageError("compare needs a baseline and at least one follow-up (two or more studies)");
  const fs::path outDir(outputDir);
  makeOutputDir(outputDir);
  std::vector<Loaded> points;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    fs::path dir(inputs[k]);
    if (!(fs::is_directory(dir) && fs::exists(dir / "report.json"))) {
      if (!fs::exists(dir)) throw InputError(inputs[k] + ": no such file or folder");
      dir = outDir / ("timepoint-" + std::to_string(k + 1));
      note("analysing time point " + std::to_string(k + 1) + ": " + inputs[k]);
      analyseInto(inputs[k], dir, render);
    }
    points.push_back(loadTimePoint(dir, static_cast<int>(k + 1)));
  }
  // Dates when every time point has one; else the order given.
  if (std::all_of(points.begin(), points.end(),
                  [](const Loaded& p) { return p.point.studyDate.size() == 8; }))
    std::stable_sort(points.begin(), points.end(), [](const Loaded& a, const Loaded& b) {
      return a.point.studyDate < b.point.studyDate;
    });
  else
    note("study dates missing: time points taken in the order given");
  // Same dates (e.g. one study given twice): keep the arguments' order and say so in the labels.
  for (std::size_t k = 1; k < points.size(); ++k)
    if (points[k].point.label == points[k - 1].point.label)
      points[k].point.label += " (" + std::to_string(k + 1) + ")";

  const Loaded& base = points.front();
  json comparisons = json::array();
  std::vector<std::string> summaries;
  std::ostringstream csv;
  csv << "baseline,followup,months,class,pattern,baseline_id,followup_id,baseline_levels,followup_"
         "levels,"
         "baseline_length_mm,followup_length_mm,length_change_mm,baseline_segments,followup_"
         "segments,segments_change,"
         "baseline_volume_mm3,followup_volume_mm3,volume_change_mm3,intensity_ratio_change\n";
  for (std::size_t k = 1; k < points.size(); ++k) {
    const Loaded& follow = points[k];
    const Comparison c = compareTimePoints(base.point, follow.point);
    json j = c;
    RigidRegistration reg;
    if (base.volume && follow.volume)
      reg = registerRigid(*base.volume, base.cord.GetPointer(), *follow.volume,
                          follow.cord.GetPointer());
    else
      reg.note = "not registered: " + (base.volume ? follow.volumeNote : base.volumeNote);
    j["alignment"] = alignmentCheck(base, follow, reg);
    j["alignment"]["method"] =
        "vertebral-level coordinate along each cord (named discs), checked by rigid registration "
        "of the cord region";
    comparisons.push_back(j);
    summaries.push_back(c.summary);
    for (const LesionChange& l : c.lesions) {
      const auto levels = [](const json& lesion) {
        if (lesion.is_null() || !lesion["top_level"].is_string()) return std::string();
        return lesion["top_level"].get<std::string>() + "-" +
               lesion["bottom_level"].get<std::string>();
      };
      const auto field = [](const json& lesion, const char* key) {
        return lesion.is_null() ? std::string() : value(lesion[key]);
      };
      const json lj = l;
      csv << csvField(base.point.label) << "," << csvField(follow.point.label) << ","
          << value(j["months"]) << "," << l.cls << "," << l.pattern << ","
          << value(lj["baseline_id"]) << "," << value(lj["followup_id"]) << ","
          << levels(l.baseline) << "," << levels(l.followUp) << ","
          << field(l.baseline, "length_mm") << "," << field(l.followUp, "length_mm") << ","
          << value(lj["change"]["length_mm"]) << "," << field(l.baseline, "segments_spanned") << ","
          << field(l.followUp, "segments_spanned") << "," << value(lj["change"]["segments"]) << ","
          << field(l.baseline, "volume_mm3") << "," << field(l.followUp, "volume_mm3") << ","
          << value(lj["change"]["volume_mm3"]) << "," << value(lj["change"]["intensity_ratio"])
          << "\n";
    }
  }
  // The course over all time points: the longest lesion's segments.
  std::vector<TrendPoint> trend;
  json trendJson = json::array();
  for (const Loaded& p : points) {
    TrendPoint t;
    t.label = p.point.label;
    t.maxSegments = p.point.report["summary"].value("max_segments_spanned", json(0)).is_number()
                        ? p.point.report["summary"]["max_segments_spanned"].get<int>()
                        : 0;
    for (const json& l : p.point.report.value("lesions", json::array()))
      t.totalLesionMm += l.value("length_mm", 0.0);
    trend.push_back(t);
  }
  const bool dated = std::all_of(points.begin(), points.end(),
                                 [](const Loaded& p) { return p.point.studyDate.size() == 8; });
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (dated && k > 0) {
      const json& months = comparisons[k - 1]["months"];
      trend[k].x = months.is_number() ? months.get<double>() : static_cast<double>(k);
    } else {
      trend[k].x = static_cast<double>(k);
    }
    trendJson.push_back({{"label", trend[k].label},
                         {"x", trend[k].x},
                         {"max_segments_spanned", trend[k].maxSegments},
                         {"total_lesion_mm", trend[k].totalLesionMm}});
  }

  std::vector<CompareColumn> columns;
  for (const Loaded& p : points)
    columns.push_back({p.point.label, p.point.report, p.centerline, p.volume ? &*p.volume : nullptr,
                       p.cord, p.lesion});
  writeFileAtomically((outDir / "compare.csv").string(), csv.str(), "the comparison table");
  writeComparePicture(columns, (outDir / "compare.png").string());
  std::vector<std::string> outputs = {"compare.json", "compare.csv", "compare.png", "compare.html"};
  if (points.size() > 2) {
    writeTrendChart(trend, dated ? "months since baseline" : "time point",
                    (outDir / "trend.png").string());
    outputs.push_back("trend.png");
  }

  json report = {{"schema", "cordscope.compare/1"},
                 {"tool", {{"name", "cordscope"}, {"version", CORDSCOPE_VERSION}}},
                 {"time_points", json::array()},
                 {"comparisons", comparisons},
                 {"trend", trendJson},
                 {"summary", summaries}};
  for (const Loaded& p : points)
    report["time_points"].push_back({{"label", p.point.label},
                                     {"study_date", p.point.studyDate},
                                     {"order", p.point.order},
                                     {"output_dir", p.point.outputDir}});
  // compare.html: the sentences, the table, the pictures; self-contained.
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cordscope "
          "follow-up</title>\n"
       << "<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:"
          "collapse;font-size:13px}"
          "td,th{border:1px solid #bbb;padding:3px "
          "7px}th{background:#eee}li{font-size:16px;margin:6px 0}"
          "img{max-width:100%;border:1px solid "
          "#999}.small{color:#555;font-size:13px}</style></head><body>\n"
       << "<h1>cordscope follow-up</h1>\n<p class=\"small\">";
  for (const Loaded& p : points)
    html << htmlEscape(p.point.label) << (&p == &points.back() ? "" : " &rarr; ");
  html << "</p>\n<h2>Findings</h2>\n<ul>\n";
  for (const std::string& s : summaries) html << "<li>" << htmlEscape(s) << "</li>\n";
  html << "</ul>\n<h2>Lesions</h2>\n<table><tr><th>compared</th><th>class</th><th>pattern</"
          "th><th>before</th><th>after</th>"
          "<th>length change (mm)</th><th>segments change</th><th>volume change "
          "(mm&sup3;)</th></tr>\n";
  for (const json& c : comparisons)
    for (const json& l : c["lesions"]) {
      const auto extent = [](const json& lesion) {
        if (lesion.is_null()) return std::string("-");
        std::string t = lesion["top_level"].is_string()
                            ? lesion["top_level"].get<std::string>() + "\u2013" +
                                  lesion["bottom_level"].get<std::string>()
                            : "";
        return t + " " + value(lesion["length_mm"]) + " mm, " + value(lesion["segments_spanned"]) +
               " seg";
      };
      html << "<tr><td>"
           << htmlEscape(c["baseline"]["label"].get<std::string>() + " \u2192 " +
                         c["followup"]["label"].get<std::string>())
           << "</td><td><b>" << htmlEscape(l["class"].get<std::string>()) << "</b></td><td>"
           << htmlEscape(l["pattern"].get<std::string>()) << "</td><td>"
           << htmlEscape(extent(l["baseline"])) << "</td><td>" << htmlEscape(extent(l["followup"]))
           << "</td><td>" << value(l["change"]["length_mm"]) << "</td><td>"
           << value(l["change"]["segments"]) << "</td><td>" << value(l["change"]["volume_mm3"])
           << "</td></tr>\n";
    }
  html << "</table>\n<h2>Each time point at the same anatomical height</h2>\n<img "
          "alt=\"comparison\" src=\""
       << pngDataUri((outDir / "compare.png").string()) << "\">\n";
  if (points.size() > 2)
    html << "<h2>Segments over time</h2>\n<img alt=\"trend\" src=\""
         << pngDataUri((outDir / "trend.png").string()) << "\">\n";
  html << "<h2>Method</h2>\n<ul class=\"small\"><li>Time points are aligned by the vertebral-level "
          "coordinate along each "
          "cord (named discs), checked by a rigid registration of the cord region (ITK, Mattes "
          "mutual information).</li>"
          "<li>Lesions are matched by overlap along the cord in that coordinate. A change counts "
          "only beyond the "
          "measurement's repeatability on unchanged anatomy: length "
       << comparisons[0]["thresholds"]["length_mm"] << " mm, volume "
       << static_cast<int>(
              std::lround(100 * comparisons[0]["thresholds"]["volume_fraction"].get<double>()))
       << " %, cord area " << comparisons[0]["thresholds"]["csa_percent"]
       << " % (docs/followup.md).</li></ul>\n</body></html>\n";
  writeFileAtomically((outDir / "compare.html").string(), html.str(), "the comparison page");
  // Last: a compare.json present means every output beside it is whole.
  writeFileAtomically((outDir / "compare.json").string(), report.dump(2) + "\n", "the comparison");

  for (const std::string& s : summaries) std::cout << s << "\n";
  std::string written;
  for (const std::string& o : outputs) written += (written.empty() ? "" : " ") + o;
  std::cout << "outputs in " << outDir.string() << ": " << written << "\n";
  return 0;
}

}  // namespace

Command compareCommand() {
  Command c;
  c.name = "compare";
  c.summary = "follow-up: align time points by anatomy and classify each lesion's change";
  c.usage = "cordscope compare BASELINE FOLLOWUP [MORE...] -o OUTDIR [--no-render]";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::vector<std::string>>()->multitoken(),
                    "studies (DICOM or NIfTI) or analyze output folders, baseline first")(
        "output,o", po::value<std::string>()->required(), "output folder")(
        "no-render", po::bool_switch(), "skip the 3D views of the time points analysed here");
    p.add("input", -1);
  };
  c.run = [](const po::variables_map& vm) {
    return runCompare(
        vm.count("input") ? vm["input"].as<std::vector<std::string>>() : std::vector<std::string>{},
        vm["output"].as<std::string>(), !vm["no-render"].as<bool>());
  };
  return c;
}

}  // namespace cordscope::app
