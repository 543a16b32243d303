#include "measurement/LesionMetrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/Statistics.h"
#include "data/Levels.h"

namespace cordscope {
namespace {

// Heights of the levels between named discs (level N: from the disc at the top of vertebra N to
// the next), and their median for levels whose discs are not both in view.
std::map<int, double> levelHeights(const std::vector<Disc>& named, double& typical) {
  std::map<int, double> heights;
  std::vector<double> all;
  for (std::size_t k = 0; k + 1 < named.size(); ++k)
    if (named[k + 1].lowerVertebra == named[k].lowerVertebra + 1) {
      const double h = named[k + 1].arcMm - named[k].arcMm;
      heights[named[k].lowerVertebra] = h;
      all.push_back(h);
    }
  typical = all.empty() ? 18.0 : median(all);  // 18 mm: a cervical level, if nothing is known
  return heights;
}

// A lesion's position is read on measured outlines only when at least this many of its voxels,
// and this share of them, lie there.
constexpr std::size_t kMinMeasuredVoxels = 20;
constexpr double kMinMeasuredShare = 0.1;

// Where the lesion sits in the section, from its voxels' positions in cord semi-axes
// (p: + posterior, q: lateral) and how much of the section it fills.
std::string patternOf(const std::vector<LesionVoxel>& voxels, const CordSegmentation& cord,
                      double medianDamage) {
  if (medianDamage >= 0.6) return "holocord";
  // The position is read where the cord's outline was measured, when enough of the lesion lies
  // there: an outline modelled from the canal or interpolated (a bright lesion hid the cord's
  // edge) is centred by the patient's typical cord-in-canal offset, not on this cord, and a
  // dorsal lesion as bright as CSF sits near its middle (real-anatomy: dorsal lesions at p
  // 0.44-0.56 on measured sections, 0.0-0.5 on the others; random-17-6, a C3-T2 dorsal lesion,
  // read 0.18 in all - central - and 0.47 where measured).
  std::size_t onMeasured = 0;
  for (const LesionVoxel& v : voxels) onMeasured += cord.sections[v.where.section].measured;
  const bool measuredOnly = onMeasured >= kMinMeasuredVoxels &&
                            onMeasured >= kMinMeasuredShare * static_cast<double>(voxels.size());
  std::vector<double> ps, qs;
  double sumP = 0, sumQ = 0;
  for (const LesionVoxel& v : voxels) {
    const CrossSection& s = cord.sections[v.where.section];
    if (measuredOnly && !s.measured) continue;
    ps.push_back(-v.where.anteriorMm / std::max(0.5, 0.5 * s.apMm));
    qs.push_back(v.where.lateralMm / std::max(0.5, 0.5 * s.rlMm));
    sumP += ps.back();
    sumQ += qs.back();
  }
  const double p = sumP / ps.size(), q = std::abs(sumQ / qs.size());
  // Holocord also when the lesion is centred and reaches far towards the cord's edge on all four
  // sides: the growth keeps to voxels wholly inside the outline, so on thick slices the lesion's
  // share of the section (the damage ratio) reads low for a lesion that fills it.
  if (medianDamage >= 0.35 && std::abs(p) < 0.2 && q < 0.2 && percentile(ps, 0.05) <= -0.5 &&
      percentile(ps, 0.95) >= 0.5 && percentile(qs, 0.05) <= -0.4 && percentile(qs, 0.95) >= 0.4)
    return "holocord";
  if (q >= 0.3 && q > std::abs(p)) return "lateral";
  if (p >= 0.2) return "dorsal";
  if (p <= -0.2) return "ventral";
  return "central";
}

}  // namespace

std::string LevelInvolvement::text() const {
  char text[160];
  std::snprintf(text, sizeof text,
                "a level counts when the lesion covers at least %.3g mm or %.3g %% of its height, "
                "whichever is less",
                minMm, 100 * minFraction);
  return text;
}

std::vector<Lesion> measureLesions(const LesionSegmentation& segmentation,
                                   const CordSegmentation& cord, const VertebralLabels& vertebrae,
                                   const LevelInvolvement& involvement) {
  std::vector<Lesion> out;
  if (cord.sections.size() < 2) return out;
  const double step = cord.sections[1].arcMm - cord.sections[0].arcMm;
  std::vector<Disc> named;
  bool provisional = false;
  if (vertebrae.named) {
    for (const Disc& d : vertebrae.discs)
      if (d.lowerVertebra > 0) named.push_back(d);
  } else if (vertebrae.discs.size() >= 2) {
    // Discs found but not named: segments can still be counted between them (consecutive
    // vertebrae, numbered from an arbitrary start); the level names stay unknown.
    // Below the foramen magnum the chain may start with the skull base's edge and the dens base
    // (Vertebrae.h): they are not intervertebral discs and would add segments.
    provisional = true;
    for (const Disc& d : vertebrae.discs)
      if (!cord.topIsJunction || d.arcMm >= 30.0) named.push_back(d);
    for (std::size_t k = 0; k < named.size(); ++k)
      named[k].lowerVertebra = 100 + static_cast<int>(k);
  }
  // The disc ladder completed: discs missing between two given ones (labels 3 and 6 given) spaced
  // evenly; then virtual discs one typical height apart beyond the first and last, so that a
  // lesion running past the discs in view still counts every level it crosses.
  double typicalHeight = 18.0;
  std::map<int, double> heights;
  if (!named.empty()) {
    std::vector<Disc> ladder;
    for (std::size_t k = 0; k < named.size(); ++k) {
      if (k > 0) {
        const int missing = named[k].lowerVertebra - named[k - 1].lowerVertebra - 1;
        for (int m = 1; m <= missing; ++m) {
          Disc v = named[k - 1];
          v.lowerVertebra += m;
          v.arcMm += (named[k].arcMm - named[k - 1].arcMm) * m / (missing + 1);
          ladder.push_back(v);
        }
      }
      ladder.push_back(named[k]);
    }
    heights = levelHeights(ladder, typicalHeight);
    const double cordEnd = cord.sections.back().arcMm;
    while (ladder.front().lowerVertebra > 2 &&  // nothing above the C1/C2 junction
           ladder.front().arcMm > 0) {
      Disc v = ladder.front();
      v.lowerVertebra -= 1;
      v.arcMm -= typicalHeight;
      ladder.insert(ladder.begin(), v);
    }
    while (ladder.back().arcMm < cordEnd) {
      Disc v = ladder.back();
      v.lowerVertebra += 1;
      v.arcMm += typicalHeight;
      ladder.push_back(v);
    }
    named = ladder;
  }
  const auto heightOf = [&](int level) {
    const auto it = heights.find(level);
    return it != heights.end() ? it->second : typicalHeight;
  };

  for (std::size_t id = 0; id < segmentation.lesions.size(); ++id) {
    const auto& voxels = segmentation.lesions[id];
    if (voxels.empty()) continue;
    Lesion l;
    l.id = static_cast<int>(id + 1);
    l.topArcMm = 1e300;
    l.bottomArcMm = -1e300;
    std::map<std::size_t, int> perSection;
    double ratioSum = 0;
    for (const LesionVoxel& v : voxels) {
      l.topArcMm = std::min(l.topArcMm, v.where.arcMm);
      l.bottomArcMm = std::max(l.bottomArcMm, v.where.arcMm);
      ++perSection[v.where.section];
      ratioSum += v.cordLevel > 0 ? v.intensity / v.cordLevel : 0;
    }
    // Voxel centres run from half a voxel below the top to half a voxel above the bottom.
    const double half = 0.5 * segmentation.voxelExtentAlongCordMm;
    l.topArcMm -= half;
    l.bottomArcMm += half;
    l.lengthMm = l.bottomArcMm - l.topArcMm;
    l.volumeMm3 = voxels.size() * segmentation.voxelVolumeMm3;
    l.intensityRatio = ratioSum / voxels.size();

    // Axial area per section: voxels pooled over +-1 mm (thick voxels fall in few sections).
    const long pool = std::max(1L, static_cast<long>(std::lround(1.0 / step)));
    std::vector<double> damages;
    for (const auto& [section, n] : perSection) {
      double count = 0;
      for (long k = static_cast<long>(section) - pool; k <= static_cast<long>(section) + pool;
           ++k) {
        const auto it = perSection.find(static_cast<std::size_t>(std::max(0L, k)));
        if (k >= 0 && it != perSection.end()) count += it->second;
      }
      const double area = count * segmentation.voxelVolumeMm3 / ((2 * pool + 1) * step);
      const double cordArea = cord.sections[section].areaMm2;
      const double damage = cordArea > 0 ? std::min(1.0, area / cordArea) : 0;
      l.maxAxialAreaMm2 = std::max(l.maxAxialAreaMm2, area);
      l.maxAxialDamageRatio = std::max(l.maxAxialDamageRatio, damage);
      damages.push_back(damage);
    }
    l.pattern = patternOf(voxels, cord, damages.empty() ? 0.0 : median(damages));

    if (!named.empty()) {
      const int top = levelAtArc(named, l.topArcMm), bottom = levelAtArc(named, l.bottomArcMm);
      // Per level: the overlap of [top, bottom] with the level's extent along the cord.
      double equivalent = 0;
      std::vector<LevelCoverage> covered;
      for (int level = top; level <= bottom; ++level) {
        double from = -1e300, to = 1e300;
        for (const Disc& d : named) {
          if (d.lowerVertebra == level) from = d.arcMm;
          if (d.lowerVertebra == level + 1) to = d.arcMm;
        }
        const double mm = std::max(0.0, std::min(to, l.bottomArcMm) - std::max(from, l.topArcMm));
        const double height = heightOf(level);
        covered.push_back({level, mm, height});
        equivalent += mm / height;
      }
      // Involved levels: those the rule accepts (contiguous: the inner levels are covered
      // whole), at least the one covered most.
      int first = 0, last = -1;
      for (int k = 0; k < static_cast<int>(covered.size()); ++k)
        if (involvement.involved(covered[k].mm, covered[k].heightMm)) {
          if (last < 0) first = k;
          last = k;
        }
      if (last < 0) {
        first = last =
            static_cast<int>(std::max_element(covered.begin(), covered.end(),
                                              [](const LevelCoverage& a, const LevelCoverage& b) {
                                                return a.mm < b.mm;
                                              }) -
                             covered.begin());
      }
      l.segmentsSpanned = last - first + 1;
      l.segmentsTouched = static_cast<int>(covered.size());
      if (!provisional) {
        l.topLevel = covered[first].level;
        l.bottomLevel = covered[last].level;
        l.perLevel = covered;
        for (int k = 0; k < static_cast<int>(covered.size()); ++k)
          if ((k < first || k > last) && covered[k].mm > 0)
            l.levelsTouched.push_back(covered[k].level);
      }
      l.segmentsEquivalent = equivalent;
    }
    out.push_back(l);
  }
  return out;
}

namespace {

// The point on a cord at an arc along it (the nearest section's centre).
Vec3 pointAtArc(const CordSegmentation& cord, double arcMm) {
  const auto& s = cord.sections;
  std::size_t best = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (std::abs(s[i].arcMm - arcMm) < std::abs(s[best].arcMm - arcMm)) best = i;
  return s[best].centre + (arcMm - s[best].arcMm) * s[best].tangent;
}

}  // namespace

std::vector<AxialOnlyLesion> refineWithAxial(std::vector<Lesion>& lesions,
                                             const CordSegmentation& sagittalCord,
                                             const VertebralLabels& sagittalLevels,
                                             const std::vector<Lesion>& axialLesions,
                                             const CordSegmentation& axialCord,
                                             const std::string& axialSeries) {
  std::vector<AxialOnlyLesion> alone;
  if (!sagittalCord.found || !axialCord.found || sagittalCord.sections.empty() ||
      axialCord.sections.empty())
    return alone;
  const auto onSagittal = [&](double axialArc) {
    return arcAlongCord(sagittalCord.sections, pointAtArc(axialCord, axialArc));
  };
  // The axial series' cover along the sagittal cord.
  double coverFrom = onSagittal(axialCord.sections.front().arcMm),
         coverTo = onSagittal(axialCord.sections.back().arcMm);
  if (coverFrom > coverTo) std::swap(coverFrom, coverTo);
  std::vector<std::pair<double, double>> axialExtents;
  for (const Lesion& a : axialLesions) {
    double top = onSagittal(a.topArcMm), bottom = onSagittal(a.bottomArcMm);
    if (top > bottom) std::swap(top, bottom);
    axialExtents.emplace_back(top, bottom);
  }
  constexpr double kMarginMm = 2.0;  // ends placed through another series: a voxel or two apart
  std::vector<bool> explained(axialLesions.size(), false);
  for (Lesion& l : lesions) {
    // Covered: the axial series reaches over the lesion's middle.
    const double middle = 0.5 * (l.topArcMm + l.bottomArcMm);
    if (middle < coverFrom || middle > coverTo) continue;
    std::size_t best = axialLesions.size();
    double bestOverlap = 0;
    for (std::size_t k = 0; k < axialLesions.size(); ++k) {
      const double overlap = std::min(l.bottomArcMm, axialExtents[k].second + kMarginMm) -
                             std::max(l.topArcMm, axialExtents[k].first - kMarginMm);
      if (overlap > 0) explained[k] = true;
      if (overlap > bestOverlap) {
        bestOverlap = overlap;
        best = k;
      }
    }
    if (best == axialLesions.size()) continue;
    const Lesion& a = axialLesions[best];
    l.sagittalPattern = l.pattern;
    l.pattern = a.pattern;
    l.patternSource = "axial series " + axialSeries;
    l.maxAxialAreaMm2 = a.maxAxialAreaMm2;
    l.maxAxialDamageRatio = a.maxAxialDamageRatio;
  }
  std::vector<Disc> named;
  for (const Disc& d : sagittalLevels.discs)
    if (sagittalLevels.named && d.lowerVertebra > 0) named.push_back(d);
  for (std::size_t k = 0; k < axialLesions.size(); ++k) {
    if (explained[k]) continue;
    AxialOnlyLesion o;
    o.topArcMm = axialExtents[k].first;
    o.bottomArcMm = axialExtents[k].second;
    o.pattern = axialLesions[k].pattern;
    if (!named.empty()) {
      o.topLevel = levelAtArc(named, o.topArcMm);
      o.bottomLevel = levelAtArc(named, o.bottomArcMm);
    }
    alone.push_back(o);
  }
  return alone;
}

LesionSummary summariseLesions(const LesionSegmentation& segmentation,
                               const std::vector<Lesion>& lesions, const ExtensiveRule& rule,
                               std::optional<double> patientAgeYears) {
  LesionSummary s;
  s.assessed = segmentation.looked;
  s.note = segmentation.note;
  s.rule = rule;
  s.patientAgeYears = patientAgeYears;
  s.lesionCount = static_cast<int>(lesions.size());
  if (!s.assessed) return s;
  bool allNamed = true;
  int most = 0;
  for (const Lesion& l : lesions) {
    if (!l.segmentsSpanned) {
      allNamed = false;
      continue;
    }
    most = std::max(most, *l.segmentsSpanned);
  }
  if (allNamed) {
    s.maxSegmentsSpanned = most;
    s.extensive = rule.extensive(most);
  }
  return s;
}

void to_json(nlohmann::json& j, const Lesion& l) {
  const auto optionalLevel = [](const std::optional<int>& level) {
    return level ? nlohmann::json(levelName(*level)) : nlohmann::json();
  };
  nlohmann::json perLevel = nlohmann::json::array();
  for (const LevelCoverage& c : l.perLevel)
    perLevel.push_back(
        {{"level", levelName(c.level)}, {"mm", c.mm}, {"level_height_mm", c.heightMm}});
  j = nlohmann::json{
      {"id", l.id},
      {"length_mm", l.lengthMm},
      {"top_arc_mm", l.topArcMm},
      {"bottom_arc_mm", l.bottomArcMm},
      {"top_level", optionalLevel(l.topLevel)},
      {"bottom_level", optionalLevel(l.bottomLevel)},
      {"segments_spanned",
       l.segmentsSpanned ? nlohmann::json(*l.segmentsSpanned) : nlohmann::json()},
      {"segments_equivalent",
       l.segmentsEquivalent ? nlohmann::json(*l.segmentsEquivalent) : nlohmann::json()},
      {"segments_touched",
       l.segmentsSpanned ? nlohmann::json(l.segmentsTouched) : nlohmann::json()},
      {"levels_touched",
       [&] {
         nlohmann::json touched = nlohmann::json::array();
         for (int level : l.levelsTouched) touched.push_back(levelName(level));
         return touched;
       }()},
      {"volume_mm3", l.volumeMm3},
      {"max_axial_area_mm2", l.maxAxialAreaMm2},
      {"max_axial_damage_ratio", l.maxAxialDamageRatio},
      {"intensity_ratio", l.intensityRatio},
      {"pattern", l.pattern},
      {"pattern_source", l.patternSource},
      {"sagittal_pattern",
       l.sagittalPattern.empty() ? nlohmann::json() : nlohmann::json(l.sagittalPattern)},
      {"per_level", perLevel}};
}

void to_json(nlohmann::json& j, const LesionSummary& s) {
  nlohmann::json prognosis = nlohmann::json::object();
  if (s.assessed) {
    if (s.maxSegmentsSpanned) {
      prognosis["segments"] = *s.maxSegmentsSpanned;
      prognosis["threshold"] = s.rule.text() + " segments";
      prognosis["meets_threshold"] = *s.extensive;
      prognosis["statement"] =
          s.lesionCount == 0
              ? "No T2-hyperintense cord lesion was found."
              : std::string("The longest lesion spans ") + std::to_string(*s.maxSegmentsSpanned) +
                    " vertebral segment(s). Published series of vitamin B12 myelopathy report "
                    "that demyelination spanning " +
                    s.rule.text() +
                    " segments is less likely to reverse with treatment; this lesion " +
                    (*s.extensive ? "meets" : "does not meet") + " that threshold.";
    } else {
      prognosis["statement"] =
          "No vertebral discs were found around the lesion, so the segment count is not given.";
    }
    if (s.patientAgeYears) {
      prognosis["age_years"] = *s.patientAgeYears;
      prognosis["age_under_50"] = *s.patientAgeYears < 50;
      prognosis["age_statement"] = "Published series report better outcomes under age 50.";
    }
    prognosis["note"] = "Facts reported in the literature, not medical advice.";
  }
  j = nlohmann::json{
      {"lesions_assessed", s.assessed},
      {"lesion_count", s.lesionCount},
      {"max_segments_spanned",
       s.maxSegmentsSpanned ? nlohmann::json(*s.maxSegmentsSpanned) : nlohmann::json()},
      {"extensive_ge7_segments", s.extensive ? nlohmann::json(*s.extensive) : nlohmann::json()},
      {"extensive_rule",
       {{"segments", s.rule.segments},
        {"inclusive", s.rule.inclusive},
        {"reads", s.rule.text() + " segments"}}},
      {"level_involvement",
       {{"min_mm", s.involvement.minMm},
        {"min_fraction", s.involvement.minFraction},
        {"reads", s.involvement.text()}}},
      {"prognosis", prognosis}};
  if (!s.note.empty()) j["note"] = s.note;
}

}  // namespace cordscope
