// The binary DICOM Segmentation of one analysis (DicomObjects.h), written with DCMTK's dcmseg.
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmiod/cielabutil.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "data/Error.h"
#include "data/Levels.h"
#include "visualization/DicomObjects.h"

namespace cordscope::dicomout {
namespace {

struct Code {
  const char* value;
  const char* scheme;
  const char* meaning;
};

// Segmented Property Category (CID 7150) and Type (CID 7151, 7603) codes, SNOMED CT.
constexpr Code kAnatomicalStructure{"91723000", "SCT", "Anatomical Structure"};
constexpr Code kAbnormalStructure{"49755003", "SCT", "Morphologically Abnormal Structure"};
constexpr Code kSpinalCord{"2748008", "SCT", "Spinal cord"};
constexpr Code kSpinalCanal{"61853006", "SCT", "Spinal canal"};
constexpr Code kLesion{"52988006", "SCT", "Lesion"};

// CID 7603 (Vertebra): the vertebra a level of the cord lies at, C1 to L5.
Code vertebraCode(int level) {
  static const Code codes[] = {
      {"14806007", "SCT", "C1 vertebra"},  {"39976000", "SCT", "C2 vertebra"},
      {"113205007", "SCT", "C3 vertebra"}, {"5329002", "SCT", "C4 vertebra"},
      {"36978003", "SCT", "C5 vertebra"},  {"36054005", "SCT", "C6 vertebra"},
      {"87391001", "SCT", "C7 vertebra"},  {"64864005", "SCT", "T1 vertebra"},
      {"53733008", "SCT", "T2 vertebra"},  {"1626008", "SCT", "T3 vertebra"},
      {"73071006", "SCT", "T4 vertebra"},  {"56401006", "SCT", "T5 vertebra"},
      {"45296009", "SCT", "T6 vertebra"},  {"62487009", "SCT", "T7 vertebra"},
      {"11068009", "SCT", "T8 vertebra"},  {"82687006", "SCT", "T9 vertebra"},
      {"7610001", "SCT", "T10 vertebra"},  {"12989004", "SCT", "T11 vertebra"},
      {"23215003", "SCT", "T12 vertebra"}, {"66794005", "SCT", "L1 vertebra"},
      {"14293000", "SCT", "L2 vertebra"},  {"36470004", "SCT", "L3 vertebra"},
      {"11994002", "SCT", "L4 vertebra"},  {"49668003", "SCT", "L5 vertebra"}};
  return level >= 1 && level <= 24 ? codes[level - 1] : Code{"", "", ""};
}

CodeSequenceMacro codeOf(const Code& code) {
  return CodeSequenceMacro(code.value, code.scheme, code.meaning);
}

// One segment to write: the voxels of `mask` equal to `value` (any non-zero when 0).
struct Planned {
  SegmentRef ref;
  const Mask* mask = nullptr;
  unsigned char value = 0;
  Code category{"", "", ""}, type{"", "", ""};
  Code region{"", "", ""};  // Anatomic Region: the vertebra of a level's cord
  std::string trackingId;
  std::array<double, 3> rgb{1, 1, 1};  // the viewer's colour (sRGB 0-1), as the pictures paint
};

Planned planned(const std::string& label, const Mask* mask, unsigned char value,
                const Code& category, const Code& type) {
  Planned p;
  p.ref.label = label;
  p.mask = mask;
  p.value = value;
  p.category = category;
  p.type = type;
  return p;
}

bool inSegment(const Planned& p, unsigned char v) {
  return p.value == 0 ? v != 0 : v == p.value;
}

std::set<unsigned char> labelsIn(const Mask& mask) {
  std::set<unsigned char> labels;
  const unsigned char* v = mask.GetBufferPointer();
  const std::size_t n = mask.GetBufferedRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < n; ++i)
    if (v[i]) labels.insert(v[i]);
  return labels;
}

// Cord, canal, every lesion (by its id in the lesion mask), the cord at every level; a mask
// without a voxel gives no segment. Numbered 1, 2, ... in that order.
std::vector<Planned> planSegments(const DicomExportInput& input) {
  const Analysis& a = input.analysis;
  std::vector<Planned> plan;
  const auto add = [&](Planned p) {
    if (!p.mask) return;
    const unsigned char* v = p.mask->GetBufferPointer();
    const std::size_t n = p.mask->GetBufferedRegion().GetNumberOfPixels();
    for (std::size_t i = 0; i < n; ++i)
      if (inSegment(p, v[i])) {
        p.ref.number = static_cast<unsigned short>(plan.size() + 1);
        plan.push_back(p);
        return;
      }
  };
  Planned cord =
      planned("Spinal cord", a.cord.cord.GetPointer(), 0, kAnatomicalStructure, kSpinalCord);
  cord.rgb = {0.2, 0.8, 0.3};
  add(cord);
  Planned canal =
      planned("Spinal canal", a.cord.canal.GetPointer(), 0, kAnatomicalStructure, kSpinalCanal);
  canal.ref.canal = true;
  canal.rgb = {0.35, 0.65, 1.0};
  add(canal);
  if (a.lesions.mask)
    for (unsigned char id : labelsIn(*a.lesions.mask)) {
      Planned p = planned("Lesion " + std::to_string(id), a.lesions.mask.GetPointer(), id,
                          kAbnormalStructure, kLesion);
      p.ref.lesionId = id;
      p.trackingId = "cord lesion " + std::to_string(id);
      p.rgb = {0.95, 0.15, 0.1};
      add(p);
    }
  if (a.vertebrae.levelMap)
    for (unsigned char level : labelsIn(*a.vertebrae.levelMap)) {
      // The level map labels the cord, not the bone: the segment is spinal cord, at (anatomic
      // region) the vertebra, so that a viewer never paints cord tissue as "C3 vertebra".
      Planned p = planned("Cord at " + levelName(level), a.vertebrae.levelMap.GetPointer(), level,
                          kAnatomicalStructure, kSpinalCord);
      p.ref.level = level;
      p.region = vertebraCode(level);
      // Neighbouring levels in colours a viewer tells apart.
      static const std::array<double, 3> palette[] = {
          {0.9, 0.6, 0.1}, {0.6, 0.3, 0.9}, {0.1, 0.75, 0.75}, {0.9, 0.4, 0.6}};
      p.rgb = palette[level % 4];
      add(p);
    }
  return plan;
}

DcmSegment* makeSegment(Planned& p, const std::string& path) {
  DcmSegment* segment = nullptr;
  check(DcmSegment::create(segment, p.ref.label.c_str(), codeOf(p.category), codeOf(p.type),
                           DcmSegTypes::SAT_AUTOMATIC, "cordscope"),
        path, "segment '" + p.ref.label + "'");
  std::unique_ptr<DcmSegment> owner(segment);
  if (*p.region.value)
    check(segment->getGeneralAnatomyCode().getAnatomicRegion().set(p.region.value, p.region.scheme,
                                                                   p.region.meaning),
          path, "anatomic region of '" + p.ref.label + "'");
  double L = 0, A = 0, B = 0;
  IODCIELabUtil::rgb2DicomLab(L, A, B, p.rgb[0], p.rgb[1], p.rgb[2]);
  check(segment->setRecommendedDisplayCIELabValue(static_cast<Uint16>(std::lround(L)),
                                                  static_cast<Uint16>(std::lround(A)),
                                                  static_cast<Uint16>(std::lround(B))),
        path, "display colour of '" + p.ref.label + "'");
  if (!p.trackingId.empty()) {
    p.ref.trackingId = p.trackingId;
    p.ref.trackingUid = newUid();
    check(segment->setTrackingID(p.trackingId.c_str()), path, "tracking identifier");
    check(segment->setTrackingUID(p.ref.trackingUid.c_str()), path, "tracking UID");
  }
  return owner.release();
}

void setSharedGroups(DcmSegmentation& seg, const Volume& volume, const std::string& path) {
  const auto d = volume.image->GetDirection();
  const auto spacing = volume.image->GetSpacing();
  FGPlaneOrientationPatient orientation;
  check(orientation.setImageOrientationPatient(decimalString(d[0][0]), decimalString(d[1][0]),
                                               decimalString(d[2][0]), decimalString(d[0][1]),
                                               decimalString(d[1][1]), decimalString(d[2][1])),
        path, "plane orientation");
  check(seg.addForAllFrames(orientation), path, "plane orientation");
  FGPixelMeasures measures;
  // PixelSpacing is (between rows, between columns): ITK's (y, x).
  check(measures.setPixelSpacing(
            (decimalString(spacing[1]) + "\\" + decimalString(spacing[0])).c_str()),
        path, "pixel spacing");
  const double thickness = volume.meta.sliceThicknessMm.value_or(spacing[2]);
  check(measures.setSliceThickness(decimalString(thickness).c_str()), path, "slice thickness");
  check(measures.setSpacingBetweenSlices(decimalString(spacing[2]).c_str()), path,
        "spacing between slices");
  check(seg.addForAllFrames(measures), path, "pixel measures");
}

// The frames of one segment: one per source slice holding a voxel of it.
void addFrames(DcmSegmentation& seg, const Planned& p, const SourceImages& source,
               const std::string& path) {
  const auto size = p.mask->GetLargestPossibleRegion().GetSize();
  const std::size_t slicePixels = size[0] * size[1];
  std::vector<Uint8> frame(slicePixels);
  for (std::size_t k = 0; k < size[2]; ++k) {
    const unsigned char* slice = p.mask->GetBufferPointer() + k * slicePixels;
    bool any = false;
    // ITK's buffer runs x (columns) fastest, then y (rows): a DICOM frame's order as it is.
    for (std::size_t i = 0; i < slicePixels; ++i) any |= (frame[i] = inSegment(p, slice[i])) != 0;
    if (!any) continue;
    FGPlanePosPatient position;
    const auto& at = source.positions[k];
    check(position.setImagePositionPatient(decimalString(at[0]), decimalString(at[1]),
                                           decimalString(at[2])),
          path, "frame position");
    FGFrameContent content;
    check(content.setDimensionIndexValues(p.ref.number, 0), path, "dimension index");
    check(content.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1), path, "dimension index");
    ImageSOPInstanceReferenceMacro* reference = nullptr;
    check(ImageSOPInstanceReferenceMacro::create(source.sopClassUid.c_str(),
                                                 source.sopInstanceUids[k].c_str(), reference),
          path, "source image reference");
    std::unique_ptr<ImageSOPInstanceReferenceMacro> owned(reference);
    // A frame of a multi-frame source is referenced by its number.
    if (source.frameNumbers[k] > 0)
      check(reference->addReferencedFrameNumber(static_cast<Uint16>(source.frameNumbers[k])), path,
            "source frame reference");
    OFVector<ImageSOPInstanceReferenceMacro> references;
    references.push_back(*reference);
    std::unique_ptr<FGDerivationImage> derivation(DcmSegmentation::createDerivationImageFG(
        references, "cordscope: automatic segmentation of this source image"));
    if (!derivation) throw OutputError(path + ": cannot write the derivation image reference");
    OFVector<FGBase*> groups;
    groups.push_back(&position);
    groups.push_back(&content);
    groups.push_back(derivation.get());
    check(seg.addFrame(frame.data(), p.ref.number, groups), path, "frame of '" + p.ref.label + "'");
  }
}

