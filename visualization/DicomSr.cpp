// The TID 1500 Measurement Report of one analysis (DicomObjects.h), an Enhanced SR (the least
// IOD that holds it: no spatial coordinates) written with DCMTK's dcmsr/cmr templates. Every number
// is taken from the report.json form of its value (the same to_json), so that the SR and
// report.json agree to the printed precision.
#include <dcmtk/dcmsr/cmr/cid5000.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/Error.h"
#include "data/Levels.h"
#include "visualization/DicomObjects.h"

namespace cordscope::dicomout {
namespace {

using Measurements = TID1500_MeasurementReport::TID1411_Measurements;
using Group = TID1500_MeasurementReport::TID1501_Measurements;

// Concepts DICOM and SNOMED CT do not name are coded in cordscope's private scheme (PS3.16 8.2:
// a "99" designator), declared in the Coding Scheme Identification Sequence.
constexpr const char* kScheme = "99CORDSCOPE";

DSRCodedEntryValue own(const char* value, const char* meaning) {
  return DSRCodedEntryValue(value, kScheme, meaning);
}
DSRCodedEntryValue sct(const char* value, const char* meaning) {
  return DSRCodedEntryValue(value, "SCT", meaning);
}
const DSRCodedEntryValue kYes = sct("373066001", "Yes");
const DSRCodedEntryValue kNo = sct("373067005", "No");
const DSRCodedEntryValue kMm("mm", "UCUM", "millimeter");
const DSRCodedEntryValue kMm2("mm2", "UCUM", "square millimeter");
const DSRCodedEntryValue kMm3("mm3", "UCUM", "cubic millimeter");
const DSRCodedEntryValue kNoUnits("1", "UCUM", "no units");
const DSRCodedEntryValue kDegrees("deg", "UCUM", "degree");

// The number as report.json prints it, in at most 16 characters (DS): report.json's own values
// are rounded to 0.01 or 0.001 where it rounds, so no digit it prints is lost.
std::string numberText(const nlohmann::json& value) {
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  return decimalString(value.get<double>());
}

// CID 7603: the vertebra a level is named after (as in the SEG's anatomic regions).
DSRCodedEntryValue vertebra(const std::string& level) {
  static const std::map<std::string, std::pair<const char*, const char*>> codes = {
      {"C1", {"14806007", "C1 vertebra"}},  {"C2", {"39976000", "C2 vertebra"}},
      {"C3", {"113205007", "C3 vertebra"}}, {"C4", {"5329002", "C4 vertebra"}},
      {"C5", {"36978003", "C5 vertebra"}},  {"C6", {"36054005", "C6 vertebra"}},
      {"C7", {"87391001", "C7 vertebra"}},  {"T1", {"64864005", "T1 vertebra"}},
      {"T2", {"53733008", "T2 vertebra"}},  {"T3", {"1626008", "T3 vertebra"}},
      {"T4", {"73071006", "T4 vertebra"}}};
  const auto found = codes.find(level);
  if (found != codes.end()) return sct(found->second.first, found->second.second);
  return own(("LEVEL-" + level).c_str(), (level + " vertebra").c_str());
}

template <typename Template>
void addNumber(Template& group, const DSRCodedEntryValue& concept, const nlohmann::json& value,
               const DSRCodedEntryValue& units, const std::string& path) {
  if (!value.is_number()) return;  // not measured: no item (a NUM needs a value)
  typename Template::MeasurementValue measured(numberText(value).c_str(), units);
  check(group.addMeasurement(concept, measured, OFFalse), path,
        "measurement " + std::string(concept.getCodeMeaning().c_str()));
}

template <typename Template>
void addYesNo(Template& group, const DSRCodedEntryValue& concept, bool yes,
              const std::string& path) {
  check(group.addQualitativeEvaluation(concept, yes ? kYes : kNo), path,
        "evaluation " + std::string(concept.getCodeMeaning().c_str()));
}

void referenceSegment(Measurements& m, const SegInfo& seg, const SegmentRef& segment,
                      const std::string& sourceSeries, const std::string& path) {
  DSRImageReferenceValue reference(seg.sopClassUid.c_str(), seg.sopInstanceUid.c_str());
  reference.getSegmentList().addItem(segment.number);
  check(m.setReferencedSegment(reference), path, "segment reference");
  check(m.setSourceSeriesForSegmentation(sourceSeries.c_str()), path, "source series");
}

// One lesion: length, segments, levels, pattern, the extensive-lesion finding; its segment.
void addLesion(TID1500_MeasurementReport& report, const Lesion& lesion, const SegInfo& seg,
               const ExtensiveRule& rule, const SourceImages& source, const std::string& path) {
  const SegmentRef* segment = seg.lesion(lesion.id);
  if (!segment) return;  // a lesion without voxels on this grid: nothing to point at
  check(report.addVolumetricROIMeasurements(OFFalse), path, "lesion group");
  Measurements& m = report.getVolumetricROIMeasurements();
  check(m.setTrackingIdentifier(segment->trackingId.c_str()), path, "tracking identifier");
  check(m.setTrackingUniqueIdentifier(segment->trackingUid.c_str()), path, "tracking UID");
  check(m.setFinding(sct("52988006", "Lesion")), path, "finding");
  check(m.addFindingSite(sct("2748008", "Spinal cord")), path, "finding site");
  referenceSegment(m, seg, *segment, source.seriesInstanceUid, path);
  const nlohmann::json j = lesion;
  addNumber(m, sct("410668003", "Length"), j["length_mm"], kMm, path);
  addNumber(m, sct("118565006", "Volume"), j["volume_mm3"], kMm3, path);
  addNumber(m, own("SEGSPAN", "Vertebral segments spanned"), j["segments_spanned"], kNoUnits, path);
  addNumber(m, own("SEGEQUIV", "Vertebral segments equivalent"), j["segments_equivalent"], kNoUnits,
            path);
  addNumber(m, own("MAXAXAREA", "Largest axial lesion area"), j["max_axial_area_mm2"], kMm2, path);
  if (j["top_level"].is_string())
    check(m.addQualitativeEvaluation(own("TOPLEVEL", "Top vertebral level"),
                                     vertebra(j["top_level"].get<std::string>())),
          path, "top level");
  if (j["bottom_level"].is_string())
    check(m.addQualitativeEvaluation(own("BOTTOMLEVEL", "Bottom vertebral level"),
                                     vertebra(j["bottom_level"].get<std::string>())),
          path, "bottom level");
  if (!lesion.pattern.empty())
    check(m.addQualitativeEvaluation(
              own("PATTERN", "Axial lesion pattern"),
              own(("PATTERN-" + lesion.pattern).c_str(), (lesion.pattern + " pattern").c_str())),
          path, "pattern");
  if (lesion.segmentsSpanned)
    addYesNo(m, own("EXTENSIVE", ("Lesion spans " + rule.text() + " vertebral segments").c_str()),
             rule.extensive(*lesion.segmentsSpanned), path);
}

// The cord at one level: area, diameters, z-scores; its level segment.
void addLevel(TID1500_MeasurementReport& report, const LevelMetrics& level, const SegInfo& seg,
              const SourceImages& source, const std::string& path) {
  const SegmentRef* segment = seg.level(level.level);
  if (!segment) return;
  check(report.addVolumetricROIMeasurements(OFFalse), path, "level group");
  Measurements& m = report.getVolumetricROIMeasurements();
  const std::string name = levelName(level.level);
  check(m.setTrackingIdentifier(("cord at " + name).c_str()), path, "tracking identifier");
  check(m.setTrackingUniqueIdentifier(newUid().c_str()), path, "tracking UID");
  check(m.setFinding(sct("2748008", "Spinal cord")), path, "finding");
  check(m.addFindingSite(vertebra(name)), path, "finding site");
  referenceSegment(m, seg, *segment, source.seriesInstanceUid, path);
  const nlohmann::json j = level;
  addNumber(m, own("CSA", "Cord cross-sectional area"), j["csa_mm2"], kMm2, path);
  addNumber(m, own("CORDAP", "Cord anteroposterior diameter"), j["ap_mm"], kMm, path);
  addNumber(m, own("CORDRL", "Cord left-right diameter"), j["rl_mm"], kMm, path);
  addNumber(m, own("CSAZ", "Cord cross-sectional area z-score"), j["csa_z"], kNoUnits, path);
  addNumber(m, own("CORDAPZ", "Cord anteroposterior diameter z-score"), j["ap_z"], kNoUnits, path);
  addNumber(m, own("CORDRLZ", "Cord left-right diameter z-score"), j["rl_z"], kNoUnits, path);
  addNumber(m, own("CANALAREA", "Canal cross-sectional area"), j["canal_area_mm2"], kMm2, path);
  addNumber(m, own("CANALAREAZ", "Canal cross-sectional area z-score"), j["canal_area_z"], kNoUnits,
            path);
  addNumber(m, own("LESIONPCT", "Level length covered by lesion"), j["lesion_percent"],
            DSRCodedEntryValue("%", "UCUM", "percent"), path);
}

// ADI, PADI, SAC, cranial settling and their flags: one measurement group at the junction.
void addCraniocervical(TID1500_MeasurementReport& report, const CraniocervicalMeasures& cc,
                       const std::string& path) {
  if (!cc.measured) return;
  check(report.addIndividualMeasurements(OFFalse), path, "craniocervical group");
  Group& g = report.getIndividualMeasurements();
  check(g.setTrackingIdentifier("craniocervical junction"), path, "tracking identifier");
  check(g.setTrackingUniqueIdentifier(newUid().c_str()), path, "tracking UID");
  check(g.addFindingSite(sct("39976000", "C2 vertebra")), path, "finding site");
  const nlohmann::json j = cc;
  addNumber(g, own("ADI", "Anterior atlantodental interval"), j["adi_mm"], kMm, path);
  addNumber(g, own("PADI", "Posterior atlantodental interval"), j["padi_mm"], kMm, path);
  addNumber(g, own("SAC", "Space available for the cord at C1"), j["sac_soft_tissue_mm"], kMm,
            path);
  addNumber(g, own("CSFRESERVE", "CSF reserve at C1"), j["csf_reserve_mm"], kMm, path);
  addNumber(g, own("CCCORDAP", "Cord anteroposterior diameter at C1"), j["cord_ap_mm"], kMm, path);
  addNumber(g, own("CMANGLE", "Cervicomedullary angle"), j["cervicomedullary_angle_deg"], kDegrees,
            path);
  addNumber(g, own("MCRAE", "Dens tip below McRae line"), j["dens_tip_below_mcrae_mm"], kMm, path);
  addNumber(g, own("RANAWAT", "Ranawat value"), j["ranawat_mm"], kMm, path);
  for (const auto& [flag, raised] : cc.flags) {
    const std::string code = "FLAG-" + flag;
    addYesNo(g, own(code.c_str(), ("Flag " + flag).c_str()), raised, path);
  }
}

void addImageLibrary(TID1500_MeasurementReport& report, const DicomExportInput& input,
                     const std::string& path) {
  check(report.getImageLibrary().createNewImageLibrary(), path, "image library");
  check(report.getImageLibrary().addImageGroup(), path, "image library");
  std::set<std::string> seen;
  for (const DicomFrame& frame : input.series.frames) {
    if (!seen.insert(frame.path).second) continue;
    DcmFileFormat file;
    if (file.loadFile(frame.path.c_str(), EXS_Unknown, EGL_noChange, 4096).bad())
      throw InputError(frame.path + ": cannot read the source DICOM header again for the report");
    check(report.getImageLibrary().addImageEntry(*file.getDataset(),
                                                 TID1600_ImageLibrary::withAllDescriptors),
          path, "image library entry of " + frame.path);
  }
}

// Every instance the content refers to, listed in the header as the standard asks: the source
// images as the evidence of the procedure, the SEG (made from them) as other evidence.
void addEvidence(DSRDocument& doc, const SourceImages& source, const SegInfo& seg,
                 const std::string& path) {
  for (const std::string& instance : source.sopInstanceUids)
    check(doc.getCurrentRequestedProcedureEvidence().addItem(
              source.studyInstanceUid.c_str(), source.seriesInstanceUid.c_str(),
              source.sopClassUid.c_str(), instance.c_str()),
          path, "evidence");
  if (!seg.segments.empty())
    check(doc.getPertinentOtherEvidence().addItem(
              source.studyInstanceUid.c_str(), seg.seriesInstanceUid.c_str(),
              seg.sopClassUid.c_str(), seg.sopInstanceUid.c_str()),
          path, "evidence");
}

void fillDocument(DSRDocument& doc, const SourceImages& source, const SegInfo& seg,
                  const DicomExportOptions& options, const std::string& path) {
  check(doc.getCodingSchemeIdentification().addItem(kScheme), path, "coding scheme");
  check(doc.getCodingSchemeIdentification().setCodingSchemeName(
            "cordscope measurements (docs/dicom-output.md)"),
        path, "coding scheme");
  check(doc.getCodingSchemeIdentification().setCodingSchemeResponsibleOrganization("cordscope"),
        path, "coding scheme");
  check(doc.createNewSeriesInStudy(source.studyInstanceUid.c_str()), path, "series");
  check(doc.setSeriesNumber(std::to_string(options.seriesNumberBase + 1).c_str()), path,
        "series number");
  check(doc.setSeriesDescription("cordscope measurement report"), path, "series description");
  check(doc.setInstanceNumber("1"), path, "instance number");
  check(doc.setManufacturer("cordscope"), path, "manufacturer");
  check(doc.setManufacturerModelName("cordscope"), path, "manufacturer model");
  check(doc.setDeviceSerialNumber("0"), path, "device serial number");
  check(doc.setSoftwareVersions(options.softwareVersion.c_str()), path, "software versions");
  check(doc.completeDocument(), path, "completion flag");
  addEvidence(doc, source, seg, path);
}

}  // namespace

void writeMeasurementReport(const DicomExportInput& input, const SourceImages& source,
                            const SegInfo& seg, const DicomExportOptions& options,
                            const std::string& path) {
  TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
  check(report.getLanguage().setLanguage(CID5000_Languages::English), path, "language");
  check(report.getObservationContext().addDeviceObserver(newUid().c_str(), "cordscope", "cordscope",
                                                         "cordscope", "0"),
        path, "observer");
  check(report.addProcedureReported(CMR_CID100::MRIUnspecifiedBodyRegion), path, "procedure");
  addImageLibrary(report, input, path);
  const Analysis& a = input.analysis;
  for (const Lesion& lesion : input.lesions)
    addLesion(report, lesion, seg, a.summary.rule, source, path);
  for (const LevelMetrics& level : a.levelMetrics) addLevel(report, level, seg, source, path);
  addCraniocervical(report, a.craniocervical, path);
  if (a.summary.extensive)
    addYesNo(report,
             own("ANYEXTENSIVE",
                 ("A lesion spans " + a.summary.rule.text() + " vertebral segments").c_str()),
             *a.summary.extensive, path);
  check(report.addQualitativeEvaluation(
            own("QUALITY", "Quality control verdict"),
            own(("QC-" + toString(input.quality.verdict)).c_str(),
                ("Quality control " + toString(input.quality.verdict)).c_str())),
        path, "quality verdict");
  if (!report.isValid())
    throw OutputError(path + ": the measurement report is incomplete (TID 1500 not satisfied)");
  DSRDocument doc(DSRTypes::DT_EnhancedSR);
  check(doc.setTreeFromRootTemplate(report, OFTrue), path, "measurement report");
  fillDocument(doc, source, seg, options, path);
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  check(doc.write(ds), path, "measurement report");
  // The patient and study as the source has them (names in its character set, IDs, accession).
  copyPatientAndStudy(*source.header->getDataset(), ds);
  saveAtomically(file, path, "DICOM measurement report");
}

}  // namespace cordscope::dicomout
