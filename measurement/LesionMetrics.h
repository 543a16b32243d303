// Lesion measurements along the cord: length, levels and segments, size, intensity, pattern, and
// the summary that carries the seven-segment reading (CLINICAL.md).
#pragma once
#include <algorithm>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/Lesions.h"
#include "segmentation/Vertebrae.h"

namespace cordscope {

struct LevelCoverage {
  int level = 0;        // 1 = C1 ... 9 = T2
  double mm = 0;        // length of this level the lesion covers
  double heightMm = 0;  // the level's height along the cord (from its discs, else the median)
};

// When a vertebral level counts as involved by a lesion (docs/lesions.md): the lesion covers at
// least minMm of the level's height along the cord, or at least minFraction of it, whichever is
// less. A lesion that only touches a level - its end a millimetre past the disc, within the
// uncertainty of where a tapered end and a disc lie (about +-2 mm each) - does not add a segment;
// the level is reported as touched. A lesion always involves at least the level it covers most.
struct LevelInvolvement {
  double minMm = 3.0;
  double minFraction = 0.2;
  bool involved(double coveredMm, double heightMm) const {
    return coveredMm >= std::min(minMm, minFraction * heightMm);
  }
  std::string text() const;
};

struct Lesion {
  int id = 0;
  double topArcMm = 0, bottomArcMm = 0;  // along the centerline from the cord's top
  double lengthMm = 0;
  // The first and last involved level (LevelInvolvement); absent when the levels are not named.
  std::optional<int> topLevel, bottomLevel;
  // Levels involved, part-levels included (the clinical count); counted between the discs found
  // even when they are not named (a field of view without the foramen magnum). Absent without
  // discs.
  std::optional<int> segmentsSpanned;
  std::vector<int> levelsTouched;  // covered, but less than LevelInvolvement asks (named levels)
  int segmentsTouched = 0;         // every level covered at all (spanned + touched)
  std::optional<double> segmentsEquivalent;  // sum of covered mm / level height
  std::vector<LevelCoverage> perLevel;
  double volumeMm3 = 0, maxAxialAreaMm2 = 0, maxAxialDamageRatio = 0, intensityRatio = 0;
  std::string pattern;  // dorsal, lateral, ventral, central, holocord
  // Which series the pattern and the axial cross-section figures come from: "sagittal" (this
  // series), or the axial series of the same study that covers the lesion (refineWithAxial),
  // when sagittalPattern keeps what the sagittal series said.
  std::string patternSource = "sagittal";
  std::string sagittalPattern;
};

// A lesion seen on the axial series only (no sagittal lesion where it lies).
struct AxialOnlyLesion {
  double topArcMm = 0, bottomArcMm = 0;  // along the sagittal cord
  std::optional<int> topLevel, bottomLevel;
  std::string pattern;
};

// Where a study holds an axial series besides the sagittal one, the sagittal gives the lesions'
// length and levels (it sees the whole cord), and the axial, where it covers a lesion, its
// pattern and largest cross-section (it sees the section in-plane, the sagittal through 3 mm
// slices). Axial lesions are placed on the sagittal cord through patient space (their ends'
// positions on the axial cord, projected onto the sagittal one) and matched by overlap along
// it. Returns the axial lesions that no sagittal lesion explains.
std::vector<AxialOnlyLesion> refineWithAxial(std::vector<Lesion>& lesions,
                                             const CordSegmentation& sagittalCord,
                                             const VertebralLabels& sagittalLevels,
                                             const std::vector<Lesion>& axialLesions,
                                             const CordSegmentation& axialCord,
                                             const std::string& axialSeries);

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
  LevelInvolvement involvement;
  std::optional<double> patientAgeYears;
};

std::vector<Lesion> measureLesions(const LesionSegmentation& lesions, const CordSegmentation& cord,
                                   const VertebralLabels& vertebrae,
                                   const LevelInvolvement& involvement = {});

LesionSummary summariseLesions(const LesionSegmentation& segmentation,
                               const std::vector<Lesion>& lesions, const ExtensiveRule& rule,
                               std::optional<double> patientAgeYears);

void to_json(nlohmann::json& j, const Lesion& lesion);
// The report's "summary": lesion_count, max_segments_spanned, extensive_ge7_segments, the rule
// used, and a "prognosis" block of the facts the literature ties to outcome (no advice).
void to_json(nlohmann::json& j, const LesionSummary& summary);

}  // namespace cordscope
