// Intervertebral discs and vertebral levels along the cord.
//
// The vertebral column runs in front of the canal, parallel to the cord. Straightened along the
// refined centerline, a band of the column (2-12 mm in front of the canal's front wall, 6 mm
// wide) gives one intensity profile along the cord. A disc - nucleus, annulus and the two
// endplates - is a thin band across that column, whatever its own brightness (bright healthy
// nucleus on T2, dark degenerated disc, dark on T1): the magnitude of the profile's Laplacian of
// Gaussian, merged over the disc's few millimetres and normalised by its local maximum (so weak
// cervical discs count as much as bright lumbar ones), is the disc-likeness. A dynamic programme
// picks the chain of discs that maximises disc-likeness while their spacing (one vertebra, 12-30
// mm) changes smoothly from one to the next, as vertebral heights do.
//
// Naming is anchored on anatomy, never on the image edge, and by evidence (docs/vertebrae.md):
// the chain's own spacing h (the median disc spacing in the upper 130 mm: the patient's level
// height) scales the priors of each anchor - the dens base about 0.95 h above C2-C3, the dens tip
// about 2.0 h, the cord's junction with the medulla about 2.1 h - and each chain disc is scored
// as C2-C3 by how well every anchor in view agrees with it. The naming confidence says how clearly
// the best candidate beats the next (a disc's confidence is capped by it); anchors that disagree
// become doubts (warnings, quality check). Without any anchor the discs are found but not named,
// and a warning says so; `c2c3` (a radiologist's point) or `manualDiscs` name them.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/CordSegmentation.h"
#include "segmentation/Craniocervical.h"

namespace cordscope {

struct VertebraeOptions {
  // The column band, measured from the canal's front wall: over the discs' nucleus and annulus
  // (10-20 mm in front of the cord's centre), past the dark posterior ligament and cortex just in
  // front of the canal (docs/vertebrae.md, step 1).
  double bandNearMm = 5, bandFarMm = 14;
  double bandHalfWidthMm = 3;
  double lineSigmaMm = 1.5;   // scale of the disc line (Laplacian of Gaussian)
  double mergeSigmaMm = 2.0;  // merges a disc's endplate-nucleus-endplate responses into one
  double localWindowMm = 20;  // disc-likeness normalised by its maximum over +-this
  double minSpacingMm = 12, maxSpacingMm = 30;  // between consecutive discs
  double spacingChange = 10;                    // cost of a relative change of spacing, squared
  double presence = 0.5;  // a disc must reach this normalised disc-likeness to pay its way
  // Which chain disc is C2-C3 (when not given): each anatomical anchor found predicts where
  // C2-C3 lies, in units of the patient's own vertebral level height h (the median spacing of
  // the chain's discs), so that taller and shorter necks are judged alike. Each prediction is a
  // Gaussian (mean, sd in h); the chain discs are scored by all of them together and the
  // posterior of the best is the naming confidence.
  //  - The dens base (the C1/C2 junction, found by findCraniocervical): C2-C3 is the C2 body's
  //    height below it, about one level (adults: C2 body 15-18 mm, C3-C6 levels 16-19 mm).
  //  - The dens tip: C2 from its tip to its lower endplate is 35-40 mm in adults, about two
  //    levels.
  //  - The cord's top when it is the junction with the medulla (the foramen magnum in view): the
  //    medulla's flare ends about at the foramen magnum, 20-25 mm (1.1-1.4 levels) above the
  //    dens base, so C2-C3 is about 2.1 levels below it; wider (0.35) for the flare rule's
  //    approximation and for necks whose C2 is unusually tall or short.
  std::optional<Vec3> densBase, densTip;  // LPS, from the craniocervical landmarks
  double c2c3BelowDensBase[2] = {0.95, 0.2};
  double c2c3BelowDensTip[2] = {2.0, 0.3};
  double c2c3BelowJunction[2] = {2.1, 0.35};
  // The level height h is measured over the chain's discs this far down the cord (the neck from
  // the foramen magnum to T1 is 110-150 mm in adults).
  double cervicalReachMm = 130;
  // Naming confidence below this is reported as a doubt (the levels may be off by one).
  double confidentNaming = 0.8;
  // The posterior above assumes its anchors are right. Names that rest on one anchor, which
  // nothing could cross-check, are given at most this: the anchor itself may be wrong (a cord's
  // top at a lesion's lower end taken for the foramen magnum names every level five too high).
  double singleAnchorConfidence = 0.5;
  std::optional<Vec3> c2c3;  // LPS: the C2-C3 disc, given by hand
  // LPS disc centres given by hand, value N = the disc at the top of vertebra N (3 = C2-C3).
  std::vector<std::pair<int, Vec3>> manualDiscs;
};

struct Disc {
  int lowerVertebra = 0;  // 3 = C2-C3; 2 = the C1/C2 junction (dens base); 0 = not named
  std::string name;       // "C2-C3", or empty when not named
  Vec3 position{};        // LPS mm: centre of the disc in the vertebral column
  double arcMm = 0;       // where its plane crosses the centerline
  double confidence = 0;  // 0-1: normalised disc-likeness (1 for discs given by hand)
  bool manual = false;
};

// One anatomical anchor's say on which disc is C2-C3.
struct NamingAnchor {
  std::string name;           // "dens base", "dens tip", "foramen magnum"
  double predictedArcMm = 0;  // where it puts C2-C3 along the cord
  double sdMm = 0;
  std::string points;  // the chain disc it favours (its own best), as the name it got
  bool agrees = true;  // its own best is the disc chosen
};

struct VertebralLabels {
  bool named = false;
  // "dens base", "foramen magnum", ... (the strongest anchor that agrees with the naming), "c2c3
  // given", "discs given", or empty
  std::string anchor;
  // Probability that the names are right (1 for given discs): the posterior of the chosen C2-C3
  // among the chain discs under the anchors; below VertebraeOptions::confidentNaming, or when
  // anchors disagree, `doubts` says why. 0 when not named.
  double namingConfidence = 0;
  std::vector<NamingAnchor> anchors;
  std::vector<std::string> doubts;
  std::vector<Disc> discs;  // cranial first
  std::vector<int> levels;  // level numbers in view, cranial first (1 = C1 ... 9 = T2)
  std::vector<std::string> warnings;
  Mask::Pointer levelMap;  // the cord mask labelled by level (0 elsewhere), input grid
};

VertebralLabels labelVertebrae(const Volume& volume, const CordSegmentation& cord,
                               const VertebraeOptions& options = {});

// The anchors the craniocervical landmarks offer (dens base and tip), unless discs were given.
void anchorOnLandmarks(VertebraeOptions& options, const CraniocervicalLandmarks& landmarks);

// The level of the cord at `arcMm`, from named discs sorted cranial first: the vertebra below the
// last disc above it; above the first disc, the vertebra above that disc.
int levelAtArc(const std::vector<Disc>& named, double arcMm);

// Where the plane perpendicular to the centerline through `point` (LPS) crosses it: arc length
// from the cord's top, mm.
double arcAlongCord(const std::vector<CrossSection>& sections, const Vec3& point);

// Discs from a label image (value N at the disc at the top of vertebra N, the Spinal Cord
// Toolbox convention) or a CSV with columns name,x_ras_mm,y_ras_mm,z_ras_mm.
std::vector<std::pair<int, Vec3>> readDiscs(const std::string& path);

// report.json "vertebrae": discs (name, position_ras_mm, confidence), levels (names), anchor.
void to_json(nlohmann::json& j, const VertebralLabels& labels);

}  // namespace cordscope
