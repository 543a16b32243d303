// Volume: one 3D MR image with exact patient-space geometry plus the study metadata cordscope
// reports. The image is an ITK float image in LPS (ITK's convention): index -> physical point is
// origin + direction * diag(spacing) * index, in millimetres. NIfTI files are RAS on disk; the
// conversion happens only in Nifti.cpp.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/Image.h"

namespace cordscope {

// Plane of the acquisition, from the slice normal (the grid's third axis): within 30 degrees of a
// patient axis it is that plane, otherwise oblique. A sagittal series tilted 10 degrees is
// still "sagittal", as a radiologist would call it.
enum class Orientation { Sagittal, Coronal, Axial, Oblique };
std::string toString(Orientation orientation);
Orientation classifyOrientation(const Image::DirectionType& direction);

// Three-letter orientation code of the grid axes in LPS letters, e.g. "PIL" for a typical sagittal
// DICOM series (column->P, row->I, slice->L). Axis i gets the letter of the patient direction its
// index increases towards.
std::string axisCode(const Image::DirectionType& direction);

struct SeriesMetadata {
  std::string patientName;  // for reading: "Family, Given Middle" from DICOM's PN, UTF-8
  std::string patientId;
  std::string patientSex;                 // "M", "F", "O" or empty
  std::optional<double> patientAgeYears;  // PatientAge, else StudyDate - PatientBirthDate
  std::string studyInstanceUid;
  std::string seriesInstanceUid;
  std::string studyDate;  // YYYYMMDD as in DICOM, empty when unknown
  std::string seriesDescription;
  std::string protocolName;
  std::string modality;  // "MR" for what cordscope analyses
  std::string manufacturer;
  std::string imageType;  // DICOM ImageType, backslash separated
  int seriesNumber = 0;
  std::optional<double> echoTimeMs;
  std::optional<double> repetitionTimeMs;
  std::optional<double> sliceThicknessMm;
  std::optional<double> magneticFieldStrengthT;
};

struct Volume {
  Image::Pointer image;
  SeriesMetadata meta;
  std::string sourcePath;             // file or folder it was read from
  std::string sourceKind;             // "dicom" or "nifti"
  std::vector<std::string> warnings;  // things a user should know about how it was read

  Orientation orientation() const { return classifyOrientation(image->GetDirection()); }
};

// A DICOM person name (PN: "Family^Given^Middle^Prefix^Suffix", alphabetic group only) as a
// reader writes it: "Prefix Family, Given Middle Suffix"; "" when empty.
std::string formatPersonName(const std::string& pn);

// Patient age from DICOM strings: PatientAge ("047Y", "006M", "010W", "003D") first, else the
// difference between StudyDate and PatientBirthDate (both YYYYMMDD). Empty when neither works.
std::optional<double> parsePatientAge(const std::string& patientAge, const std::string& birthDate,
                                      const std::string& studyDate);

void to_json(nlohmann::json& j, const SeriesMetadata& m);

// The distinct intensities of an image, counted on every 7th voxel and up to 17: a mask or a
// label map (a segmentation, a truth file beside the images) has at most 16, an MR image
// thousands (noise alone gives every voxel its own value).
constexpr std::size_t kMaxLabelValues = 16;
std::size_t distinctValuesUpTo17(const Image& image);
inline bool isLabelImage(const Image& image) {
  return distinctValuesUpTo17(image) <= kMaxLabelValues;
}

}  // namespace cordscope
