// Quality control of one analysis (issue 18, item 5): self-consistency checks on its results, so
// that a wrong result is never passed off as a success. A pure function of the results the
// pipeline already has - the image's geometry, the cord and canal cross-sections, the discs and
// their names, the craniocervical landmarks, the lesions - returning a verdict and its reasons.
//
//   pass   every check holds: the numbers can be read as they are;
//   check  something a reader must look at before trusting part of the report (levels not
//          named, an outline interpolated under a lesion, an unusual disc spacing);
//   fail   the result is very likely wrong (no cord, a "cord" the size of the canal, no CSF
//          around it, a lesion outside it): `analyze` exits 1 (docs/errors.md).
//
// Every limit is a named field of QualityOptions with the anatomy behind it; docs/quality.md
// lists the checks. Checks read what the segmenters produced and never re-segment: they are
// cheap (5 ms on the default phantom, mostly one pass over the lesion mask).
#pragma once
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "measurement/LesionMetrics.h"
#include "segmentation/CordSegmentation.h"
#include "segmentation/Craniocervical.h"
#include "segmentation/Lesions.h"
#include "segmentation/Vertebrae.h"

namespace cordscope {

enum class Verdict { Pass = 0, Check = 1, Fail = 2 };  // ordered: the worst reason wins
std::string toString(Verdict verdict);                 // "pass", "check", "fail"

struct QualityReason {
  std::string code;                   // stable, machine-readable: "levels_not_named", ...
  Verdict severity = Verdict::Check;  // Check or Fail
  // One sentence a radiologist understands, with the numbers; it starts with a short label and a
  // colon ("levels not named: ...") so that the console can show it alone.
  std::string message;
};

struct QualityReport {
  Verdict verdict = Verdict::Pass;
  std::vector<QualityReason> reasons;  // fails first, then checks, each in the order checked
  // The quantities the checks judged (measured_fraction, median_area_mm2, ...; docs/quality.md),
  // so that a researcher can apply limits of their own. Absent when not computed.
  std::map<std::string, double> measures;

  // "pass", or "check - levels not named: ... (+1 more)" for the console.
  std::string headline() const;
  // The codes, ";"-separated, in order (the cohort table's quality_reasons).
  std::string codes() const;
};

// What a segmenter says about its own result: a confidence 0-1 (absent: it gives none) and the
// reasons it doubts it (every doubt is a check), filled by analyzeStudy (measurement/Analysis):
//  - the cord: CordSegmentation::confidence and ::doubts (axial series: the CSF rings' clarity
//    per slice, slices without an outline, disagreement with findCenterline);
//  - the level names: VertebralLabels::namingConfidence and ::doubts.
struct SelfAssessment {
  std::optional<double> confidence;
  std::vector<std::string> doubts;
};

// Where one anchor independent of the one that named the levels says a named disc should be:
// the disc at the top of vertebra `lowerVertebra` (3 = C2-C3) between `offsetMinMm` and
// `offsetMaxMm` along the cord from the anchor (positive: caudal to it), the anchor lying at
// `anchorArcMm` (mm from the cord's top). assessQuality derives them from the craniocervical
// landmarks (the bony foramen magnum, the dens base); other anchors (the disc count up from T1,
// the first rib) can be added to QualityInputs::anchorExpectations without changing this module.
// A disagreement says that one of the two is wrong, not which.
struct AnchorExpectation {
  // "foramen magnum (basion-opisthion)", ...; an expectation from the anchor that named the
  // levels (VertebralLabels::anchor) is skipped: it agrees with itself.
  std::string anchor;
  double anchorArcMm = 0;
  int lowerVertebra = 3;
  double offsetMinMm = 0, offsetMaxMm = 0;
};

// The analysis to judge. Absent parts (null) skip the checks that need them; `cord` is required.
struct QualityInputs {
  const Volume* volume = nullptr;  // the image: how far it goes beyond the cord
  const CordSegmentation* cord = nullptr;
  const CraniocervicalLandmarks* landmarks = nullptr;  // the bony foramen magnum, the dens base
  const VertebralLabels* vertebrae = nullptr;
  const LesionSegmentation* lesions = nullptr;
  const std::vector<Lesion>* lesionMetrics = nullptr;
  SelfAssessment cordSelf;    // the cord segmenter's own confidence and doubts
  SelfAssessment namingSelf;  // the level labeller's own confidence and doubts
  std::vector<AnchorExpectation> anchorExpectations;  // more anchors, beyond the landmarks'
};

// A closed range of plausible values.
struct Range {
  double min = 0, max = 0;
  bool contains(double v) const { return v >= min && v <= max; }
};

// Every limit, with the anatomy behind it. "check" limits bound what is seen in adults, healthy
// or diseased; "fail" limits bound what a cervical cord can be at all.
struct QualityOptions {
  // --- The cord measured, not guessed ---
  // Fraction of the cord's cross-sections (one every 0.5 mm) whose outline was measured rather
  // than interpolated from its neighbours. Short interpolations are normal (a nerve root, a bright
  // lesion against CSF: real scans here are 85-89 % measured); below three quarters the size
  // figures are mostly guesses, below a half they are not measurements.
  double measuredCheckBelow = 0.75, measuredFailBelow = 0.5;
  // Longest run of interpolated outlines. 12 mm is about two thirds of a cervical vertebral level
  // (15-20 mm disc to disc): a focal compression or a short lesion can hide in it. 40 mm is two
  // levels: the segment there was not seen at all.
  double gapCheckMm = 12, gapFailMm = 40;
  // Outlines modelled from the canal (a lesion as bright as CSF hid the cord's edge): a long
  // lesion does this over several levels, and the lesion's extent does not depend on it, but the
  // cord's size there is an estimate - checked when it covers half the cord or a stretch of more
  // than three levels (60 mm).
  double modelledCheckFraction = 0.5, modelledCheckMm = 60;

