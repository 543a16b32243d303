// Writes a Volume as a classic MR DICOM series (MR Image Storage, one file per slice, explicit
// VR little endian) with DCMTK. Geometry is written per slice by hand (ImagePositionPatient of
// each slice's first voxel, ImageOrientationPatient, PixelSpacing, SpacingBetweenSlices), because
// a naive ITK series writer loses origin, spacing and direction. Reading the series back gives
// the same grid to within DS precision (better than 1e-6 mm).
#pragma once
#include <string>
#include <vector>

#include "Volume.h"

namespace cordscope {

struct DicomWriteOptions {
  std::string uidSeed;  // UIDs are derived from it: the same seed gives the same UIDs
  std::string patientName = "PHANTOM^CORDSCOPE";
  std::string patientBirthDate;  // YYYYMMDD, optional
  std::string studyTime = "120000";
  std::string bodyPart = "CSPINE";
  std::string fileNamePrefix = "IM";
  bool shuffleFileNames = false;  // file names not in slice order (a real-world quirk)
  unsigned shuffleSeed = 0;
  int temporalPosition = 0;  // > 0 writes TemporalPositionIdentifier (4D test series)
  int instanceNumberOffset = 0;
};

// Writes into `folder` (created if needed); returns the paths written, in slice order. Pixel
// values are stored as unsigned 16-bit with RescaleSlope/Intercept chosen so that whole-number
// volumes in range are stored exactly (slope 1, intercept 0). Metadata comes from volume.meta.
std::vector<std::string> writeDicomSeries(const Volume& volume, const std::string& folder,
                                          const DicomWriteOptions& options);

// A DS (decimal string) value: the most significant digits that fit in its 16 characters.
std::string decimalString(double value);

// A DICOM UID under the 2.25 (UUID-derived) root, a deterministic function of `seed`.
std::string uidFromSeed(const std::string& seed);

}  // namespace cordscope
