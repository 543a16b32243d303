// T2-hyperintense voxels inside the cord, grouped into lesions.
//
// Intensity is judged against the patient's own tissue, section by section along the cord: the
// normal cord level (30th percentile of the cord's voxels in each section - a dorsal-column lesion
// covers less than that - fitted robustly along the cord over +-40 mm) and the CSF level (75th
// percentile of the canal's voxels outside the cord, smoothed the same way). Each voxel's
// normalised intensity n = (I - cord) / (CSF - cord) is 0 in normal cord and 1 in CSF, whatever
// the coil's sensitivity there. The threshold comes from the image's own noise: the spread of n
// over the cord's interior (median + k robust SDs, never below a floor). Seeds must lie in the
// cord's interior (partial volume with CSF at the cord's edge is not a lesion); they grow,
// hysteresis-style, into every connected cord voxel above a lower threshold that lies wholly
// inside the cord's outline (a thick slice straddling the cord's side would otherwise carry the
// lesion along the whole cord). Connected
// components are joined into one lesion when their extents along the cord overlap or are less
// than `joinGapMm` apart (one longitudinal lesion with a skip); lesions shorter and smaller than
// the minimum are dropped.
#pragma once
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/CordSegmentation.h"

namespace cordscope {

struct LesionOptions {
  double seedSpreads = 5.0;  // seed threshold: median + this many robust SDs of n
  double growSpreads = 3.0;  // grow threshold
  double seedFloor = 0.25;   // n never below these: a quarter of the way from cord to CSF
  double growFloor = 0.15;
  double interior = 0.85;   // seeds: the whole voxel within this fraction of the cord's semi-axes
  double growWithin = 1.0;  // growth: the whole voxel inside the cord's outline (a voxel that
                            // straddles the edge is partly CSF: bright without a lesion)
  // Edge voxels (centre inside the outline, the voxel not wholly): judged by n beyond their
  // modelled partial volume with CSF, when at most this fraction of them lies outside the cord ...
  double edgeMaxOutside = 0.5;
  // ... and less this allowance for the model's error (an outline 0.5 mm off across a 3 mm
  // voxel moves its CSF fraction by 0.17; the cord is not quite an ellipse; its course bends
  // within a voxel) ...
  double edgeModelError = 0.3;
  // ... and not where a voxel spans more than this much of the cord's length (thick axial slabs:
  // the outline changes within the voxel and the section model does not hold).
  double edgeMaxAlongCordMm = 6.0;
  // Faint signal (FaintSignal), judged on sector means over +-faintHalfMm along the cord, away
  // from the lesions found (by more than joinGapMm): at least faintFloor above the cord's level
  // (n) and faintStandardErrors standard errors (the voxel spread over the square root of the
  // count), over at least faintMinVoxels voxels. Measured (2026-12-02, real-anatomy set and unseen
  // draws of seeds 7, 11, 13): lesion-free PAM50 studies reach a mean of 0.049 at 6.9 standard
  // errors at most, the real lesion-free sct-t2 scan 0.076 at 7.6 (its ventral grey matter),
  // sct-mt-axial 0.16 at 4.1 (noisy); painted lesions of 1.15-1.3 x the cord's signal that the
  // voxel seeds miss, 0.11-0.14 at 9-13.
  double faintHalfMm = 5.0;
  // ... and over +-faintShortHalfMm: a short lesion whose tapered ends overlap (7-8 mm at 0.36 of
  // CSF with 5-6 mm tapers, unseen draws random-41-15 and -19) is diluted to 0.06 over 10 mm but
  // stands at 0.11 (11-17 errors) over 5; lesion-free studies of the set and of five unseen draws
  // reach 0.57 of the floors at most over 5 mm, the real sct-t2 0.88 (0.95 over 10 mm).
  double faintShortHalfMm = 2.5;
  double faintFloor = 0.08;
  double faintStandardErrors = 8.0;
  double faintMinVoxels = 8;
  double joinGapMm = 10.0;    // fragments closer than this along the cord (about half a level)
                              // are one lesion
  double minLengthMm = 2.0;   // a lesion is kept when at least this long ...
  double minVolumeMm3 = 8.0;  // ... or at least this large
  // The cord's level under a long lesion (step 2 in docs/lesions.md): the cord-to-CSF ratio's
  // lower envelope, weighting samples above it by baselineAsymmetry (a lesion only raises the
  // ratio); the local fit is held down to it, plus baselineMargin of the contrast (the envelope
  // sits at the noise's lower edge), where it stands above that over a whole fit window.
  double baselineAsymmetry = 0.01;
  double baselineMargin = 0.05;
  // The noise (step 4) is read on sections whose own cord level stands at most this far (0 cord,
  // 1 CSF) above the fitted one, when they hold at least noiseMinNormalShare of the interior.
  double noiseSectionLimit = 0.1;
  double noiseMinNormalShare = 1.0 / 3.0;
  double fitWindowMm = 40.0;  // robust fit of the cord and CSF levels along the cord
  // The cord's normal level is read on measured outlines only, when at least this fraction of the
  // sections were measured (otherwise on all).
  double minMeasuredFraction = 0.2;
  double tailFraction = 0.15;  // a lesion ends where its section area falls below this fraction
                               // of its median section area (a thin tail of edge voxels is not
                               // lesion)
  double halfMaximum = 0.5;    // ... or its brightest voxel below this fraction of the lesion's
                               // peak (normalised intensity): the extent at half maximum
};

// A stretch of one sector of the cord (centre, ventral, dorsal, lateral) brighter than the cord
// elsewhere on average, by less than a lesion is segmented at: a faint lesion's signal (1.15-1.3 x
// the cord's, where B12 myelopathy starts) spreads over too many voxels near the noise to seed a
// lesion, but its mean over a centimetre stands many standard errors above the cord's. Not a
// lesion - a place to look: quality control turns it into a check.
struct FaintSignal {
  double topArcMm = 0, bottomArcMm = 0;  // along the cord, from its top
  std::string sector;                    // "central", "ventral", "dorsal", "lateral"
  double meanExcess = 0;                 // mean n above the cord's (0 cord, 1 CSF)
  double standardErrors = 0;             // that mean over its standard error
};

// One lesion's voxels as positions on the cord, for measurement.
struct LesionVoxel {
  CordPosition where;
  double intensity = 0;  // raw
  double cordLevel = 0;  // normal cord level at its section
};

struct LesionSegmentation {
  bool looked = false;  // false: no cord, or a contrast where lesions are not hyperintense
  std::string note;     // why not looked, when not
  Mask::Pointer mask;   // input grid: 0 outside lesions, lesion id (1, 2, ...) inside
  std::vector<std::vector<LesionVoxel>> lesions;  // per id - 1, cranial first
  double seedThreshold = 0, growThreshold = 0;    // in normalised intensity
  double voxelVolumeMm3 = 0;
  double voxelExtentAlongCordMm = 0;  // a voxel's depth along the cord's tangent (typical)
  std::vector<FaintSignal> faint;     // away from the lesions, strongest first
};

LesionSegmentation segmentLesions(const Volume& volume, const CordSegmentation& cord,
                                  const LesionOptions& options = {});

}  // namespace cordscope
