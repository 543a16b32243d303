// Cord and canal masks and cross-sections along a centerline.
//
// A tubular deformable model, classical in spirit (as Spinal Cord Toolbox's PropSeg): at stations
// every half millimetre along the centerline, rays are cast in the plane perpendicular to it. On
// each ray the cord boundary is where the intensity, leaving the cord, crosses half-way from the
// cord level to the CSF level (both measured at that station, so bias fields and coils do not
// matter); the canal boundary is where it falls back below that level beyond the CSF. Each
// station's radii are fitted by a low-order Fourier contour with robust weights (so a bright
// lesion at the cord edge, or a ray that runs into a nerve root, does not dent the outline), the
// contour coefficients are smoothed along the cord, and the centerline is moved to the contour
// centres and the whole repeated. The masks are rasterised on the input grid: a voxel is in when
// its centre is inside the contour of the station slab it falls in.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/Centerline.h"
#include "segmentation/CordRing.h"

namespace cordscope {

struct CordOptions {
  int rays = 64;
  double stationStepMm = 0.5;  // spacing of the cross-sections along the centerline
  double sampleStepMm = 0.2;   // spacing of the samples along each ray
  double maxRadiusMm = 14;     // rays end here (the widest canal is about 25 mm across)
  int cordHarmonics = 2;       // Fourier order of the cord outline (2 = ellipse-like)
  int canalHarmonics = 3;
  double smoothingMm = 2.0;  // Gaussian smoothing of the outlines along the cord
  int refinements = 2;       // passes of "fit contours, move the centerline to their centres"
  // Half-window of the robust fit of the cord's course (local quadratic, bisquare weights): a
  // stretch of centres drawn aside over up to about this length is not followed.
  double courseWindowMm = 20;
  double medullaFlare = 1.6;  // top of the run this much wider than the typical cord: medulla
  // Where the outlined run ends inside the image (the image goes on above its top) and widens
  // towards that top, a smaller flare is enough: no cord widens so at an end inside the image
  // except into the medulla. Medullas measured: 1.57-1.86 x on phantoms (a lesion from C2 lowers
  // it, since its stations lift the reference), 1.9-3.7 x on PAM50 studies; ordinary tops (the
  // cord leaving the image) 1.0-1.36 x.
  double medullaFlareInsideImage = 1.4;
  double medullaWideningMm = 10;  // over this length below the top ...
  double medullaWidening = 0.85;  // ... the cord is at most this fraction of the top's area
  // The cord is seen at a station when the CSF is brighter than it by at least this fraction of
  // the CSF's brightness over the tissue beyond the canal (a normal T2 cord: about 0.7-1; a
  // holocord lesion as bright as CSF: near 0).
  double minCordContrast = 0.2;
  // Outlines within this distance of a station where the cord was hidden are not trusted (the
  // lesion's tapering end fills part of their section).
  double hiddenMarginMm = 2.5;
  // An outline is taken to have lost part of the cord to a bright lesion (the lesion read as CSF)
  // when, against the same patient's typical stations over 3 mm, the cord is this much smaller
  // relative to its canal across one axis and its own AP/RL ratio this much lower (AP lost) or
  // higher (RL lost) ...
  double occludedSizeRatio = 0.75;
  // ... while the CSF across that axis is kept (at least this fraction of typical): a lesion
  // adds its depth to the apparent CSF, a compressed cord has its CSF squeezed out. (The outline
  // must also have lost the cord's shape, flattened or narrowed: see rejectOccludedStations.)
  double occludedCsfKept = 0.8;
  // An outline whose mean radius shrank below this fraction of typical, both against its canal
  // and in millimetres, its CSF kept, has lost the cord whatever its shape (a central lesion read
  // as CSF leaves a sliver of rim; a bright dorsal one a ventral sliver of the same shape): no
  // atrophy takes 40 % of the cord's diameters (64 % of its area) within a few millimetres, and a
  // compression squeezes the CSF out. Measured (real-anatomy set and two unseen draws): stations
  // of lesion-free studies stay at >= 0.69 of typical on both counts (the thoracic cord ~0.8, the
  // junction's wide canal is not small in mm); a dorsal lesion that took the outline, 0.56.
  double occludedCollapseRatio = 0.6;
  // Stretches without an outline longer than this take the cord from their canal; shorter ones
  // are interpolated from the cord on either side (its size changes little over a centimetre or
  // two, while a canal read where the cord is hidden is measured differently).
  double modelFromCanalGapMm = 20;
  // Axial series (isAxialSeries, CordRing.h) with slices at least this thick are outlined slice
  // by slice, in each slice's own plane ("slice mode"): across slices this far apart a section
  // perpendicular to the cord would be interpolated between slices that show different levels.
  double sliceModeMinMm = 6;
  // Thinner axial series are followed by findCenterline and checked against the ring path: mean
  // distances between the two above this (half a cord's width) make the cord doubtful.
  double axialDisagreementMm = 4;
};

// One cross-section perpendicular to the centerline. Diameters: AP along the patient's
// anterior-posterior direction projected into the section, RL across it.
struct CrossSection {
  double arcMm = 0;            // distance along the centerline from its cranial end
  Vec3 centre{};               // LPS mm
  Vec3 tangent{}, anterior{};  // unit vectors: caudal along the cord; the patient's anterior in
                               // the section
  double areaMm2 = 0, apMm = 0, rlMm = 0;
  double canalAreaMm2 = 0, canalApMm = 0, canalRlMm = 0;
  double canalAnteriorMm =
      0;                  // from the centre to the canal's front wall (vertebral bodies, discs)
  bool measured = false;  // false: the outline here was interpolated from its neighbours
  // The cord could not be outlined here (a lesion as bright as the CSF hid it, or took part of
  // it) and was placed in its canal as in the stations around: its extent is less certain.
  bool modelled = false;
};

struct CordSegmentation {
  bool found = false;
  std::string failure;    // why not, when not found
  Centerline centerline;  // refined: through the cord outlines' centres
  std::vector<CrossSection> sections;
  Mask::Pointer cord;    // on the input grid (all zero when not found)
  Mask::Pointer canal;   // CSF + cord
  double lengthMm = 0;   // along the centerline, over the cord's extent in the image
  double volumeMm3 = 0;  // integral of the cross-section areas
  double canalVolumeMm3 = 0;
  // The cord's top is its junction with the medulla (the foramen magnum is in view): the medulla
  // flare was trimmed, or the tube ends inside the image where the canal opens into the cisterna.
  bool topIsJunction = false;
  // The course above the cord's top when the medulla was trimmed from it (LPS, cranial first,
  // every stationStepMm): the brainstem's axis, for the cervicomedullary angle.
  std::vector<Vec3> medulla;
  // How the cord was found: "planes" (findCenterline, sections perpendicular to it), "axial"
  // (findAxialCenterline, then the same sections) or "axial slices" (slice mode).
  std::string method = "planes";
  // The segmenter's own confidence (0-1) and the reasons it doubts its result, for the quality
  // verdict; absent where it gives none (the sagittal path, for now).
  std::optional<double> confidence;
  std::vector<std::string> doubts;
};

CordSegmentation segmentCord(const Volume& volume, const Centerline& centerline,
                             const CordOptions& options = {});

// Centerline detection plus segmentation, the way analyze runs them: an axial series
// (isAxialSeries) is followed by findAxialCenterline and, when its slices are thick, outlined in
// slice mode; anything else by findCenterline.
CordSegmentation segmentCord(const Volume& volume, const CenterlineOptions& centerlineOptions = {},
                             const CordOptions& options = {});

// Slice mode: the cord outlined in each slice of an axial series on its own, from the slice's
// cord found by findAxialCenterline (rays in the slice's plane, the same edges and robust contour
// as the sections); the masks are each slice's outline; the sections, every stationStepMm along
// the course through the slices' centres (and half a slice beyond the end ones), interpolate the
// slices' outlines and are corrected for the cord's tilt through the slice (an oblique cut of a
// tube is longer than its section).
CordSegmentation segmentCordInSlices(const Volume& volume, const AxialCenterline& axial,
                                     const CordOptions& options = {});

// Where a point lies in the cord's own coordinates: the section whose perpendicular plane holds
// it, the arc there, and its offsets in that plane (anterior, and lateral = tangent x anterior).
struct CordPosition {
  std::size_t section = 0;
  double arcMm = 0, anteriorMm = 0, lateralMm = 0;
};
// Walks from `hint` (updated) along the sections: neighbouring voxels are near each other, so a
// scan over a mask in buffer order costs a few steps per voxel.
CordPosition locateOnCord(const std::vector<CrossSection>& sections, const Vec3& point,
                          std::size_t& hint);

void to_json(nlohmann::json& j, const CrossSection& s);
// The report's "cord" block: found, length_mm, volume_mm3, contrast, failure.
void to_json(nlohmann::json& j, const CordSegmentation& s);

}  // namespace cordscope
