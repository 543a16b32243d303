#include "Evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "data/Levels.h"

namespace cordscope::test {
namespace {

Vec3 lpsOf(const nlohmann::json& point) {
  const auto& p = point.at("position_lps");
  return {p[0].get<double>(), p[1].get<double>(), p[2].get<double>()};
}

std::string range(const std::optional<int>& top, const std::optional<int>& bottom) {
  if (!top || !bottom) return "?";
  return *top == *bottom ? levelName(*top) : levelName(*top) + "-" + levelName(*bottom);
}

}  // namespace

Analysis analyse(const Volume& volume) {
  return analyzeStudy(volume);
}

bool StudyScore::discsAllRight() const {
  if (discs.empty()) return false;
  for (const DiscScore& d : discs)
    if (d.ours != d.name) return false;
  return discMedianErrorMm() <= 2.0 && discMaxErrorMm() <= 5.0;
}

bool StudyScore::anyMisnamed() const {
  for (const DiscScore& d : discs)
    if (!d.ours.empty() && d.ours != "-" && d.ours != d.name) return true;
  return false;
}

double StudyScore::discMedianErrorMm() const {
  std::vector<double> e;
  for (const DiscScore& d : discs)
    if (d.ours == d.name) e.push_back(std::abs(d.errorMm));
  if (e.empty()) return 1e9;
  std::sort(e.begin(), e.end());
  return e.size() % 2 ? e[e.size() / 2] : 0.5 * (e[e.size() / 2 - 1] + e[e.size() / 2]);
}

double StudyScore::discMaxErrorMm() const {
  double m = 0;
  for (const DiscScore& d : discs)
    if (d.ours == d.name) m = std::max(m, std::abs(d.errorMm));
  return m;
}

StudyScore score(const RealAnatomyStudy& study, const Analysis& a) {
  StudyScore s;
  const nlohmann::json& truth = study.truth;
  s.name = truth.at("options").at("name");
  s.orientation = truth.at("options").at("orientation");
  s.source = truth.at("source");
  s.cordFound = a.cord.found;
  s.verdict = toString(a.quality.verdict);
  s.reasons = a.quality.codes();

  // Cord Dice over the expert mask's extent along the spine.
  {
    const auto* ours = a.cord.cord->GetBufferPointer();
    const auto* ref = study.cord->GetBufferPointer();
    const auto* region = study.cordRegion->GetBufferPointer();
    const std::size_t n = study.cord->GetLargestPossibleRegion().GetNumberOfPixels();
    std::size_t both = 0, inOurs = 0, inRef = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!region[i]) continue;
      inOurs += ours[i] != 0;
      inRef += ref[i] != 0;
      both += ours[i] && ref[i];
    }
    s.cordDice = inOurs + inRef ? 2.0 * both / (inOurs + inRef) : 0.0;
  }
  if (!a.cord.found) return s;
  const auto& sections = a.cord.sections;
  const double lastArc = sections.back().arcMm;

  // Discs C2-C3 ... C7-T1 beside the cord we found.
  s.named = a.vertebrae.named;
  s.anchor = a.vertebrae.anchor;
  s.namingExpected = s.source == "pam50" && s.orientation == "sagittal";
  for (const auto& d : truth.at("discs")) {
    const int label = d.at("label");
    if (label < 3 || label > 8 || !d.at("in_view").get<bool>()) continue;
    const double truthArc = arcAlongCord(sections, lpsOf(d));
    if (truthArc < 0 || truthArc > lastArc) continue;
    DiscScore ds;
    ds.name = d.at("name");
    const Disc* same = nullptr;
    const Disc* nearest = nullptr;
    for (const Disc& ours : a.vertebrae.discs) {
      if (ours.name == ds.name && std::abs(ours.arcMm - truthArc) <= 5.0) same = &ours;
      if (std::abs(ours.arcMm - truthArc) <= 10.0 &&
          (!nearest || std::abs(ours.arcMm - truthArc) < std::abs(nearest->arcMm - truthArc)))
        nearest = &ours;
    }
    const Disc* chosen = same ? same : nearest;
    if (chosen) {
      ds.ours = chosen->name.empty() ? "-" : chosen->name;
      ds.errorMm = chosen->arcMm - truthArc;
      ds.confidence = chosen->confidence;
    }
    s.discs.push_back(ds);
  }

  // Lesions.
  s.lesionsAssessed = a.lesions.looked;
  const LevelInvolvement involvement;
  std::vector<bool> matched(a.lesionMetrics.size(), false);
  for (const auto& t : truth.at("lesions")) {
    LesionScore ls;
    ls.truthId = t.at("id");
    if (!t.at("pattern").is_null()) ls.truthPattern = t.at("pattern");
    ls.truthLengthMm = t.at("length_mm");
    if (!t.contains("from_source")) ++s.lesionsPainted;
    if (t.contains("per_level")) {
      int first = 0, last = -1, k = 0, most = 0;
      double mostMm = -1;
      std::vector<int> levels;
      for (const auto& c : t.at("per_level")) {
        levels.push_back(c.at("level"));
        if (involvement.involved(c.at("mm"), c.at("height_mm"))) {
          if (last < 0) first = k;
          last = k;
        }
        if (c.at("mm").get<double>() > mostMm) {
          mostMm = c.at("mm");
          most = k;
        }
        ++k;
      }
      if (last < 0) first = last = most;
      if (!levels.empty()) {
        ls.truthSegments = last - first + 1;
        ls.truthLevels = range(levels[first], levels[last]);
      }
    }
    const double top = arcAlongCord(sections, lpsOf(t.at("top")));
    const double bottom = arcAlongCord(sections, lpsOf(t.at("bottom")));
    double bestOverlap = 0;
    std::size_t best = a.lesionMetrics.size();
    for (std::size_t k = 0; k < a.lesionMetrics.size(); ++k) {
      const Lesion& l = a.lesionMetrics[k];
      const double overlap = std::min(bottom + 2, l.bottomArcMm) - std::max(top - 2, l.topArcMm);
      if (overlap > 0) matched[k] = true;
      if (overlap > bestOverlap) {
        bestOverlap = overlap;
        best = k;
      }
    }
    if (best < a.lesionMetrics.size()) {
      const Lesion& l = a.lesionMetrics[best];
      ls.found = true;
      ls.ourPattern = l.pattern;
      ls.ourLengthMm = l.lengthMm;
      ls.segmentsKnown = l.segmentsSpanned.has_value();
      ls.ourSegments = l.segmentsSpanned.value_or(0);
      ls.ourLevels = range(l.topLevel, l.bottomLevel);
    }
    s.lesions.push_back(ls);
  }
  for (std::size_t k = 0; k < a.lesionMetrics.size(); ++k)
    if (!matched[k])
      s.longestFalseLesionMm = std::max(s.longestFalseLesionMm, a.lesionMetrics[k].lengthMm);
  return s;
}

