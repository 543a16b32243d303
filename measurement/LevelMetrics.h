// Cord and canal size per vertebral level, with z-scores against healthy adults, and the lesion
// coverage of each level: the rows of metrics.csv and report.json cord.levels.
//
// Normative figures are built in (normativeCord / normativeCanal): per level C1-T2, mean and SD
// of area and AP/RL diameters in 203 healthy adults (T2w, 0.8 mm isotropic, 43 sites), from
// PAM50-normalized-metrics, Valosek, Bedard et al., "A database of the healthy human spinal cord
// morphometry in the PAM50 template space", Imaging Neuroscience 2 (2024) 1-15,
// doi:10.1162/imag_a_00075 (MIT licence). A test checks them against
// ../shared/data/normative/*.csv.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "measurement/LesionMetrics.h"

namespace cordscope {

struct NormativeRow {
  int level = 0;  // 1 = C1 ... 9 = T2
  int subjects = 0;
  double areaMean = 0, areaSd = 0, apMean = 0, apSd = 0, rlMean = 0, rlSd = 0;
};
const std::vector<NormativeRow>& normativeCord();
const std::vector<NormativeRow>& normativeCanal();
extern const char* const kNormativeCitation;

struct LevelMetrics {
  int level = 0;
  int sections = 0;  // measured cross-sections averaged (1 mm apart)
  double lengthMm = 0;
  double csaMm2 = 0, csaSdMm2 = 0, apMm = 0, rlMm = 0;
  double canalAreaMm2 = 0, canalApMm = 0, canalRlMm = 0;
  // Both of the level's discs were found (C1: the C1-C2 junction). A level cut by the field of
  // view or past the last disc found is measured over what is seen, but not scored.
  bool bounded = false;
  std::optional<double> csaZ, apZ, rlZ, canalAreaZ,
      canalApZ;                 // absent beyond T2 and when not bounded
  double compressionRatio = 0;  // AP / RL
  double lesionMm = 0;          // length of this level any lesion covers
  double lesionPercent = 0;     // of the level's length along the cord
};

// One entry per named level in view (cranial first), from the measured cross-sections whose
// arc falls in the level. Empty when the levels are not named.
std::vector<LevelMetrics> measureLevels(const CordSegmentation& cord,
                                        const VertebralLabels& vertebrae,
                                        const std::vector<Lesion>& lesions);

void to_json(nlohmann::json& j, const LevelMetrics& m);

// metrics.csv: one row per level; the first columns carry the names researchers know from the
// Spinal Cord Toolbox's per-level output (VertLevel, MEAN(area), STD(area), MEAN(diameter_AP),
// MEAN(diameter_RL)), then ours.
void writeLevelMetricsCsv(const std::vector<LevelMetrics>& levels, const std::string& path);

}  // namespace cordscope
