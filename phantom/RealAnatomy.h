// Test studies built from real anatomy (issue 18).
//
// The real scans in ../shared/data - the PAM50 template (a whole spine from the brainstem down,
// with its cord mask, levels and discs), sct-t2 (a real 3D T2 with an expert cord mask labelled
// C2-C5) and sct-t2-lesion (a real sagittal T2 with an expert cord mask and a painted lesion) -
// are deformed as other patients' necks are (taller or shorter, more or less lordotic, tilted and
// rolled in the scanner), resampled onto clinical grids (2.5-3.5 mm sagittal slices, or thick
// axial slabs, with partial volume across the slice), and given lesions painted into the cord
// where B12 myelopathy and MS put them (dorsal columns from C2 down, lateral, central, ventral,
// holocord; subtle to CSF-bright; tapered ends), a smooth coil field and Rician noise.
//
// One map takes every point of the output grid to a point of the real scan: the output cord's
// course is a curve C(s) (s = arc length, mm) carrying the lordosis; a point at arc s and offsets
// (anterior a, lateral l) from it in the plane perpendicular to C comes from the source point at
// arc s / stretch along the source cord's own course, with the same offsets. Cross-sections keep
// their real size and shape; heights along the spine scale by `stretch`. So the truth - disc
// positions, level extents, lesion ends and length along the cord, masks - is exact and
// deterministic by seed. Analysis code never reads this model: it is what the analysis is
// judged on.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/Volume.h"

namespace cordscope {

struct PaintedLesion {
  // Where: by vertebral level (sources with labelled levels: 1 = C1 ... 8 = T1), the ends as a
  // fraction of their level's height from its upper disc (0) to its lower disc (1). A lesion
  // starting in C1 starts topFraction x 10 mm above the C1/C2 junction counted upwards... see
  // RealAnatomy.cpp (levelToSourceArc). For sources without levels (topLevel = 0): the ends in mm
  // along the source cord from its first expert-masked section.
  int topLevel = 3, bottomLevel = 5;
  double topFraction = 0.3, bottomFraction = 0.7;
  double topMm = 0, bottomMm = 0;  // topLevel = 0 only
  std::string pattern = "dorsal";  // dorsal, lateral, central, ventral, holocord
  double brightness = 0.6;         // 0 = the cord's own signal, 1 = CSF's (at the lesion's middle)
  double taperMm = 4;      // the cross-section narrows and the signal fades over this length
  bool rightSide = false;  // lateral lesions: the patient's right (else left)
};

struct RealAnatomyOptions {
  std::string name;              // a short label for tables ("pam50-tall-dorsal-C2-C6")
  std::string source = "pam50";  // pam50, sct-t2, sct-t2-lesion
  std::string sharedData;        // the folder holding real/ (../shared/data)
  unsigned seed = 1;             // noise, coil field, intensity scale
  double stretch = 1.0;          // heights along the cord x this (1.12: a neck 12 % taller)
  double lordosisMm = 10;        // anterior bow of the cord between C2 and T1 (< 0: kyphosis)
  double tiltDeg = 0;            // the spine rotated about the left-right axis in the scanner
  double rollDeg = 0;            // ... and about the anterior-posterior axis
  double lateralOffsetMm = 0;    // sagittal: the cord's distance from the slab's centre
  std::string orientation = "sagittal";  // sagittal or axial
  double pixelMm = 0.7;                  // in-plane pixel
  double sliceThicknessMm = 3;
  double sliceGapMm = 0;
  int slices = 0;  // 0: sagittal 15 (or what the source's width holds); axial: cover the range
  double fovInPlaneMm = 0;  // 0: per source (sagittal AP width; axial square)
  // Field of view along the spine. PAM50: from aboveJunctionMm above the C1/C2 junction (the
  // template reaches about 78 mm above it, past the foramen magnum) down to the middle of
  // bottomLevel. Axial: from the middle of axialTopLevel to the middle of axialBottomLevel.
  // sct sources: their whole extent.
  double aboveJunctionMm = 60;
  int bottomLevel = 10;  // T3
  int axialTopLevel = 2, axialBottomLevel = 7;
  double noise = 0.04;  // Rician sigma as a fraction of the cord's signal
  double bias = 0.2;    // amplitude of the smooth multiplicative coil field (log scale)
  bool invert = false;  // T1-like contrast: CSF darker than cord (intensity reversed)
  std::vector<PaintedLesion> lesions;
};

struct RealAnatomyStudy {
  Volume volume;
  Mask::Pointer cord;        // truth cord, lesions inside it
  Mask::Pointer lesion;      // truth lesions: id 1, 2, ... (painted ones first, then the source's)
  Mask::Pointer cordRegion;  // where the cord truth is defined (the expert mask's extent)
  LabelImage::Pointer levels;  // truth levels on the cord (1 = C1 ...), when the source has them
  // Truth (docs/realanatomy.md): discs (name, label, arc_mm, position_lps), levels (top/bottom
  // arc, height), lesions (ends, length along the cord, levels, per-level coverage, pattern,
  // brightness), cord extent, the options.
  nlohmann::json truth;
};

RealAnatomyStudy makeRealAnatomyStudy(const RealAnatomyOptions& options);

// The standard test set (at least 40 studies; tests/realanatomy assert the issue-18 floors on
// it): whole spines from PAM50 with lesions of every pattern and length from C2 down, taller and
// shorter necks, lesion-free studies, axial slabs, and studies from sct-t2 and sct-t2-lesion.
std::vector<RealAnatomyOptions> realAnatomyTestSet(const std::string& sharedData);

// Whole spines from PAM50 with every parameter drawn at random (seeded) within the ranges of
// the standard set - the guard against rules fitted to the hand-picked studies: stretch
// 0.85-1.15, lordosis -5..20 mm, tilt +-10, roll +-4 degrees, slices 2.5-3.5 mm, pixels
// 0.5-0.9 mm, noise 0.02-0.08, coil field 0-0.4; four in five with one lesion of a random
// pattern, 1-8 levels from C1-C5 down, brightness 0.15-1, taper 0-8 mm.
std::vector<RealAnatomyOptions> realAnatomyRandomSet(const std::string& sharedData, int count,
                                                     unsigned seed);

// OUTDIR/dicom (classic MR series), OUTDIR/truth.json, OUTDIR/truth/{cord,lesion,cord_region,
// levels}.nii.gz on the grid `cordscope convert OUTDIR/dicom` produces.
void writeRealAnatomyStudy(const RealAnatomyStudy& study, const std::string& outDir);

// Several series of one anatomy as one study (the same Study Instance UID; each its own series
// number and UID): OUTDIR/dicom/<k>/ and OUTDIR/truth-<k>.json, truth-<k>/ for series k = 1, 2, ...
// (a sagittal and an axial series of the same neck, as a clinical study holds them).
void writeRealAnatomySeries(const std::vector<RealAnatomyStudy>& series, const std::string& outDir);

void to_json(nlohmann::json& j, const RealAnatomyOptions& o);

}  // namespace cordscope