// Common Instance Reference: the source series and every instance the frames derive from.
void addSeriesReference(DcmSegmentation& seg, const SourceImages& source) {
  IODReferences references;
  std::set<std::string> seen;
  for (std::size_t k = 0; k < source.sopInstanceUids.size(); ++k) {
    if (!seen.insert(source.sopInstanceUids[k]).second) continue;
    references.add(new IODImageReference(
        source.patientId.c_str(), source.studyInstanceUid.c_str(), source.seriesInstanceUid.c_str(),
        source.sopInstanceUids[k].c_str(), source.sopClassUid.c_str()));
  }
  seg.getCommonInstanceReference().addReferences(references, source.studyInstanceUid.c_str());
}

}  // namespace

SegInfo writeSegmentation(const DicomExportInput& input, const SourceImages& source,
                          const DicomExportOptions& options, const std::string& path) {
  std::vector<Planned> plan = planSegments(input);
  SegInfo info;
  if (plan.empty()) return info;
  const auto size = input.volume.image->GetLargestPossibleRegion().GetSize();
  if (size[0] > 65535 || size[1] > 65535 || source.positions.size() != size[2])
    throw OutputError(path + ": the source series does not match the analysed grid");
  DcmSegmentation* created = nullptr;
  check(DcmSegmentation::createBinarySegmentation(
            created, static_cast<Uint16>(size[1]), static_cast<Uint16>(size[0]),
            // dcmseg wants every equipment value non-empty.
            IODGeneralEquipmentModule::EquipmentInfo(
                "cordscope", "cordscope", "0",
                options.softwareVersion.empty() ? "unknown" : options.softwareVersion.c_str()),
            ContentIdentificationMacro("1", "CORDSCOPE_SEG",
                                       "Spinal cord, canal, lesions and levels", "")),
        path, "segmentation");
  std::unique_ptr<DcmSegmentation> seg(created);
  check(seg->importFromSourceImage(*source.header->getDataset(), OFTrue), path,
        "patient and study of the source");
  info.seriesInstanceUid = newUid();
  info.sopInstanceUid = newUid();
  info.sopClassUid = UID_SegmentationStorage;
  check(seg->getSeries().setSeriesInstanceUID(info.seriesInstanceUid.c_str()), path, "series");
  check(seg->getSeries().setSeriesNumber(std::to_string(options.seriesNumberBase).c_str()), path,
        "series number");
  check(seg->getSeries().setSeriesDescription("cordscope segmentation"), path, "series");
  check(seg->getSOPCommon().setSOPInstanceUID(info.sopInstanceUid.c_str()), path, "SOP UID");
  const std::string dimensions = newUid();
  check(seg->getDimensions().addDimensionIndex(DCM_ReferencedSegmentNumber, dimensions.c_str(),
                                               DCM_SegmentIdentificationSequence,
                                               "ReferencedSegmentNumber"),
        path, "dimension index");
  check(seg->getDimensions().addDimensionIndex(DCM_ImagePositionPatient, dimensions.c_str(),
                                               DCM_PlanePositionSequence, "ImagePositionPatient"),
        path, "dimension index");
  setSharedGroups(*seg, input.volume, path);
  for (Planned& p : plan) {
    DcmSegment* segment = makeSegment(p, path);
    Uint16 number = 0;
    const OFCondition added = seg->addSegment(segment, number);
    if (added.bad()) delete segment;
    check(added, path, "segment '" + p.ref.label + "'");
    if (number != p.ref.number)
      throw OutputError(path + ": segment '" + p.ref.label + "' was numbered out of order");
    addFrames(*seg, p, source, path);
    info.segments.push_back(p.ref);
  }
  addSeriesReference(*seg, source);
  DcmFileFormat file;
  check(seg->writeDataset(*file.getDataset()), path, "segmentation");
  stampCreation(*file.getDataset());
  saveAtomically(file, path, "DICOM segmentation");
  return info;
}

}  // namespace cordscope::dicomout
