#include "visualization/HtmlReport.h"

#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/Error.h"
#include "data/OutputFile.h"

namespace cordscope {
namespace {

using nlohmann::json;

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  return out;
}

std::string base64(const std::string& bytes) {
  using namespace boost::archive::iterators;
  using Encoder = base64_from_binary<transform_width<std::string::const_iterator, 6, 8>>;
  std::string out(Encoder(bytes.begin()), Encoder(bytes.end()));
  out.append((3 - bytes.size() % 3) % 3, '=');
  return out;
}

// A string member, or `fallback` when it is absent or not a string (null).
std::string stringOf(const json& object, const char* key, const std::string& fallback) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return fallback;
  return object[key].get<std::string>();
}

std::string number(const json& v, int decimals = 1) {
  if (!v.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, v.get<double>());
  return text;
}

std::string mm(const json& v) {
  return v.is_number() ? number(v) + " mm" : "not measured";
}

bool flag(const json& cc, const char* name) {
  return cc.contains("flags") && cc["flags"].contains(name) && cc["flags"][name].get<bool>();
}

std::string cell(const json& v, int decimals = 2) {
  if (v.is_string()) return escape(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<long>());
  if (v.is_number())
    return v.get<double>() == std::round(v.get<double>()) ? number(v, 0) : number(v, decimals);
  return "-";
}

