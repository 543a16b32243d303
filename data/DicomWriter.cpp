#include "DicomWriter.h"

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "Error.h"

namespace cordscope {
namespace {

std::string decimals(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) out += (out.empty() ? "" : "\\") + decimalString(v);
  return out;
}

void put(DcmDataset& ds, const DcmTagKey& tag, const std::string& value, const std::string& path) {
  if (ds.putAndInsertString(tag, value.c_str()).bad())
    throw Error(ExitCode::AnalysisFailed,
                path + ": cannot set DICOM attribute " + DcmTag(tag).getTagName());
}

std::string ageString(const std::optional<double>& years) {
  if (!years) return "";
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%03dY", static_cast<int>(std::floor(*years)));
  return buffer;
}

}  // namespace

std::string decimalString(double value) {
  if (std::abs(value) < 1e-12) return "0";
  char buffer[64];
  for (int precision = 15; precision > 1; --precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strlen(buffer) <= 16) return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "%.1e", value);
  return buffer;
}

std::string uidFromSeed(const std::string& seed) {
  // Two 64-bit FNV-1a hashes make 128 bits; 2.25.<decimal> is the UUID-derived root (PS3.5 B.2).
  auto fnv = [](const std::string& text, std::uint64_t basis) {
    std::uint64_t h = basis;
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
    return h;
  };
  const std::uint64_t hi = fnv(seed, 14695981039346656037ULL) >> 1;  // keep it below 2^127
  const std::uint64_t lo = fnv(seed + "#", 1469598103934665603ULL);
  // Decimal of hi * 2^64 + lo without a big-integer library: long division in base 1e9.
  std::vector<std::uint32_t> limbs = {
      static_cast<std::uint32_t>(hi >> 32), static_cast<std::uint32_t>(hi),
      static_cast<std::uint32_t>(lo >> 32), static_cast<std::uint32_t>(lo)};
  std::string digits;
  while (std::any_of(limbs.begin(), limbs.end(), [](std::uint32_t v) { return v != 0; })) {
    std::uint64_t remainder = 0;
    for (auto& limb : limbs) {
      const std::uint64_t current = (remainder << 32) | limb;
      limb = static_cast<std::uint32_t>(current / 10);
      remainder = current % 10;
    }
    digits.insert(digits.begin(), static_cast<char>('0' + remainder));
  }
  return "2.25." + (digits.empty() ? std::string("0") : digits);
}

