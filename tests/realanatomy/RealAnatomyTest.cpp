// The issue-18 floors on the real-anatomy test set (phantom/RealAnatomy.h, docs/realanatomy.md):
// whole spines from PAM50 (taller and shorter necks, lordosis and kyphosis, tilts, lesions of every
// pattern from C1/C2 down), axial slabs, and the real sct scans resampled to clinical grids. Each
// study is generated in memory, analysed as analyze does, and scored against its exact truth.
// CORDSCOPE_REAL_ANATOMY=substring runs only the studies whose name contains it (development).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "Evaluation.h"
#include "TestSupport.h"

namespace cordscope::test {
namespace {

// Studies on which an issue-18 floor is not met today, each with what falls short and why
// (docs/realanatomy.md, "Known shortfalls"; the closing note). They are analysed and
// printed like the others, but the floors are asserted on the rest. So that the list cannot hide
// anything: a listed study must still fall short (fix it, then delete its line - the test says
// so) and must not pass quality control (the tool itself must say its result may be wrong).
struct KnownShortfall {
  const char* study;
  const char* what;
};
const KnownShortfall kKnownShortfalls[] = {
    {"sct-t2-lesion-sag3",
     "cord Dice 0.82 (floor 0.85): on 3 mm sagittal slices the outline swells into the dim dorsal "
     "CSF over "
     "the last 10 mm of the field of view, beside the scan's own lesion, which is then measured "
     "17.5 mm "
     "(truth 10.5)"},
    {"sct-t2-lesion-sag3-dorsal",
     "cord Dice 0.83 (floor 0.85), same swelling; the scan's own lesion 15 mm (truth 10.5), the "
     "painted "
     "dorsal lesion 17 mm (truth 22)"},
    {"sct-t2-lesion-short-holocord",
     "cord Dice 0.83 (floor 0.85); the 18 mm holocord lesion called central (the cord modelled "
     "from the "
     "canal is wider than the lesion); the scan's own lesion 16 mm (truth 9.4)"},
};

const KnownShortfall* knownShortfall(const std::string& study) {
  for (const KnownShortfall& k : kKnownShortfalls)
    if (study == k.study) return &k;
  return nullptr;
}

std::vector<StudyScore> run(const std::vector<RealAnatomyOptions>& set,
                            bool (*select)(const RealAnatomyOptions&)) {
  const char* filter = std::getenv("CORDSCOPE_REAL_ANATOMY");
  std::vector<StudyScore> scores;
  for (const RealAnatomyOptions& o : set) {
    if (!select(o)) continue;
    if (filter && o.name.find(filter) == std::string::npos) continue;
    const RealAnatomyStudy study = makeRealAnatomyStudy(o);
    const Analysis analysis = analyse(study.volume);
    scores.push_back(score(study, analysis));
    std::cout << describe(scores.back()) << std::endl;
  }
  return scores;
}

// Does a study meet the per-study floors (cord Dice, and every lesion found with its length,
// pattern and exact segment count)?
bool meetsFloors(const StudyScore& s, double diceFloor, bool countSegments) {
  if (!s.cordFound || s.cordDice < diceFloor) return false;
  for (const LesionScore& l : s.lesions) {
    if (!l.found) return false;
    if (std::abs(l.ourLengthMm - l.truthLengthMm) > std::max(5.0, 0.1 * l.truthLengthMm))
      return false;
    if (!l.truthPattern.empty() && l.ourPattern != l.truthPattern) return false;
    if (countSegments && l.truthSegments > 0 && l.ourSegments != l.truthSegments) return false;
  }
  return true;
}

// The studies the floors are asserted on; the known shortfalls are checked to still fall short
// and not to pass quality control, and reported.
std::vector<StudyScore> heldToFloors(const std::vector<StudyScore>& scores, double diceFloor,
                                     bool countSegments) {
  std::vector<StudyScore> held;
  for (const StudyScore& s : scores) {
    const KnownShortfall* k = knownShortfall(s.name);
    if (!k) {
      held.push_back(s);
      continue;
    }
    std::cout << "[ known shortfall ] " << s.name << ": " << k->what << " - verdict " << s.verdict
              << " (" << s.reasons << ")" << std::endl;
    EXPECT_FALSE(meetsFloors(s, diceFloor, countSegments))
        << s.name
        << " now meets its floors: delete it from kKnownShortfalls and docs/realanatomy.md";
    EXPECT_NE(s.verdict, "pass") << s.name << " falls short (" << k->what
                                 << ") but passed quality control";
  }
  return held;
}

bool wholeSpine(const RealAnatomyOptions& o) {
  return o.source == "pam50" && o.orientation == "sagittal";
}
bool axial(const RealAnatomyOptions& o) {
  return o.orientation == "axial";
}
bool sctSagittal(const RealAnatomyOptions& o) {
  return o.source != "pam50" && o.orientation == "sagittal";
}

// The lesion floors over a set of scored studies: segment count exact in >= 90 %, never off by
// more than one, the seven-segment flag always right, length within 10 % or 5 mm in >= 90 %,
// pattern right in >= 90 %; every lesion found.
void expectLesionFloors(const std::vector<StudyScore>& scores, bool countSegments) {
  int lesions = 0, found = 0, counted = 0, exact = 0, lengthOk = 0, patterns = 0, patternOk = 0;
  const ExtensiveRule rule;
  for (const StudyScore& s : scores)
    for (const LesionScore& l : s.lesions) {
      ++lesions;
      EXPECT_TRUE(l.found) << s.name << ": lesion " << l.truthId << " (" << l.truthLevels
                           << ") not found";
      if (!l.found) continue;
      ++found;
      if (std::abs(l.ourLengthMm - l.truthLengthMm) <= std::max(5.0, 0.1 * l.truthLengthMm))
        ++lengthOk;
      if (!l.truthPattern.empty()) {
        ++patterns;
        patternOk += l.ourPattern == l.truthPattern;
      }
      if (!countSegments || l.truthSegments == 0) continue;
      ++counted;
      EXPECT_TRUE(l.segmentsKnown) << s.name << ": segments not counted";
      exact += l.ourSegments == l.truthSegments;
      EXPECT_LE(std::abs(l.ourSegments - l.truthSegments), 1)
          << s.name << ": segments " << l.ourSegments << " against " << l.truthSegments;
      EXPECT_EQ(rule.extensive(l.ourSegments), rule.extensive(l.truthSegments))
          << s.name << ": the seven-segment flag is wrong (" << l.ourSegments << " against "
          << l.truthSegments << ")";
    }
  std::cout << "[ lesions ] found " << found << "/" << lesions << ", segments exact " << exact
            << "/" << counted << ", length within 10 % or 5 mm " << lengthOk << "/" << found
            << ", pattern right " << patternOk << "/" << patterns << std::endl;
  if (lesions == 0) return;
  EXPECT_GE(exact, 0.9 * counted);
  EXPECT_GE(lengthOk, 0.9 * found);
  EXPECT_GE(patternOk, 0.9 * patterns);
}

void expectWholeSpineFloors(const std::vector<StudyScore>& all) {
  const std::vector<StudyScore> scores = heldToFloors(all, 0.85, true);
  int naming = 0, namedRight = 0;
  for (const StudyScore& s : scores) {
    EXPECT_TRUE(s.cordFound) << s.name;
    if (s.lesionsPainted > 0) {
      EXPECT_GE(s.cordDice, 0.85) << s.name << ": cord Dice with lesions";
    }
    if (s.lesions.empty() && s.lesionsAssessed) {
      EXPECT_LE(s.longestFalseLesionMm, 5.0) << s.name << ": a lesion on a lesion-free study";
    }
    ++naming;
    namedRight += s.discsAllRight();
    // No confident wrong name: a study whose discs carry another disc's name is flagged.
    if (s.anyMisnamed() || (s.cordFound && !s.named)) {
      EXPECT_NE(s.verdict, "pass") << s.name << ": misnamed levels passed quality control";
    }
    // Calibrated confidence: a misnamed disc never carries more than 0.5.
    for (const DiscScore& d : s.discs)
      if (!d.ours.empty() && d.ours != "-" && d.ours != d.name) {
        EXPECT_LE(d.confidence, 0.5) << s.name << ": " << d.name << " named " << d.ours
                                     << " with confidence " << d.confidence;
      }
  }
  std::cout << "[ whole spine ] discs C2-C3..C7-T1 named right (median <= 2, max <= 5 mm) in "
            << namedRight << "/" << naming << " studies" << std::endl;
  EXPECT_GE(namedRight, 0.95 * naming);
  expectLesionFloors(scores, true);
}

TEST(RealAnatomy, WholeSpineSagittal) {
  CORDSCOPE_REQUIRE_SHARED_DATA(shared);
  expectWholeSpineFloors(run(realAnatomyTestSet(shared.string()), wholeSpine));
}

// The same floors on whole spines drawn at random: rules that only fit the hand-picked set fail
// here. CI draws 20 with seed 7; CORDSCOPE_RANDOM_SEED and CORDSCOPE_RANDOM_COUNT draw others,
// studies no rule has been looked at against (docs/realanatomy.md, "Unseen draws").
TEST(RealAnatomy, WholeSpineRandom) {
  CORDSCOPE_REQUIRE_SHARED_DATA(shared);
  const auto fromEnvironment = [](const char* name, unsigned fallback) {
    const char* value = std::getenv(name);
    return value ? static_cast<unsigned>(std::stoul(value)) : fallback;
  };
  const unsigned seed = fromEnvironment("CORDSCOPE_RANDOM_SEED", 7);
  const unsigned count = fromEnvironment("CORDSCOPE_RANDOM_COUNT", 20);
  std::cout << "[ random set ] seed " << seed << ", " << count << " studies" << std::endl;
  expectWholeSpineFloors(run(realAnatomyRandomSet(shared.string(), count, seed), wholeSpine));
}

TEST(RealAnatomy, AxialSlabs) {
  CORDSCOPE_REQUIRE_SHARED_DATA(shared);
  const std::vector<StudyScore> scores =
      heldToFloors(run(realAnatomyTestSet(shared.string()), axial), 0.80, false);
  for (const StudyScore& s : scores) {
    EXPECT_TRUE(s.cordFound) << s.name;
    EXPECT_GE(s.cordDice, 0.80) << s.name << ": cord Dice on an axial slab";
    if (s.lesions.empty() && s.lesionsAssessed) {
      EXPECT_LE(s.longestFalseLesionMm, 5.0) << s.name;
    }
  }
  expectLesionFloors(scores, false);
}

TEST(RealAnatomy, RealScansResampled) {
  CORDSCOPE_REQUIRE_SHARED_DATA(shared);
  const std::vector<StudyScore> scores =
      heldToFloors(run(realAnatomyTestSet(shared.string()), sctSagittal), 0.85, true);
  for (const StudyScore& s : scores) {
    EXPECT_TRUE(s.cordFound) << s.name;
    EXPECT_GE(s.cordDice, 0.85) << s.name;
    if (s.lesions.empty() && s.lesionsAssessed) {
      EXPECT_LE(s.longestFalseLesionMm, 5.0) << s.name;
    }
  }
  expectLesionFloors(scores, true);
}

}  // namespace
}  // namespace cordscope::test