// A table of the given columns (key, heading) over an array of objects.
std::string table(const json& rows,
                  const std::vector<std::pair<std::string, std::string>>& columns) {
  std::string out = "<table><tr>";
  for (const auto& [key, heading] : columns) out += "<th>" + escape(heading) + "</th>";
  out += "</tr>\n";
  for (const json& row : rows) {
    out += "<tr>";
    for (const auto& [key, heading] : columns)
      out += "<td>" + (row.contains(key) ? cell(row[key]) : "-") + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

// The quality verdict where a reader cannot miss it: above the findings, coloured by verdict,
// with every reason. Empty when the report has no quality block (an older report).
std::string qualityBanner(const json& quality) {
  if (!quality.is_object() || !quality.contains("verdict") || !quality["verdict"].is_string())
    return "";
  const std::string verdict = quality["verdict"];
  static const std::map<std::string, std::string> meaning = {
      {"pass", "every self-consistency check holds."},
      {"check", "look at the points below before trusting the parts of this report they name."},
      {"fail",
       "the results below are very likely wrong; do not use them without review of the images."}};
  const auto it = meaning.find(verdict);
  std::string h = "<div class=\"quality quality-" + escape(verdict) +
                  "\" id=\"quality\"><b>Quality control: " + escape(verdict) + "</b> &mdash; " +
                  escape(it == meaning.end() ? "" : it->second);
  const json& reasons = quality.value("reasons", json::array());
  if (!reasons.empty()) {
    h += "\n<ul>\n";
    for (const json& reason : reasons)
      h += "<li>" +
           (stringOf(reason, "severity", "") == "fail" ? std::string("<b>fail</b>: ")
                                                       : std::string()) +
           escape(stringOf(reason, "message", "")) + " <span class=\"small\">(" +
           escape(stringOf(reason, "code", "")) + ")</span></li>\n";
    h += "</ul>";
  }
  return h + "</div>\n";
}

}  // namespace

std::vector<Finding> keyFindings(const json& r) {
  std::vector<Finding> out;
  const json& summary = r.value("summary", json::object());
  const json& lesions = r.value("lesions", json::array());
  const json& cord = r.value("cord", json::object());
  if (!cord.value("found", false)) {
    out.push_back({"cord", "No spinal cord was found in this series: nothing could be measured."});
    return out;
  }
  // Lesions.
  if (!summary.value("lesions_assessed", false)) {
    out.push_back({"lesion", "T2-hyperintense lesions were not assessed (" +
                                 stringOf(summary, "note", "see warnings") + ")."});
  } else if (lesions.empty()) {
    out.push_back({"lesion", "No T2-hyperintense intramedullary lesion found."});
  } else {
    const json* longest = &lesions[0];
    for (const json& l : lesions)
      if (l.value("length_mm", 0.0) > longest->value("length_mm", 0.0)) longest = &l;
    const json& l = *longest;
    std::string text = "Longest T2-hyperintense lesion: " + stringOf(l, "pattern", "") + " pattern";
    if (l["top_level"].is_string())
      text += ", " + l["top_level"].get<std::string>() + "\u2013" +
              l["bottom_level"].get<std::string>();
    text += ", " + number(l["length_mm"], 0) + " mm";
    if (l["segments_spanned"].is_number()) {
      const int n = l["segments_spanned"];
      text += ", spanning " + std::to_string(n) + " vertebral segment" + (n == 1 ? "" : "s");
      const json& rule = summary.value("extensive_rule", json::object());
      const std::string reads = stringOf(rule, "reads", ">= 7 segments");
      text += summary.value("extensive_ge7_segments", false)
                  ? " \u2014 meets the extensive threshold (" + reads + ")"
                  : " \u2014 below the extensive threshold (" + reads + ")";
    }
    text += ".";
    if (lesions.size() > 1) text += " " + std::to_string(lesions.size()) + " lesions in all.";
    out.push_back({"lesion", text});
    if (summary.contains("prognosis") && summary["prognosis"].is_object()) {
      const json& p = summary["prognosis"];
      std::string facts = stringOf(p, "statement", "");
      if (p.contains("age_statement") && p["age_statement"].is_string())
        facts += " " + p["age_statement"].get<std::string>() +
                 (p.value("age_under_50", false) ? " This patient is under 50." : "");
      if (!facts.empty())
        out.push_back({"prognosis", facts + " (" + stringOf(p, "note", "") + ")"});
    }
  }
  // Craniocervical junction.
  const json& cc = r.value("craniocervical", json::object());
  if (cc.value("measured", false)) {
    std::string text = "ADI " + mm(cc["adi_mm"]);
    if (cc["adi_mm"].is_number())
      text += flag(cc, "aas_over_9mm") ? " (> 9 mm: severe anterior atlantoaxial subluxation)"
              : flag(cc, "aas_over_6mm")
                  ? " (> 6 mm: anterior atlantoaxial subluxation, alar ligaments likely involved)"
              : flag(cc, "aas_anterior")
                  ? " (> " + number(cc["thresholds"]["aas_anterior_adi_mm"]) +
                        " mm: anterior atlantoaxial subluxation)"
                  : " (normal)";
    text += "; PADI " + mm(cc["padi_mm"]);
    if (cc["padi_mm"].is_number())
      text += flag(cc, "padi_below_10mm")   ? " (< 10 mm: critical)"
              : flag(cc, "padi_below_14mm") ? " (< 14 mm: risk of cord compression)"
                                            : " (\u2265 14 mm)";
    if (cc["sac_soft_tissue_mm"].is_number())
      text += "; space available for the cord " + mm(cc["sac_soft_tissue_mm"]) +
              (flag(cc, "sac_at_most_13mm") ? " (\u2264 13 mm)" : "");
    if (cc["dens_tip_below_mcrae_mm"].is_number())
      text += flag(cc, "cranial_settling_mcrae")
                  ? "; dens tip above McRae's line (cranial settling)"
                  : "; dens tip " + mm(cc["dens_tip_below_mcrae_mm"]) + " below McRae's line";
    out.push_back({"craniocervical", text + "."});
  } else {
    const json& w = cc.value("warnings", json::array());
    out.push_back({"craniocervical",
                   "Atlantoaxial distances not measured" +
                       (w.empty() ? std::string(".") : ": " + w[0].get<std::string>() + ".")});
  }
  // Cord size by level.
  std::string atrophy, flattened;
  for (const json& level : cord.value("levels", json::array())) {
    if (level["csa_z"].is_number() && level["csa_z"].get<double>() <= -2)
      atrophy += (atrophy.empty() ? "" : ", ") + level["level"].get<std::string>() + " (z " +
                 number(level["csa_z"]) + ")";
    if (level["ap_z"].is_number() && level["ap_z"].get<double>() <= -2)
      flattened += (flattened.empty() ? "" : ", ") + level["level"].get<std::string>() + " (AP z " +
                   number(level["ap_z"]) + ")";
  }
  if (cord.value("levels", json::array()).empty())
    out.push_back({"levels", "Cord size by level not available (levels not named)."});
  else if (atrophy.empty() && flattened.empty())
    out.push_back({"levels",
                   "Cord cross-sectional area and AP diameter within 2 SD of healthy adults at "
                   "every level in view."});
  else {
    std::string text;
    if (!atrophy.empty())
      text += "Small cord cross-sectional area (atrophy, z \u2264 \u22122): " + atrophy + ". ";
    if (!flattened.empty())
      text += "Flattened cord (compression, AP z \u2264 \u22122): " + flattened + ".";
    out.push_back({"levels", text});
  }
  return out;
}

std::string renderHtmlReport(const json& r, const std::vector<EmbeddedPicture>& pictures) {
  std::ostringstream h;
  const json& input = r.value("input", json::object());
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>cordscope "
       "report</title>\n"
    << "<style>body{font-family:sans-serif;margin:24px;max-width:1500px;color:#222}"
       "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
       "ul.findings li{font-size:16px;margin:6px 0}table{border-collapse:collapse;font-size:13px}"
       "td,th{border:1px solid #bbb;padding:3px 7px;text-align:right}th{background:#eee}"
       "img{max-width:100%;border:1px solid #999}.small{color:#555;font-size:13px}"
       // The quality banner: neutral for pass, amber for check, red for fail (docs/quality.md).
       ".quality{margin:16px 0;padding:10px 16px;border-left:8px solid;font-size:16px}"
       ".quality ul{margin:6px 0 0 0}.quality-pass{background:#eceff1;border-color:#90a4ae}"
       ".quality-check{background:#ffe08a;border-color:#e69500}.quality-fail{background:#f8c4c4;"
       "border-color:#c62828}"
       "</style>\n</head><body>\n";
  // Whose study it is, as the radiologist checks first (absent when anonymised).
  const json& metadata = input.value("metadata", json::object());
  const std::string patient = stringOf(metadata, "patient_name", ""),
                    patientId = stringOf(metadata, "patient_id", "");
  h << "<h1>cordscope report</h1>\n";
  if (!patient.empty() || !patientId.empty())
    h << "<p class=\"patient\"><b>" << escape(patient.empty() ? "(no name)" : patient) << "</b>"
      << (patientId.empty() ? "" : " &middot; ID " + escape(patientId)) << "</p>\n";
  h << "<p class=\"small\">" << escape(stringOf(input, "series_description", ""))
    << " &middot; study date " << escape(stringOf(input, "study_date", "")) << " &middot; age "
    << cell(input.value("patient_age_years", json())) << " &middot; sex "
    << escape(stringOf(input, "sex", "")) << " &middot; "
    << escape(stringOf(input, "orientation", "")) << " &middot; "
    << escape(stringOf(r["tool"], "name", "cordscope")) << " "
    << escape(stringOf(r["tool"], "version", "")) << "</p>\n";
  h << qualityBanner(r.value("quality", json()));
  h << "<h2>Key findings</h2>\n<ul class=\"findings\">\n";
  for (const Finding& f : keyFindings(r)) h << "<li>" << escape(f.text) << "</li>\n";
  h << "</ul>\n<p class=\"small\">cordscope reports measurements and the thresholds they cross; it "
       "does not "
       "diagnose.</p>\n";
  const json& warnings = r.value("warnings", json::array());
  if (!warnings.empty()) {
    h << "<h2>Warnings</h2>\n<ul>\n";
    for (const json& w : warnings) h << "<li>" << escape(w.get<std::string>()) << "</li>\n";
    h << "</ul>\n";
  }
  h << "<h2>Pictures</h2>\n";
  for (const EmbeddedPicture& p : pictures) {
    std::ifstream in(p.pngPath, std::ios::binary);
    if (!in) continue;
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    h << "<h3>" << escape(p.title) << "</h3>\n<img alt=\"" << escape(p.title)
      << "\" src=\"data:image/png;base64," << base64(bytes) << "\">\n";
  }
  h << "<h2>Cord by vertebral level</h2>\n"
    << table(r["cord"].value("levels", json::array()), {{"level", "level"},
                                                        {"csa_mm2", "CSA mm\u00b2"},
                                                        {"csa_z", "CSA z"},
                                                        {"ap_mm", "AP mm"},
                                                        {"ap_z", "AP z"},
                                                        {"rl_mm", "RL mm"},
                                                        {"rl_z", "RL z"},
                                                        {"compression_ratio", "AP/RL"},
                                                        {"canal_ap_mm", "canal AP mm"},
                                                        {"canal_area_z", "canal area z"},
                                                        {"lesion_mm", "lesion mm"},
                                                        {"lesion_percent", "lesion %"}});
  h << "<h2>Lesions</h2>\n"
    << table(r.value("lesions", json::array()), {{"id", "#"},
                                                 {"top_level", "top"},
                                                 {"bottom_level", "bottom"},
                                                 {"length_mm", "length mm"},
                                                 {"segments_spanned", "segments"},
                                                 {"segments_equivalent", "segment equivalents"},
                                                 {"pattern", "pattern"},
                                                 {"volume_mm3", "volume mm\u00b3"},
                                                 {"intensity_ratio", "intensity ratio"}});
  const json& cc = r.value("craniocervical", json::object());
  h << "<h2>Craniocervical junction</h2>\n<table><tr><th>measure</th><th>value</th></tr>\n";
  for (const auto& [key, name] : std::vector<std::pair<std::string, std::string>>{
           {"adi_mm", "ADI (mm)"},
           {"padi_mm", "PADI, bone (mm)"},
           {"sac_soft_tissue_mm", "space available for the cord (mm)"},
           {"csf_reserve_mm", "CSF reserve (mm)"},
           {"cord_ap_mm", "cord AP at C1 (mm)"},
           {"canal_ap_mm", "canal AP at C1 (mm)"},
           {"compression_ratio", "cord AP/RL at C1"},
           {"cervicomedullary_angle_deg", "cervicomedullary angle (\u00b0)"},
           {"dens_tip_below_mcrae_mm", "dens tip below McRae's line (mm)"},
           {"ranawat_mm", "Ranawat (mm)"}})
    h << "<tr><td style=\"text-align:left\">" << escape(name) << "</td><td>"
      << (cc.contains(key) ? cell(cc[key]) : "-") << "</td></tr>\n";
  h << "</table>\n";
  if (cc.contains("flags") && !cc["flags"].empty()) {
    h << "<p>Flags: ";
    bool first = true;
    for (const auto& [name, raised] : cc["flags"].items()) {
      h << (first ? "" : ", ") << escape(name) << (raised.get<bool>() ? " <b>yes</b>" : " no");
      first = false;
    }
    h << "</p>\n";
  }
  if (cc.contains("quality"))
    h << "<p class=\"small\">" << escape(stringOf(cc, "quality", "")) << "</p>\n";
  h << "<h2>Method and conventions</h2>\n<ul class=\"small\">\n"
    << "<li>All distances are millimetres in patient space; coordinates are RAS (as NIfTI viewers "
       "show).</li>\n"
    << "<li>Vertebral level N spans the cord between the planes perpendicular to the centerline "
       "through the "
       "mid-disc above and below vertebral body N (C1 from the cord's top to the dens base). Level "
       "names are "
       "anchored on anatomy (anchor: "
    << escape(stringOf(r["vertebrae"], "anchor", "none"))
    << "), never counted from the image edge.</li>\n"
    << "<li>A lesion's segments are the vertebral levels it touches, part-levels included; the "
       "extensive "
       "threshold is "
    << escape(
           stringOf(r["summary"].value("extensive_rule", json::object()), "reads", ">= 7 segments"))
    << ".</li>\n"
    << "<li>ADI: posterior cortex of the C1 anterior arch to the anterior cortex of the dens, "
       "perpendicular to "
       "the dens; PADI: posterior cortex of the dens to the anterior margin of the C1 posterior "
       "arch; both on the "
       "mid-sagittal plane of the upper cord.</li>\n"
    << "<li>z-scores against " << escape(stringOf(r["cord"], "normative_reference", ""))
    << ".</li>\n"
    << "<li>Machine-readable results: report.json (schema " << escape(stringOf(r, "schema", ""))
    << "), metrics.csv, lesions.csv, discs.csv; masks cord.nii.gz, canal.nii.gz, lesion.nii.gz, "
       "levels.nii.gz on "
       "the input grid.</li>\n</ul>\n</body></html>\n";
  return h.str();
}

std::string htmlEscape(const std::string& text) {
  return escape(text);
}

std::string pngDataUri(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return "data:image/png;base64," + base64(bytes);
}

void writeHtmlReport(const json& report, const std::vector<EmbeddedPicture>& pictures,
                     const std::string& path) {
  std::ostringstream out;
  out << renderHtmlReport(report, pictures);
  writeFileAtomically(path, out.str(), "the HTML report");
}

}  // namespace cordscope