std::vector<std::string> writeDicomSeries(const Volume& volume, const std::string& folder,
                                          const DicomWriteOptions& options) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  const Image* image = volume.image.GetPointer();
  const auto size = image->GetLargestPossibleRegion().GetSize();
  const auto spacing = image->GetSpacing();
  const auto direction = image->GetDirection();
  const auto origin = image->GetOrigin();
  const SeriesMetadata& meta = volume.meta;
  std::filesystem::create_directories(folder);

  // Storage: exact for whole numbers in [0, 65535], otherwise a linear rescale.
  const float* values = image->GetBufferPointer();
  const std::size_t count = image->GetBufferedRegion().GetNumberOfPixels();
  const auto [lo, hi] = std::minmax_element(values, values + count);
  bool whole = true;
  for (std::size_t i = 0; i < count && whole; ++i) whole = values[i] == std::nearbyint(values[i]);
  double slope = 1.0, intercept = 0.0;
  if (!(whole && *lo >= 0 && *hi <= 65535)) {
    intercept = *lo;
    slope = *hi > *lo ? (static_cast<double>(*hi) - *lo) / 65535.0 : 1.0;
  }

  const std::string studyUid = meta.studyInstanceUid.empty()
                                   ? uidFromSeed(options.uidSeed + "/study")
                                   : meta.studyInstanceUid;
  const std::string seriesUid = meta.seriesInstanceUid.empty()
                                    ? uidFromSeed(options.uidSeed + "/series")
                                    : meta.seriesInstanceUid;
  const std::string frameUid = uidFromSeed(options.uidSeed + "/frame");

  std::vector<std::size_t> names(size[2]);
  std::iota(names.begin(), names.end(), 1);
  if (options.shuffleFileNames)
    std::shuffle(names.begin(), names.end(), std::mt19937(options.shuffleSeed));

  std::vector<std::string> written;
  const std::size_t slicePixels = size[0] * size[1];
  std::vector<Uint16> stored(slicePixels);
  for (std::size_t k = 0; k < size[2]; ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "%s%04zu.dcm", options.fileNamePrefix.c_str(), names[k]);
    const std::string path = (std::filesystem::path(folder) / name).string();
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    const std::string sopUid =
        uidFromSeed(options.uidSeed + "/sop/" + std::to_string(options.temporalPosition) + "/" +
                    std::to_string(k));
    const int instance = options.instanceNumberOffset + static_cast<int>(k) + 1;
    double position[3];
    for (int r = 0; r < 3; ++r)
      position[r] = origin[r] + direction[r][2] * spacing[2] * static_cast<double>(k);

    put(ds, DCM_SOPClassUID, UID_MRImageStorage, path);
    put(ds, DCM_SOPInstanceUID, sopUid, path);
    put(ds, DCM_SpecificCharacterSet, "ISO_IR 100", path);
    put(ds, DCM_ImageType, meta.imageType.empty() ? "ORIGINAL\\PRIMARY\\M\\ND" : meta.imageType,
        path);
    put(ds, DCM_StudyDate, meta.studyDate, path);
    put(ds, DCM_SeriesDate, meta.studyDate, path);
    put(ds, DCM_StudyTime, options.studyTime, path);
    put(ds, DCM_Modality, meta.modality.empty() ? "MR" : meta.modality, path);
    put(ds, DCM_Manufacturer, meta.manufacturer.empty() ? "cordscope" : meta.manufacturer, path);
    put(ds, DCM_SeriesDescription, meta.seriesDescription, path);
    put(ds, DCM_ProtocolName,
        meta.protocolName.empty() ? meta.seriesDescription : meta.protocolName, path);
    put(ds, DCM_PatientName, options.patientName, path);
    put(ds, DCM_PatientID, meta.patientId.empty() ? "PHANTOM" : meta.patientId, path);
    put(ds, DCM_PatientBirthDate, options.patientBirthDate, path);
    put(ds, DCM_PatientSex, meta.patientSex, path);
    put(ds, DCM_PatientAge, ageString(meta.patientAgeYears), path);
    put(ds, DCM_BodyPartExamined, options.bodyPart, path);
    put(ds, DCM_StudyInstanceUID, studyUid, path);
    put(ds, DCM_SeriesInstanceUID, seriesUid, path);
    put(ds, DCM_FrameOfReferenceUID, frameUid, path);
    put(ds, DCM_StudyID, "1", path);
    put(ds, DCM_SeriesNumber, std::to_string(meta.seriesNumber > 0 ? meta.seriesNumber : 1), path);
    put(ds, DCM_InstanceNumber, std::to_string(instance), path);
    put(ds, DCM_PatientPosition, "HFS", path);
    put(ds, DCM_PositionReferenceIndicator, "", path);
    put(ds, DCM_ScanningSequence, "SE", path);
    put(ds, DCM_SequenceVariant, "SK", path);
    put(ds, DCM_ScanOptions, "", path);
    put(ds, DCM_MRAcquisitionType, "2D", path);
    if (meta.echoTimeMs) put(ds, DCM_EchoTime, decimalString(*meta.echoTimeMs), path);
    if (meta.repetitionTimeMs)
      put(ds, DCM_RepetitionTime, decimalString(*meta.repetitionTimeMs), path);
    if (meta.magneticFieldStrengthT)
      put(ds, DCM_MagneticFieldStrength, decimalString(*meta.magneticFieldStrengthT), path);
    put(ds, DCM_EchoTrainLength, "16", path);
    if (options.temporalPosition > 0)
      put(ds, DCM_TemporalPositionIdentifier, std::to_string(options.temporalPosition), path);
    // Image plane module, per slice.
    put(ds, DCM_ImagePositionPatient, decimals({position[0], position[1], position[2]}), path);
    put(ds, DCM_ImageOrientationPatient,
        decimals({direction[0][0], direction[1][0], direction[2][0], direction[0][1],
                  direction[1][1], direction[2][1]}),
        path);
    put(ds, DCM_PixelSpacing, decimals({spacing[1], spacing[0]}), path);
    put(ds, DCM_SliceThickness,
        decimalString(meta.sliceThicknessMm ? *meta.sliceThicknessMm : spacing[2]), path);
    put(ds, DCM_SpacingBetweenSlices, decimalString(spacing[2]), path);
    const double normalPosition = position[0] * direction[0][2] + position[1] * direction[1][2] +
                                  position[2] * direction[2][2];
    put(ds, DCM_SliceLocation, decimalString(normalPosition), path);
    // Image pixel module.
    ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
    put(ds, DCM_PhotometricInterpretation, "MONOCHROME2", path);
    ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(size[1]));
    ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(size[0]));
    ds.putAndInsertUint16(DCM_BitsAllocated, 16);
    ds.putAndInsertUint16(DCM_BitsStored, 16);
    ds.putAndInsertUint16(DCM_HighBit, 15);
    ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
    put(ds, DCM_RescaleIntercept, decimalString(intercept), path);
    put(ds, DCM_RescaleSlope, decimalString(slope), path);
    put(ds, DCM_RescaleType, "US", path);
    const float* slice = values + k * slicePixels;
    for (std::size_t i = 0; i < slicePixels; ++i)
      stored[i] =
          static_cast<Uint16>(std::clamp(std::lround((slice[i] - intercept) / slope), 0L, 65535L));
    ds.putAndInsertUint16Array(DCM_PixelData, stored.data(),
                               static_cast<unsigned long>(slicePixels));
    const OFCondition status = file.saveFile(path.c_str(), EXS_LittleEndianExplicit);
    if (status.bad())
      throw OutputError(path + ": cannot write DICOM (" + std::string(status.text()) + ")");
    written.push_back(path);
  }
  return written;
}

}  // namespace cordscope