namespace cordscope::test {
namespace {

// A study with a sagittal and an axial series of the same neck: the sagittal gives length and
// levels, the axial, which covers the lesion, its pattern (issue 18, item 4); --axial none keeps
// the sagittal's.
// The set's study `name`, and an axial series of the same neck as a clinical axial block
// (4 mm slices, 0.6 mm pixels, 80 mm field of view, C3 to C7).
RealAnatomyOptions studyNamed(const std::string& shared, const std::string& name) {
  for (const RealAnatomyOptions& o : realAnatomyTestSet(shared))
    if (o.name == name) return o;
  return {};
}
RealAnatomyOptions axialBlockOf(RealAnatomyOptions axial) {
  axial.orientation = "axial";
  axial.sliceThicknessMm = 4;
  axial.pixelMm = 0.6;
  axial.fovInPlaneMm = 80;
  axial.axialTopLevel = 3;
  axial.axialBottomLevel = 7;
  return axial;
}

TEST(RealAnatomy, SagittalAndAxialSeriesOfOneStudy) {
  CORDSCOPE_REQUIRE_SHARED_DATA(shared);
  const RealAnatomyOptions sagittal = studyNamed(shared.string(), "pam50-lateral-right-C3-C5");
  ASSERT_FALSE(sagittal.name.empty());
  const RealAnatomyOptions axial = axialBlockOf(sagittal);
  const RealAnatomyStudy sagittalStudy = makeRealAnatomyStudy(sagittal);
  const TempDir scratch;
  writeRealAnatomySeries({sagittalStudy, makeRealAnatomyStudy(axial)}, scratch / "study");
  const CommandResult r = runCordscope("analyze " + quote(scratch / "study/dicom") + " -o " +
                                       quote(scratch / "out") + " --no-render --quiet");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(scratch / "out/report.json"));
  EXPECT_EQ(report["input"]["orientation"], "sagittal");
  ASSERT_TRUE(report["series_used"]["axial"].is_object());
  ASSERT_EQ(report["lesions"].size(), 1u);
  const auto& lesion = report["lesions"][0];
  EXPECT_EQ(lesion["pattern"], "lateral");
  EXPECT_EQ(lesion["pattern_source"].get<std::string>().rfind("axial series", 0), 0u)
      << lesion.dump();
  // Length and levels from the sagittal series, against the truth.
  const auto& truth = sagittalStudy.truth["lesions"][0];
  EXPECT_EQ(lesion["top_level"], truth["top_level"]);
  EXPECT_EQ(lesion["bottom_level"], truth["bottom_level"]);
  EXPECT_NEAR(lesion["length_mm"].get<double>(), truth["length_mm"].get<double>(), 5.0);