std::string describe(const StudyScore& s) {
  std::ostringstream out;
  char line[400];
  std::snprintf(line, sizeof line, "%-34s %-8s cord %s Dice %.3f", s.name.c_str(),
                s.orientation.c_str(), s.cordFound ? "found" : "MISSING", s.cordDice);
  out << line << " [" << s.verdict << (s.reasons.empty() ? "" : ": " + s.reasons) << "]";
  if (!s.discs.empty()) {
    out << " | discs " << (s.named ? "named (" + s.anchor + ")" : "not named") << ":";
    for (const DiscScore& d : s.discs) {
      std::snprintf(
          line, sizeof line, " %s%s%+.1f", d.name.c_str(),
          d.ours == d.name ? "" : ("=" + (d.ours.empty() ? std::string("none") : d.ours)).c_str(),
          d.errorMm);
      out << line;
    }
    std::snprintf(line, sizeof line, " [median %.1f max %.1f%s]", s.discMedianErrorMm(),
                  s.discMaxErrorMm(),
                  s.discsAllRight() ? " ok"
                  : s.anyMisnamed() ? " MISNAMED"
                                    : " short");
    out << line;
  }
  for (const LesionScore& l : s.lesions) {
    std::snprintf(line, sizeof line, "\n    lesion %d %-8s truth %s (%d seg, %.1f mm) ours %s",
                  l.truthId, l.truthPattern.c_str(), l.truthLevels.c_str(), l.truthSegments,
                  l.truthLengthMm, l.found ? "" : "NOT FOUND");
    out << line;
    if (l.found) {
      std::snprintf(line, sizeof line, "%s (%s seg, %.1f mm) %s", l.ourLevels.c_str(),
                    l.segmentsKnown ? std::to_string(l.ourSegments).c_str() : "?", l.ourLengthMm,
                    l.ourPattern.c_str());
      out << line;
    }
  }
  if (s.longestFalseLesionMm > 0) {
    std::snprintf(line, sizeof line, "\n    false lesion %.1f mm", s.longestFalseLesionMm);
    out << line;
  }
  return out.str();
}

}  // namespace cordscope::test
