// Internal to the DICOM export (DicomExport.h): what the SEG, SR and key-image writers share - the
// source images they reference, UIDs, the patient and study modules copied from the source.
#pragma once
#include <dcmtk/dcmdata/dctk.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "data/DicomWriter.h"  // decimalString, uidFromSeed
#include "visualization/DicomExport.h"

namespace cordscope::dicomout {

// The source series as the new objects reference it: one entry per slice of the Volume (slice k
// of the image is frame k of the series, both sorted along the slice normal).
struct SourceImages {
  std::unique_ptr<DcmFileFormat> header;  // the first frame's file, without its pixels
  std::string sopClassUid;
  std::string studyInstanceUid, seriesInstanceUid, frameOfReferenceUid, patientId;
  std::vector<std::string> sopInstanceUids;      // per slice
  std::vector<unsigned> frameNumbers;            // per slice: 1-based in a multi-frame file, else 0
  std::vector<std::array<double, 3>> positions;  // per slice: ImagePositionPatient, LPS mm
};

// Reads the first source file's header again (patient, study, frame of reference, SOP class).
// Throws InputError naming the file.
SourceImages readSourceImages(const SeriesEntry& series);

// A new UID under the 2.25 root, unique per call (random 128 bits).
std::string newUid();

// Patient, General Study and Patient Study attributes copied from the source (a Type 2 one the
// source lacks is written empty), and its Specific Character Set.
void copyPatientAndStudy(DcmItem& source, DcmItem& target);

// ContentDate/Time, SeriesDate/Time, InstanceCreationDate/Time: now.
void stampCreation(DcmItem& target);

// Sets a string attribute or throws OutputError naming `path` and the attribute.
void put(DcmItem& item, const DcmTagKey& tag, const std::string& value, const std::string& path);

// Throws OutputError "PATH: cannot write the WHAT (reason)" when `status` is bad.
void check(const OFCondition& status, const std::string& path, const std::string& what);

// Saves `file` to a temporary beside `path` and renames it over `path` (OutputFile.h).
void saveAtomically(DcmFileFormat& file, const std::string& path, const std::string& what);

// One segment of the SEG, as the SR references it.
struct SegmentRef {
  unsigned short number = 0;
  std::string label;
  int lesionId = 0;  // > 0 for a lesion's segment
  int level = 0;     // > 0 for the cord at a vertebral level (1 = C1)
  bool canal = false;
  std::string trackingId, trackingUid;  // a lesion's, shared by the SEG and the SR
};

struct SegInfo {
  std::string sopClassUid, sopInstanceUid, seriesInstanceUid;
  std::vector<SegmentRef> segments;
  const SegmentRef* cord() const;
  const SegmentRef* lesion(int id) const;
  const SegmentRef* level(int level) const;
};

// The DICOM Segmentation (DicomSeg.cpp); empty `segments` when no mask holds a voxel (nothing
// written then: a SEG needs at least one frame).
SegInfo writeSegmentation(const DicomExportInput& input, const SourceImages& source,
                          const DicomExportOptions& options, const std::string& path);

// The TID 1500 measurement report (DicomSr.cpp).
void writeMeasurementReport(const DicomExportInput& input, const SourceImages& source,
                            const SegInfo& seg, const DicomExportOptions& options,
                            const std::string& path);

// An 8-bit RGB picture, interleaved, row by row.
struct RgbImage {
  unsigned width = 0, height = 0;
  std::vector<Uint8> pixels;
};

// A PNG read as RGB (DicomKeyImages.cpp). Throws OutputError naming it.
RgbImage readPng(const std::string& path);

// The key findings of report.json on one page, as a reader without cordscope sees them
// (FindingsPage.cpp).
RgbImage findingsPage(const nlohmann::json& report);

// One Secondary Capture image (DicomKeyImages.cpp); instance `number` of the series.
void writeKeyImage(const RgbImage& image, const std::string& description,
                   const SourceImages& source, const DicomExportOptions& options,
                   const std::string& seriesUid, int number, const std::string& path);

}  // namespace cordscope::dicomout
