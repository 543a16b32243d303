// Follow-up comparison (issue 10): did the lesion shrink (remyelination)? Time points are aligned
// by anatomy - a position along the cord is read as a vertebral-level coordinate (u = N at the
// disc on top of vertebra N, linear between named discs), so a different head position, field
// of view or slice placement does not fake a change - and, when both images are at hand, checked
// by a rigid registration of the cord region. Lesions are matched by overlap along the cord in
// that coordinate and classified against thresholds set above the measurement's own
// repeatability (docs/followup.md).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cordscope {

// One time point as `analyze` left it (its report.json).
struct TimePoint {
  std::string label;      // "2024-01-15" from StudyDate, else "time point N"
  std::string studyDate;  // YYYYMMDD, or empty
  int order = 0;          // position among the arguments (1 = baseline)
  std::string outputDir;  // the analyze folder
  nlohmann::json report;
};

// A time point from the text of an analyze folder's report.json (`reportPath` names it in
// messages, `dir` is the folder): parsed and checked - a cordscope report with a cord block, the
// cord found, quality control not failed. Throws InputError naming the file and the problem, for
// any text whatever (the compare fuzzer feeds it arbitrary bytes). A quality `check` puts its
// reasons into `checkReasons` (else empty).
TimePoint timePointFromReport(const std::string& reportText, const std::string& reportPath,
                              const std::string& dir, int order, std::string& checkReasons);

// Change beyond these counts; each is about twice the largest difference measured between
// phantom pairs of unchanged anatomy that differ in noise, position and slice placement (5.0 mm,
// 0.28, 5.4 %: docs/followup.md; tests/cli/CompareTest.cpp re-measures them and checks that each
// threshold stays at least 1.5 times above).
struct FollowUpRules {
  double lengthMm = 10;          // lesion length
  double volumeFraction = 0.55;  // lesion volume, as a fraction of the baseline's
  double csaPercent = 10;        // cord area per level (atrophy)
  double adiMm = 1.0;            // atlantodental intervals (phantom ADI error <= 0.3 mm)
};

// The vertebral-level coordinate of a position along one time point's cord (arc, mm); empty when
// its levels are not named.
std::optional<double> levelCoordinate(const nlohmann::json& report, double arcMm);
// Its inverse: the arc (mm along that time point's cord) at level coordinate u.
std::optional<double> arcAtLevelCoordinate(const nlohmann::json& report, double u);

struct LesionChange {
  std::optional<int> baselineId, followUpId;
  std::string cls;  // resolved, improved, stable, worse, new
  std::string pattern;
  nlohmann::json baseline, followUp;  // the lesions' own report entries (null when absent)
  std::optional<double> lengthChangeMm, volumeChangeMm3, volumeChangeFraction, intensityRatioChange;
  std::optional<int> segmentsChange;
  double overlapLevels = 0;  // overlap of the two extents, in vertebral levels
};

struct LevelChange {
  std::string level;
  std::optional<double> csaBaseline, csaFollowUp, csaChangePercent;
  double lesionMmBaseline = 0, lesionMmFollowUp = 0;
  bool atrophy = false;  // CSA fell by more than the rule
};

struct Comparison {
  TimePoint baseline, followUp;
  std::optional<double> months;  // between the study dates
  std::vector<LesionChange> lesions;
  std::vector<LevelChange> levels;
  std::optional<double> adiChangeMm, padiChangeMm;
  std::string
      summary;  // "Dorsal lesion C2-T2, 8 segments -> C2-C6, 5 segments over 6 months: improved"
  FollowUpRules rules;
};

Comparison compareTimePoints(const TimePoint& baseline, const TimePoint& followUp,
                             const FollowUpRules& rules = {});

void to_json(nlohmann::json& j, const LesionChange& c);
void to_json(nlohmann::json& j, const LevelChange& c);
void to_json(nlohmann::json& j, const Comparison& c);

}  // namespace cordscope
