// Lesion measurements along the cord: length, levels and segments, size, intensity, pattern, and
// the summary that carries the seven-segment reading (CLINICAL.md).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/Lesions.h"
#include "segmentation/Vertebrae.h"

namespace cordscope {

struct LevelCoverage {
  int level = 0;    // 1 = C1 ... 9 = T2
  double mm = 0;    // length of this level the lesion covers
  double heightMm = 0;  // the level's height along the cord (from its discs, else the median)
};

struct Lesion {
  int id = 0;
  double topArcMm = 0, bottomArcMm = 0;  // along the centerline from the cord's top
  double lengthMm = 0;
  std::optional<int> topLevel, bottomLevel;  // absent when the levels are not named
  // Levels touched, part-levels included; counted between the discs found even when they are
  // not named (a field of view without the foramen magnum). Absent without discs.
  std::optional<int> segmentsSpanned;
  std::optional<double> segmentsEquivalent;  // sum of covered mm / level height
  std::vector<LevelCoverage> perLevel;
  double volumeMm3 = 0, maxAxialAreaMm2 = 0, maxAxialDamageRatio = 0, intensityRatio = 0;
  std::string pattern;  // dorsal, lateral, ventral, central, holocord
};

struct ExtensiveRule {
  int segments = 7;
  bool inclusive = true;  // ">= 7" (true) or "> 7"
  bool extensive(int spanned) const { return inclusive ? spanned >= segments : spanned > segments; }
  std::string text() const { return (inclusive ? ">= " : "> ") + std::to_string(segments); }
};

struct LesionSummary {
  bool assessed = false;  // false: lesions not looked for (no cord, T1 contrast)
  std::string note;
  int lesionCount = 0;
  std::optional<int> maxSegmentsSpanned;
  std::optional<bool> extensive;  // any lesion meets the rule; absent when no discs were found
  ExtensiveRule rule;
  std::optional<double> patientAgeYears;
};

std::vector<Lesion> measureLesions(const LesionSegmentation& lesions, const CordSegmentation& cord,
                                   const VertebralLabels& vertebrae);

LesionSummary summariseLesions(const LesionSegmentation& segmentation,
                               const std::vector<Lesion>& lesions, const ExtensiveRule& rule,
                               std::optional<double> patientAgeYears);

void to_json(nlohmann::json& j, const Lesion& lesion);
// The report's "summary": lesion_count, max_segments_spanned, extensive_ge7_segments, the rule
// used, and a "prognosis" block of the facts the literature ties to outcome (no advice).
void to_json(nlohmann::json& j, const LesionSummary& summary);

}  // namespace cordscope
