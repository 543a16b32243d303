// The cord in an axial series (issue 18, item 4): slices across the cord, often thick (4-17 mm)
// and few (5-30), so that the sagittal-minded detector of Centerline.h, which follows the cord
// through many thin planes, has little to chain and little to see.
//
// In one axial slice the cord is a roundish disc of cord size (AP 5-8, RL 8-13 mm) sitting inside
// a ring of CSF, which sits inside the canal's wall (bone, ligament, dura). scoreCordRings scores
// every candidate position of every slice by that picture, for a given CSF polarity: the ring must
// differ from the disc in the polarity's direction round most of the cord (a thin or dim stretch
// of CSF - in front of the cord at a disc, behind it on gradient echo - is allowed), the ring must
// be an extreme between the disc and the tissue beyond it (the canal's wall), and the disc must be
// even (one tissue, not an edge between two). Intensities are divided by each slice's own scale
// (the 90th percentile of its foreground): no absolute thresholds.
//
// findAxialCenterline chains the slices' best candidates by a dynamic programme through every
// slice of the slab, paying for the slope and the bend of the path between slices (the cord's
// course is smooth): a slice where the ring is weak (partial volume, flow, a lesion) takes the
// position its neighbours agree on. Both polarities are tried unless the metadata or the caller
// says; the one whose ring is the more extreme compartment of the image wins (CSF is the brightest
// tissue of the canal on T2/T2*, among the darkest on T1). It also says how sure it is: a
// confidence 0-1 and its doubts, for the quality verdict.
#pragma once
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/Centerline.h"

namespace cordscope {

struct RingOptions {
  // Cord sizes tried (full diameters AP x RL, mm): adult cervical cords are AP 6-8.3, RL 8.7-13 mm
  // in health, smaller when atrophic or compressed.
  std::vector<std::pair<double, double>> sizes = {{5.5, 8.5}, {6.5, 10.5}, {7.5, 12.5}};
  int angles = 16;
  double ringMm = 3.0;  // the CSF is looked for up to this far outside the cord's edge
  double wallMm = 5.0;  // the canal's wall: within this beyond the CSF's extreme
  // Fraction of the ring's angles that may lack CSF contrast (the CSF is thin in front of the cord
  // at a disc, dim behind it on gradient echo): the ring's contrast is its (this)-quantile.
  double missingRing = 0.3;
  double evennessWeight = 0.5;  // weight of the disc's spread (its lower part: a lesion is allowed)
  double gridMm = 1.0;          // candidate spacing in the slice ...
  int maxGridNodes = 64;        // ... coarser when the field of view is wider than this many mm
  // Path cost per slice, in units of the typical best score: (lateral step / slice spacing)^2.
  double slopeStiffness = 2.0;
  // Steepest course considered (lateral step / slice spacing): about 35 degrees.
  double maxSlope = 0.7;
  // A slice's ring is clear when its score reaches this (contrast as a fraction of the slice's
  // scale): about 0.3-0.6 for the CSF round a cord on T2, 0.15-0.3 on gradient echo.
  double clearScore = 0.08;
};

// An axial series: the slice axis is the grid axis nearest the head-foot direction (within 30
// degrees) and the slices are at least 2.5 x thicker than the pixels (a 3D isotropic or a 1x1x2 mm
// volume is followed through its planes by findCenterline as it is).
bool isAxialSeries(const Image* image);

// The cord found in one slice.
struct SliceCord {
  long slice = 0;             // grid index along the slice axis
  Vec3 centre{};              // LPS mm, in the slice's plane
  double apMm = 0, rlMm = 0;  // the best-fitting disc's size
  double score = 0;           // the ring's score there (fraction of the slice's scale)
  double bestScore = 0;       // the slice's best candidate anywhere
  bool clear = false;         // score >= clearScore
};

struct AxialCenterline {
  Centerline centerline;          // through the slices' cords, cranial first, every stepMm
  std::vector<SliceCord> slices;  // along the path, in grid order
  double sliceSpacingMm = 0;
  double polarityMargin = 0;  // how much more extreme the winning polarity's ring is (0-1)
  double confidence = 0;      // 0-1
  std::vector<std::string> doubts;
};

AxialCenterline findAxialCenterline(const Volume& volume, const CenterlineOptions& options = {},
                                    const RingOptions& ring = {});

}  // namespace cordscope
