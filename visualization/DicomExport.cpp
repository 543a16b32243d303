#include "visualization/DicomExport.h"

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>

#include "data/DicomWriter.h"
#include "data/Error.h"
#include "data/OutputFile.h"
#include "visualization/DicomObjects.h"

namespace cordscope {
namespace dicomout {
namespace {

std::string text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return value.c_str();
}

}  // namespace

SourceImages readSourceImages(const SeriesEntry& series) {
  if (series.frames.empty())
    throw InputError(series.id + ": no DICOM frames to reference in the DICOM results");
  SourceImages source;
  const std::string& path = series.frames.front().path;
  source.header = std::make_unique<DcmFileFormat>();
  // Values longer than 4 kB (the pixels) stay on disk: only the header is wanted.
  if (source.header->loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096).bad())
    throw InputError(path + ": cannot read the source DICOM header again for the DICOM results");
  DcmDataset& ds = *source.header->getDataset();
  source.sopClassUid = text(ds, DCM_SOPClassUID);
  source.studyInstanceUid = text(ds, DCM_StudyInstanceUID);
  source.seriesInstanceUid = text(ds, DCM_SeriesInstanceUID);
  source.frameOfReferenceUid = text(ds, DCM_FrameOfReferenceUID);
  source.patientId = text(ds, DCM_PatientID);
  if (source.sopClassUid.empty() || source.studyInstanceUid.empty() ||
      source.seriesInstanceUid.empty())
    throw InputError(path +
                     ": the source has no SOP Class, Study or Series Instance UID to "
                     "reference in the DICOM results");
  for (const DicomFrame& frame : series.frames) {
    // The reader keys a multi-frame file's frames "UID/n" (data/DicomSeries.cpp); a UID never
    // holds a '/', so what precedes it is the file's SOP Instance UID and n the frame number.
    const auto slash = frame.sopInstanceUid.find('/');
    source.sopInstanceUids.push_back(frame.sopInstanceUid.substr(0, slash));
    source.frameNumbers.push_back(slash == std::string::npos ? 0 : frame.frame + 1);
    source.positions.push_back(frame.position);
  }
  return source;
}

std::string newUid() {
  static std::random_device device;
  static std::mt19937_64 random(
      (static_cast<std::uint64_t>(device()) << 32) ^ device() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  char seed[64];
  const auto a = random(), b = random();
  std::snprintf(seed, sizeof seed, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return uidFromSeed(seed);
}

void copyPatientAndStudy(DcmItem& source, DcmItem& target) {
  // Type 2 (present, may be empty) in the Patient and General Study modules; the rest Type 3,
  // copied when the source has them.
  const DcmTagKey type2[] = {
      DCM_PatientName,    DCM_PatientID, DCM_PatientBirthDate,       DCM_PatientSex,
      DCM_StudyDate,      DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID,
      DCM_AccessionNumber};
  const DcmTagKey type3[] = {DCM_SpecificCharacterSet,
                             DCM_IssuerOfPatientID,
                             DCM_PatientAge,
                             DCM_PatientSize,
                             DCM_PatientWeight,
                             DCM_StudyDescription,
                             DCM_OtherPatientIDsSequence};
  for (const DcmTagKey& tag : type2) {
    DcmElement* element = nullptr;
    if (source.findAndGetElement(tag, element).good() && element)
      target.insert(OFstatic_cast(DcmElement*, element->clone()), OFTrue);
    else
      target.insertEmptyElement(tag, OFTrue);
  }
  for (const DcmTagKey& tag : type3) {
    DcmElement* element = nullptr;
    if (source.findAndGetElement(tag, element).good() && element)
      target.insert(OFstatic_cast(DcmElement*, element->clone()), OFTrue);
  }
  OFString studyUid;
  source.findAndGetOFString(DCM_StudyInstanceUID, studyUid);
  target.putAndInsertOFStringArray(DCM_StudyInstanceUID, studyUid);
}

void stampCreation(DcmItem& target) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[16], time[16];
  std::strftime(date, sizeof date, "%Y%m%d", &utc);
  std::strftime(time, sizeof time, "%H%M%S", &utc);
  for (const DcmTagKey& tag : {DCM_ContentDate, DCM_SeriesDate, DCM_InstanceCreationDate})
    target.putAndInsertString(tag, date);
  for (const DcmTagKey& tag : {DCM_ContentTime, DCM_SeriesTime, DCM_InstanceCreationTime})
    target.putAndInsertString(tag, time);
  target.putAndInsertString(DCM_TimezoneOffsetFromUTC, "+0000");
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value, const std::string& path) {
  if (item.putAndInsertString(tag, value.c_str()).bad())
    throw OutputError(path + ": cannot set DICOM attribute " + DcmTag(tag).getTagName());
}

void check(const OFCondition& status, const std::string& path, const std::string& what) {
  if (status.bad())
    throw OutputError(path + ": cannot write the " + what + " (" + status.text() + ")");
}

void saveAtomically(DcmFileFormat& file, const std::string& path, const std::string& what) {
  const std::string partial = path + kPartialSuffix;
  const OFCondition status = file.saveFile(partial.c_str(), EXS_LittleEndianExplicit);
  if (status.bad()) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    check(status, path, what);
  }
  commitPartial(partial, path, what);
}

const SegmentRef* SegInfo::cord() const {
  for (const SegmentRef& s : segments)
    if (s.lesionId == 0 && s.level == 0 && !s.canal) return &s;
  return nullptr;
}
const SegmentRef* SegInfo::lesion(int id) const {
  for (const SegmentRef& s : segments)
    if (s.lesionId == id) return &s;
  return nullptr;
}
const SegmentRef* SegInfo::level(int level) const {
  for (const SegmentRef& s : segments)
    if (s.level == level) return &s;
  return nullptr;
}

}  // namespace dicomout

void removeDicomResults(const std::string& folder) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error))
    if (entry.path().extension() == ".dcm") std::filesystem::remove(entry.path(), error);
}

DicomExportResult writeDicomResults(const DicomExportInput& input,
                                    const DicomExportOptions& options) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(options.folder, error);
  if (error)
    throw OutputError(options.folder + ": cannot create the DICOM output folder (" +
                      error.message() + ")");
  removeDicomResults(options.folder);

  const dicomout::SourceImages source = dicomout::readSourceImages(input.series);
  DicomExportResult result;
  const dicomout::SegInfo seg = dicomout::writeSegmentation(
      input, source, options, (fs::path(options.folder) / "seg.dcm").string());
  if (!seg.segments.empty()) result.written.push_back("seg.dcm");
  dicomout::writeMeasurementReport(input, source, seg, options,
                                   (fs::path(options.folder) / "sr.dcm").string());
  result.written.push_back("sr.dcm");
  const std::string keySeries = dicomout::newUid();
  int number = 0;
  const auto writeKey = [&](const dicomout::RgbImage& image, const std::string& description) {
    const std::string name = "key" + std::to_string(++number) + ".dcm";
    dicomout::writeKeyImage(image, description, source, options, keySeries, number,
                            (fs::path(options.folder) / name).string());
    result.written.push_back(name);
  };
  for (const KeyImage& image : options.keyImages)
    if (fs::exists(image.pngPath)) writeKey(dicomout::readPng(image.pngPath), image.description);
  if (input.report)
    writeKey(dicomout::findingsPage(*input.report),
             "cordscope: key findings, quality verdict and lesion table (report.json)");
  return result;
}

}  // namespace cordscope
