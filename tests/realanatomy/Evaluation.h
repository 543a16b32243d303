// Scores one analysed real-anatomy study against its truth (phantom/RealAnatomy.h): cord Dice over
// the expert mask's extent, discs named right and their errors along the cord, lesions found,
// their segment counts, extensive flags, lengths and patterns, false lesions. The floors of
// issue 18 are asserted over a whole set of these (RealAnatomyTest.cpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "measurement/Analysis.h"
#include "phantom/RealAnatomy.h"
#include "segmentation/CordSegmentation.h"
#include "segmentation/Craniocervical.h"
#include "segmentation/Lesions.h"
#include "segmentation/Vertebrae.h"

namespace cordscope::test {

// What analyze computes (measurement/Analysis.h).
Analysis analyse(const Volume& volume);

struct DiscScore {
  std::string name;    // truth name, "C2-C3"
  std::string ours;    // the name our nearest disc carries ("" when none within 10 mm, "-" unnamed)
  double errorMm = 0;  // our disc's arc minus the truth's, along our cord
  double confidence = 0;
};

struct LesionScore {
  int truthId = 0;
  std::string truthPattern, ourPattern;
  bool found = false;
  int truthSegments = 0, ourSegments = 0;  // involved levels (LevelInvolvement)
  bool segmentsKnown = false;              // ours could be counted
  double truthLengthMm = 0, ourLengthMm = 0;
  std::string truthLevels, ourLevels;  // "C2-C6"
};

struct StudyScore {
  std::string name, orientation, source;
  bool cordFound = false;
  double cordDice = 0;          // over the expert mask's extent; lesion voxels count as cord
  bool namingExpected = false;  // a whole spine with the junction in view
  bool named = false;
  std::string anchor;
  std::vector<DiscScore> discs;  // truth discs C2-C3 ... C7-T1 beside our cord
  int lesionsPainted = 0;
  std::vector<LesionScore> lesions;
  double longestFalseLesionMm = 0;  // ours, not overlapping any truth lesion
  bool lesionsAssessed = false;
  std::string verdict;  // the quality verdict: pass, check, fail
  std::string reasons;  // its reason codes

  bool discsAllRight() const;  // every truth disc named right, median |error| <= 2, max <= 5 mm
  bool anyMisnamed() const;    // a disc carries another disc's name
  double discMedianErrorMm() const;
  double discMaxErrorMm() const;
};

StudyScore score(const RealAnatomyStudy& study, const Analysis& analysis);

// One line per study and per lesion, for the test log and docs.
std::string describe(const StudyScore& s);

}  // namespace cordscope::test