  // --- Continuity ---
  // The centre moves along its course by the station spacing (0.5 mm); a step between
  // neighbouring centres longer than this (and than twice the typical step) is a jump to another
  // structure.
  double jumpMm = 2.0;
  // The cord's course turns gently: lordosis and kyphosis have radii of 40 mm and more, even the
  // cervicomedullary angle (above the cord's top) spreads over a centimetre. A turn of more than
  // 30 degrees within 5 mm (a radius under 10 mm) is a kink no cord makes.
  double kinkWindowMm = 5, kinkCheckDeg = 30;

  // --- The cord stands out from its CSF ---
  // Median CSF minus median cord intensity over the masks, in units of the image's noise
  // (cord_csf_contrast_to_noise). The segmenters pick the darkest (T2) or brightest (T1) tube in
  // a brighter (darker) ring, so even pure noise gives a "cord" some contrast: 0.1-0.5 on noise
  // volumes, sagittal and axial, white or smoothed. Real cords stand far above it: 7-16 on the
  // real scans of ../shared/data (T2 sagittal and axial, MT-weighted axial), 8-31 on the
  // real-anatomy set. Below 2 the "cord" is what noise alone makes (fail); below 4 its edges are
  // barely above the noise, so its outline and size are doubtful (check).
  double contrastCheckBelow = 4, contrastFailBelow = 2;

  // --- Slices ---
  // Slice spacing over slice thickness. Clinical protocols leave a gap of 0-30 % of the thickness
  // (3 mm slices 3.3-4 mm apart); beyond 1.5 a third or more of the anatomy lies unimaged between
  // the slices - what one half of an interleaved acquisition looks like (issue 23: such a half
  // read ADI 6.5 mm on a normal study, truth 1.5).
  double sliceSpacingCheckAbove = 1.5;

  // --- Cross-section size, median over the measured outlines ---
  // Adult cervical cord CSA 45-100 mm2 in health (C1-C6 means 69-77 mm2, SD about 7; T1-T2 42-47;
  // Valosek et al. 2024, 203 adults); atrophic or compressed cords are smaller (about 40-60), a
  // swollen cord (myelitis, tumour) larger. A median outside 30-110 is outside what adults show;
  // outside 15-150 it is no cord (150 mm2 is the size of the whole dural sac).
  Range areaCheck{30, 110}, areaFail{15, 150};
  // AP diameter: 6-8.3 mm in health (SD 0.5), 4-5 mm in a flattened cord. The whole canal is
  // 12.6-16 mm AP: a median "cord" of 13 mm is the canal.
  Range apCheck{4, 10.5}, apFail{2.5, 13};
  // RL diameter: 8.7-13 mm in health (SD 0.6-0.9; the cervical enlargement is widest).
  Range rlCheck{6, 16.5}, rlFail{4, 20};
  // A stretch at least this long where measured outlines exceed the fail limits above (area, AP
  // or RL) is something other than cord - the tube drawn into the cisterna or the CSF - even when
  // the median is fine. Compressed stretches can be tiny, so only the upper limits apply.
  double oversizedStretchMm = 5;

