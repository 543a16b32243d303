// The results of one analysis as DICOM objects in the study they came from, for the PACS viewer a
// radiologist reads in (docs/dicom-output.md): a binary Segmentation (cord, canal, each lesion,
// the cord at each vertebral level), a TID 1500 Measurement Report (Enhanced SR) whose
// measurements point at those segments, and the key pictures as Secondary Capture images. Every
// object keeps the source's patient and study (same Study Instance UID), gets a new series, and
// the SEG lies on the source's grid: one frame per source slice a segment touches, positions and
// orientation in LPS exactly as the source's frames give them.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "data/Input.h"
#include "measurement/Analysis.h"

namespace cordscope {

struct KeyImage {
  std::string pngPath;      // an RGB or grey PNG (sagittal.png, render3d.png, ...)
  std::string description;  // the image's DerivationDescription and ImageComments
};

struct DicomExportOptions {
  std::string folder;  // written into (created); OUTDIR/dicom for analyze
  // The three new series are numbered base (SEG), base + 1 (SR), base + 2 (key images): above
  // what scanners number their own series (1-99, 1000s for derived) so that they sort last.
  int seriesNumberBase = 9100;
  std::string softwareVersion;  // SoftwareVersions of the objects
  std::vector<KeyImage> keyImages;
};

// What the objects are made of. `lesions` and `quality` are the final ones (an axial series may
// have refined the lesions and added a reason); the rest comes from `analysis`.
struct DicomExportInput {
  const Volume& volume;
  const SeriesEntry& series;  // the source frames (files, SOP Instance UIDs, positions)
  const Analysis& analysis;
  const std::vector<Lesion>& lesions;
  const QualityReport& quality;
  // report.json as written: its key findings become a one-page findings key image (none when
  // null).
  const nlohmann::json* report;
};

struct DicomExportResult {
  std::vector<std::string> written;  // file names inside the folder, in the order written
};

// Removes the objects an earlier run left in `folder` (*.dcm), so that they never pass for this
// run's; a missing folder is fine.
void removeDicomResults(const std::string& folder);

// Throws OutputError naming the file when one cannot be written, InputError when the source
// DICOM cannot be read again. The caller decides that the input is DICOM and a cord was found.
DicomExportResult writeDicomResults(const DicomExportInput& input,
                                    const DicomExportOptions& options);

}  // namespace cordscope