  const CommandResult none =
      runCordscope("analyze " + quote(scratch / "study/dicom") + " -o " + quote(scratch / "none") +
                   " --no-render --quiet --axial none");
  ASSERT_EQ(none.exitCode, 0) << none.err;
  const nlohmann::json plain = nlohmann::json::parse(std::ifstream(scratch / "none/report.json"));
  EXPECT_TRUE(plain["series_used"]["axial"].is_null());
  EXPECT_EQ(plain["lesions"][0]["pattern_source"], "sagittal");
}

// A lesion the axial series shows and the sagittal does not (here: painted only into the axial
// series of the same neck) is reported as a warning and the verdict is check, never a silent
// pass with "no lesion".
TEST(RealAnatomy, LesionOnlyOnTheAxialSeriesIsNotASilentPass) {
  CORDSCOPE_REQUIRE_SHARED_DATA(shared);
  const RealAnatomyOptions lesioned = studyNamed(shared.string(), "pam50-lateral-right-C3-C5");
  ASSERT_FALSE(lesioned.name.empty());
  RealAnatomyOptions sagittal = lesioned;
  sagittal.lesions.clear();
  const RealAnatomyOptions axial = axialBlockOf(lesioned);
  const TempDir scratch;
  writeRealAnatomySeries({makeRealAnatomyStudy(sagittal), makeRealAnatomyStudy(axial)},
                         scratch / "study");
  const CommandResult r = runCordscope("analyze " + quote(scratch / "study/dicom") + " -o " +
                                       quote(scratch / "out") + " --no-render --quiet");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(scratch / "out/report.json"));
  EXPECT_TRUE(report["lesions"].empty()) << report["lesions"].dump();
  EXPECT_EQ(report["quality"]["verdict"], "check") << report["quality"].dump();
  bool flagged = false;
  for (const auto& reason : report["quality"]["reasons"])
    flagged = flagged || reason["code"] == "lesion_only_on_axial";
  EXPECT_TRUE(flagged) << report["quality"].dump();
}

}  // namespace
}  // namespace cordscope::test
