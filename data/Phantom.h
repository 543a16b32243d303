// Synthetic cervical spine T2 studies with exact ground truth (issue 3).
//
// Anatomy is defined in spine coordinates: s = arc length (mm) along the cord centerline, downward
// from the centre of the foramen magnum; v = offset (mm) along the curve's posterior normal; x =
// patient left (LPS x). The centerline lies in the mid-sagittal plane and carries the lordosis.
// Because s is arc length and level boundaries are planes s = const, the truth (level extents,
// lesion length along the cord, segments spanned) is exact by construction. Each voxel averages
// sub-samples across the slice thickness (partial volume); truth masks are the voxels whose
// sub-samples are at least half inside the structure.
//
// Analysis code must never read this model or its constants: it is judged on real scans.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "Volume.h"

namespace cordscope {

struct PhantomLesion {
  int topLevel = 3;
  int bottomLevel = 6;
  std::string pattern = "dorsal";  // dorsal, central, lateral, ventral, holocord
  double contrast = 0.6;           // fraction of the CSF-to-cord signal difference
};

struct PhantomCompression {
  int level = 5;
  double ratio = 0.6;  // cord AP diameter at the level, as a fraction of normal
};

struct PhantomOptions {
  unsigned seed = 1;
  double ageYears = 55;
  std::string sex = "F";
  std::vector<PhantomLesion> lesions;
  double adiMm = 1.5;
  std::optional<double> padiMm;  // default: from the canal size (about 19 mm)
  std::vector<PhantomCompression> compressions;
  double lordosisMm = 8;  // largest anterior bow of the cervical centerline from its C2-T1 chord
  std::string orientation = "sagittal";  // sagittal or axial
  double pixelMm = 0.625;
  double sliceThicknessMm = 3;
  double sliceGapMm = 0;
  unsigned matrix = 400;
  std::optional<unsigned> slices;  // default: 15 sagittal, or enough axial slices to cover C1-T2
  double tiltDeg = 0;              // oblique acquisition: grid rotated about the AP axis
  double noise = 0.03;             // Rician sigma as a fraction of the cord signal
  double bias = 0.15;              // amplitude of a smooth coil-sensitivity field
  bool shuffleFiles = false;
  std::string studyDate = "20240115";
  std::string seriesDescription;  // default "T2 TSE SAG" / "T2 TSE AX"
  double dicomEchoTimeMs = 100, dicomRepetitionTimeMs = 3000;
};

struct PhantomStudy {
  Volume volume;
  Mask::Pointer cord, canal, lesion;
  LabelImage::Pointer levels;  // cord voxels labelled 1 = C1 ... 9 = T2
  nlohmann::json truth;        // parameters and derived ground truth (see docs/phantom.md)
};

// Builds the study in memory. Throws UsageError for parameters outside their documented range.
PhantomStudy makePhantom(const PhantomOptions& options);

// Writes OUTDIR/dicom/ (classic MR series), OUTDIR/truth.json and OUTDIR/truth/*.nii.gz. The truth
// masks are on exactly the grid `cordscope convert OUTDIR/dicom` produces (the series is read
// back and the masks are placed voxel by voxel in world space).
void writePhantom(const PhantomStudy& study, const PhantomOptions& options,
                  const std::string& outDir);

}  // namespace cordscope
