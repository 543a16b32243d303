#include "measurement/FollowUp.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "data/Error.h"
#include "data/Levels.h"

namespace cordscope {
namespace {

using nlohmann::json;

// Named discs of a report: (u = the vertebra below, arc mm), cranial first.
std::vector<std::pair<double, double>> namedDiscs(const json& report) {
  std::vector<std::pair<double, double>> out;
  if (!report.contains("vertebrae")) return out;
  if (!report["vertebrae"].is_object() || !report["vertebrae"].contains("discs")) return out;
  for (const json& d : report["vertebrae"]["discs"]) {
    // Unnamed discs (levels not named) carry a null name.
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string() || !d.contains("arc_mm") ||
        !d["arc_mm"].is_number())
      continue;
    const std::string name = d["name"].get<std::string>();
    const auto dash = name.find('-');
    if (name.empty() || dash == std::string::npos) continue;
    try {
      out.push_back(
          {static_cast<double>(parseLevel(name.substr(dash + 1))), d["arc_mm"].get<double>()});
    } catch (const std::exception&) {
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

std::optional<double> number(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<double>();
}

std::string text(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

// Days since 1970 of a YYYYMMDD date.
std::optional<double> days(const std::string& date) {
  if (date.size() != 8 || !std::all_of(date.begin(), date.end(), ::isdigit)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(date.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(date.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(date.substr(6, 2));
  tm.tm_hour = 12;
  return static_cast<double>(timegm(&tm)) / 86400.0;
}

std::string extentText(const json& lesion) {
  std::string out;
  if (lesion["top_level"].is_string() && lesion["bottom_level"].is_string()) {
    out = lesion["top_level"].get<std::string>();
    if (lesion["bottom_level"] != lesion["top_level"])
      out += "\u2013" + lesion["bottom_level"].get<std::string>();
  }
  if (lesion["segments_spanned"].is_number()) {
    const int n = lesion["segments_spanned"];
    out += (out.empty() ? "" : ", ") + std::to_string(n) + (n == 1 ? " segment" : " segments");
  } else if (lesion["length_mm"].is_number()) {
    out += (out.empty() ? "" : ", ") +
           std::to_string(static_cast<int>(std::lround(lesion["length_mm"].get<double>()))) + " mm";
  }
  return out;
}

std::string capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

std::optional<double> levelCoordinate(const json& report, double arcMm) {
  const auto discs = namedDiscs(report);
  if (discs.empty()) return std::nullopt;
  constexpr double kTypicalLevelMm = 18;  // only when a single disc is named
  if (discs.size() == 1) return discs[0].first + (arcMm - discs[0].second) / kTypicalLevelMm;
  std::size_t k = 0;
  while (k + 2 < discs.size() && arcMm > discs[k + 1].second) ++k;
  const auto& [u0, a0] = discs[k];
  const auto& [u1, a1] = discs[k + 1];
  return u0 + (u1 - u0) * (arcMm - a0) / (a1 - a0);
}

std::optional<double> arcAtLevelCoordinate(const json& report, double u) {
  const auto discs = namedDiscs(report);
  if (discs.empty()) return std::nullopt;
  constexpr double kTypicalLevelMm = 18;
  if (discs.size() == 1) return discs[0].second + (u - discs[0].first) * kTypicalLevelMm;
  std::size_t k = 0;
  while (k + 2 < discs.size() && u > discs[k + 1].first) ++k;
  const auto& [u0, a0] = discs[k];
  const auto& [u1, a1] = discs[k + 1];
  return a0 + (a1 - a0) * (u - u0) / (u1 - u0);
}

TimePoint timePointFromReport(const std::string& reportText, const std::string& reportPath,
                              const std::string& dir, int order, std::string& checkReasons) {
  TimePoint t;
  checkReasons.clear();
  try {
    t.report = json::parse(reportText);
  } catch (const json::exception& e) {
    throw InputError(reportPath + ": not a readable report (" + e.what() + ")");
  }
  const auto block = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_object() ? object[key]
                                                                                 : json::object();
  };
  if (!t.report.is_object() || !t.report.contains("cord") || !t.report["cord"].is_object())
    throw InputError(reportPath + ": not a cordscope report (no cord block)");
  t.order = order;
  t.outputDir = dir;
  t.studyDate = text(block(t.report, "input"), "study_date");
  t.label = t.studyDate.size() == 8 ? t.studyDate.substr(0, 4) + "-" + t.studyDate.substr(4, 2) +
                                          "-" + t.studyDate.substr(6, 2)
                                    : "time point " + std::to_string(order);
  const json& found = t.report["cord"].contains("found") ? t.report["cord"]["found"] : json(false);
  if (!found.is_boolean() || !found.get<bool>())
    throw InputError(dir + ": no cord was found at this time point; nothing to compare");
  // A time point its own quality control rejected would turn its errors into "change".
  const json quality = block(t.report, "quality");
  const std::string verdict = text(quality, "verdict");
  std::string reasons;
  if (quality.contains("reasons") && quality["reasons"].is_array())
    for (const json& reason : quality["reasons"])
      reasons += (reasons.empty() ? "" : "; ") + text(reason, "message");
  if (verdict == "fail")
    throw InputError(dir + ": this time point failed its quality control (" + reasons +
                     "); nothing to compare");
  if (verdict == "check") checkReasons = reasons;
  return t;
}

Comparison compareTimePoints(const TimePoint& base, const TimePoint& follow,
                             const FollowUpRules& rules) {
  Comparison c;
  c.baseline = base;
  c.followUp = follow;
  c.rules = rules;
  if (const auto d0 = days(base.studyDate), d1 = days(follow.studyDate); d0 && d1)
    c.months = (*d1 - *d0) / 30.4375;

  // Lesion extents in the level coordinate.
  struct Extent {
    json lesion;
    double top = 0, bottom = 0;
    bool known = false;
  };
  const auto extents = [](const TimePoint& t) {
    std::vector<Extent> out;
    for (const json& l : t.report.value("lesions", json::array())) {
      Extent e;
      e.lesion = l;
      const auto top = number(l, "top_arc_mm"), bottom = number(l, "bottom_arc_mm");
      if (top && bottom)
        if (const auto ut = levelCoordinate(t.report, *top),
            ub = levelCoordinate(t.report, *bottom);
            ut && ub) {
          e.top = *ut;
          e.bottom = *ub;
          e.known = true;
        }
      out.push_back(e);
    }
    return out;
  };
  const std::vector<Extent> before = extents(base), after = extents(follow);
  // Each follow-up lesion to the baseline lesion it overlaps most (a quarter level of gap still
  // counts: the ends of a faint lesion move that much between scans).
  std::vector<int> matchOf(after.size(), -1);
  std::vector<double> overlapOf(after.size(), 0);
  std::vector<bool> taken(before.size(), false);
  std::vector<std::tuple<double, std::size_t, std::size_t>> pairs;
  for (std::size_t i = 0; i < before.size(); ++i)
    for (std::size_t j = 0; j < after.size(); ++j) {
      if (!before[i].known || !after[j].known) continue;
      const double overlap =
          std::min(before[i].bottom, after[j].bottom) - std::max(before[i].top, after[j].top);
      if (overlap > -0.25) pairs.push_back({overlap, i, j});
    }
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  for (const auto& [overlap, i, j] : pairs)
    if (!taken[i] && matchOf[j] < 0) {
      taken[i] = true;
      matchOf[j] = static_cast<int>(i);
      overlapOf[j] = overlap;
    }
  for (std::size_t i = 0; i < before.size(); ++i) {
    const auto j = std::find(matchOf.begin(), matchOf.end(), static_cast<int>(i));
    LesionChange change;
    change.baselineId = before[i].lesion.value("id", 0);
    change.baseline = before[i].lesion;
    change.followUp = nullptr;
    change.pattern = text(before[i].lesion, "pattern");
    if (j == matchOf.end()) {
      change.cls = "resolved";
      c.lesions.push_back(change);
      continue;
    }
    const json& f = after[static_cast<std::size_t>(j - matchOf.begin())].lesion;
    change.followUpId = f.value("id", 0);
    change.followUp = f;
    change.overlapLevels = overlapOf[static_cast<std::size_t>(j - matchOf.begin())];
    const double l0 = number(change.baseline, "length_mm").value_or(0),
                 l1 = number(f, "length_mm").value_or(0);
    const double v0 = number(change.baseline, "volume_mm3").value_or(0),
                 v1 = number(f, "volume_mm3").value_or(0);
    change.lengthChangeMm = l1 - l0;
    change.volumeChangeMm3 = v1 - v0;
    if (v0 > 0) change.volumeChangeFraction = (v1 - v0) / v0;
    if (const auto i0 = number(change.baseline, "intensity_ratio"),
        i1 = number(f, "intensity_ratio");
        i0 && i1)
      change.intensityRatioChange = *i1 - *i0;
    if (const auto s0 = number(change.baseline, "segments_spanned"),
        s1 = number(f, "segments_spanned");
        s0 && s1)
      change.segmentsChange = static_cast<int>(*s1 - *s0);
    const double dl = *change.lengthChangeMm, dv = change.volumeChangeFraction.value_or(0);
    if (dl < -rules.lengthMm || (dv < -rules.volumeFraction && dl <= 0))
      change.cls = "improved";
    else if (dl > rules.lengthMm || (dv > rules.volumeFraction && dl >= 0))
      change.cls = "worse";
    else
      change.cls = "stable";
    c.lesions.push_back(change);
  }
  for (std::size_t j = 0; j < after.size(); ++j) {
    if (matchOf[j] >= 0) continue;
    LesionChange change;
    change.followUpId = after[j].lesion.value("id", 0);
    change.followUp = after[j].lesion;
    change.baseline = nullptr;
    change.pattern = text(after[j].lesion, "pattern");
    change.cls = "new";
    c.lesions.push_back(change);
  }

  // Cord area per level.
  std::map<std::string, json> levels0, levels1;
  const auto levelsOf = [](const json& report) {
    return report.contains("cord") && report["cord"].is_object()
               ? report["cord"].value("levels", json::array())
               : json::array();
  };
  for (const json& l : levelsOf(base.report)) levels0[text(l, "level")] = l;
  for (const json& l : levelsOf(follow.report)) levels1[text(l, "level")] = l;
  for (int level = 1; level <= 12; ++level) {
    const std::string name = levelName(level);
    if (!levels0.count(name) && !levels1.count(name)) continue;
    LevelChange change;
    change.level = name;
    if (levels0.count(name)) {
      change.csaBaseline = number(levels0[name], "csa_mm2");
      change.lesionMmBaseline = number(levels0[name], "lesion_mm").value_or(0);
    }
    if (levels1.count(name)) {
      change.csaFollowUp = number(levels1[name], "csa_mm2");
      change.lesionMmFollowUp = number(levels1[name], "lesion_mm").value_or(0);
    }
    if (change.csaBaseline && change.csaFollowUp && *change.csaBaseline > 0) {
      change.csaChangePercent =
          100 * (*change.csaFollowUp - *change.csaBaseline) / *change.csaBaseline;
      change.atrophy = *change.csaChangePercent < -rules.csaPercent;
    }
    c.levels.push_back(change);
  }
  const json& cc0 = base.report.value("craniocervical", json::object());
  const json& cc1 = follow.report.value("craniocervical", json::object());
  if (const auto a0 = number(cc0, "adi_mm"), a1 = number(cc1, "adi_mm"); a0 && a1)
    c.adiChangeMm = *a1 - *a0;
  if (const auto p0 = number(cc0, "padi_mm"), p1 = number(cc1, "padi_mm"); p0 && p1)
    c.padiChangeMm = *p1 - *p0;

  // The sentence: the longest baseline lesion's course, else the largest new one.
  const LesionChange* lead = nullptr;
  for (const LesionChange& l : c.lesions)
    if (l.baselineId && (!lead || number(l.baseline, "length_mm").value_or(0) >
                                      number(lead->baseline, "length_mm").value_or(0)))
      lead = &l;
  if (!lead)
    for (const LesionChange& l : c.lesions)
      if (!lead || number(l.followUp, "length_mm").value_or(0) >
                       number(lead->followUp, "length_mm").value_or(0))
        lead = &l;
  std::string span;
  if (c.months) {
    char t[48];
    std::snprintf(t, sizeof t, " over %.0f month%s", std::round(*c.months),
                  std::lround(*c.months) == 1 ? "" : "s");
    span = t;
  } else {
    span = " between " + base.label + " and " + follow.label;
  }
  if (!lead) {
    c.summary = "No T2 lesion at either time point" + span + ".";
  } else if (lead->cls == "new") {
    c.summary = "New " + lead->pattern + " lesion " + extentText(lead->followUp) + span + ": new";
  } else if (lead->cls == "resolved") {
    c.summary = capitalised(lead->pattern) + " lesion " + extentText(lead->baseline) +
                " \u2192 no lesion" + span + ": resolved";
  } else {
    c.summary = capitalised(lead->pattern) + " lesion " + extentText(lead->baseline) + " \u2192 " +
                extentText(lead->followUp) + span + ": " + lead->cls;
  }
  int others = 0;
  for (const LesionChange& l : c.lesions) others += &l != lead && l.cls != "stable";
  if (others > 0)
    c.summary += " (" + std::to_string(others) + " other change" + (others == 1 ? "" : "s") + ")";
  return c;
}

void to_json(json& j, const LesionChange& c) {
  const auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  j = {{"class", c.cls},
       {"pattern", c.pattern},
       {"baseline_id", opt(c.baselineId)},
       {"followup_id", opt(c.followUpId)},
       {"baseline", c.baseline},
       {"followup", c.followUp},
       {"overlap_levels", std::round(c.overlapLevels * 100) / 100},
       {"change",
        {{"length_mm", opt(c.lengthChangeMm)},
         {"segments", opt(c.segmentsChange)},
         {"volume_mm3", opt(c.volumeChangeMm3)},
         {"volume_fraction", opt(c.volumeChangeFraction)},
         {"intensity_ratio", opt(c.intensityRatioChange)}}}};
}

void to_json(json& j, const LevelChange& c) {
  const auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  j = {{"level", c.level},
       {"csa_baseline_mm2", opt(c.csaBaseline)},
       {"csa_followup_mm2", opt(c.csaFollowUp)},
       {"csa_change_percent", opt(c.csaChangePercent)},
       {"atrophy", c.atrophy},
       {"lesion_mm_baseline", c.lesionMmBaseline},
       {"lesion_mm_followup", c.lesionMmFollowUp}};
}

void to_json(json& j, const Comparison& c) {
  const auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  const auto point = [](const TimePoint& t) {
    return json{{"label", t.label},
                {"study_date", t.studyDate},
                {"order", t.order},
                {"output_dir", t.outputDir}};
  };
  j = {{"baseline", point(c.baseline)},
       {"followup", point(c.followUp)},
       {"months", opt(c.months)},
       {"summary", c.summary},
       {"lesions", c.lesions},
       {"levels", c.levels},
       {"adi_change_mm", opt(c.adiChangeMm)},
       {"padi_change_mm", opt(c.padiChangeMm)},
       {"thresholds",
        {{"length_mm", c.rules.lengthMm},
         {"volume_fraction", c.rules.volumeFraction},
         {"csa_percent", c.rules.csaPercent},
         {"adi_mm", c.rules.adiMm}}}};
}

}  // namespace cordscope