  // --- The cord in a CSF-filled canal ---
  // A cross-section "without CSF": the canal's area within this factor of the cord's (healthy
  // canal/cord 1.7-5.8 on real data). Stenosis effaces the CSF at the discs of its levels only; a
  // cord without CSF round a quarter of its length is doubtful, over half of it it is not in the
  // canal (a tube in fat or muscle has no CSF ring).
  double csfRingFactor = 1.1;
  double noCsfCheckFraction = 0.25, noCsfFailFraction = 0.5;

  // --- The cord's top ---
  // The image goes on at least this far above the cord's top but the top was not recognised as
  // the cervicomedullary junction: the cord was lost below it (the upper cord, where rheumatoid
  // C1-C2 compression happens, is then missing). 25 mm is more than the medulla's flare and the
  // foramen magnum's distance from the cord's top (about 10 mm) together.
  double roomAboveTopMm = 25;
  // With the bony foramen magnum found (basion and opisthion), the cord's top lies within about
  // 10 mm of it. A top more than 20 mm below it misses the upper cord (C1 is 15-20 mm tall); a
  // top more than 25 mm above it is in the brainstem (the medulla kept as cord).
  double topBelowForamenMagnumMm = 20, topAboveForamenMagnumMm = 25;

  // --- Discs and level heights (mid-disc to mid-disc along the cord) ---
  // Cervical levels C3-C7 are 13-20 mm in adults (vertebral body 13-16 mm plus a 4-6 mm disc);
  // thoracic levels grow from 18 mm at T1 to about 30 mm at T12 (PAM50: 18.5-30). Levels named C2
  // and C1 are bounded by the dens base, not a disc, and are not judged. Unnamed discs get the
  // union of both ranges.
  Range cervicalHeightCheck{12, 25}, thoracicHeightCheck{15, 35}, unnamedHeightCheck{12, 35};
  // No adult vertebral level (with its disc) is shorter than 8 or taller than 40 mm: two discs
  // found in one vertebra, or one missed (the names below are then off by one).
  Range heightFail{8, 40};
  // Neighbouring level heights rarely differ by more than about 35 % (cervical: 13-20 mm, each
  // close to the next; PAM50 at most 15 %). A larger ratio is a missed or an extra disc - or a
  // fused segment (congenital or surgical), so it is a check, never a fail.
  double consecutiveHeightRatio = 1.35;
  // The C2-C3 disc lies 40-47 mm below the foramen magnum in adults (the labeller measured 35-52
  // along the cord on phantoms and PAM50) and its names are one level off when that disc is really
  // C3-C4 (about 18 mm lower) or the C1/C2 junction (about 18 mm higher): 30-58 keeps the
  // individual spread and catches a one-level error in the typical adult.
  Range c2c3BelowForamenMagnumMm{30, 58};
  // C2-C3 below the dens base (the C1/C2 synchondrosis): the C2 body, 15-23 mm on PAM50 and the
  // phantoms; 8-35 bounds it in adults (the labeller's own search range when it anchors on it).
  Range c2c3BelowDensBaseMm{8, 35};

  // --- Lesions ---
  // Fraction of a lesion's voxels outside the cord mask: lesions are intramedullary by definition
  // (and grown only inside the cord's outline). A few percent is partial volume at the edge;
  // beyond a quarter the lesion is mostly CSF or tissue outside the cord.
  double lesionOutsideCheck = 0.05, lesionOutsideFail = 0.25;
  // A lesion may reach past the cord's measured extent by half a voxel at each end; this much
  // more is outside the cord (mm along the cord).
  double lesionBeyondCordMm = 2;
  // A lesion whose extent lies this much over interpolated outlines: its extent, pattern and
  // damage ratio rest on a guessed cord outline.
  double lesionInterpolatedCheck = 0.3;

  // --- Self-assessments (SelfAssessment): the segmenters' own confidence, 0-1 ---
  // To be calibrated against the segmenters' confidences once they exist: below a half the
  // segmenter itself is unsure (check), below a fifth it calls its result unusable (fail).
  double confidenceCheckBelow = 0.5, confidenceFailBelow = 0.2;
  // --- Where the cord ends ---
  // The conus medullaris ends at L1-L2 in adults (T12-L3 in 95 %); a lesion reaching this level
  // (20 = L1) may be the cauda equina below it, followed by the outline.
  int conusLevel = 20;
};

QualityReport assessQuality(const QualityInputs& inputs, const QualityOptions& options = {});

// report.json "quality": {"verdict", "reasons": [{"code", "severity", "message"}], "measures"}.
void to_json(nlohmann::json& j, const QualityReport& report);

}  // namespace cordscope
