// Craniocervical junction landmarks on the mid-sagittal plane: the C1 arches, the dens, the
// foramen magnum (basion, opisthion), and the canal at C1.
//
// The plane is found from the cord, not assumed to be the middle slice: it holds the upper cord's
// course (its axis from the cord's top down 40 mm) and the patient's anterior there, through the
// cord's centre. It is resampled as one flat 2D image (true millimetres, so distances need no
// correction), and the landmarks are found in it from image structure alone, in T2 contrast:
// cortical bone is the darkest tissue, marrow, joint fluid and soft tissue are intermediate,
// CSF is bright.
//
//  - Anterior canal wall: along each row (perpendicular to the cord), the first fall from the
//    anterior CSF to the dark band of the transverse ligament / tectorial membrane / bone.
//  - Dens: the bone column in front of that wall: a marrow core between dark cortices, up to its
//    tip (where the column's marrow ends, below the foramen magnum).
//  - C1 anterior arch: the small bone (dark ring round marrow) just in front of the dens, within
//    the upper half of the dens. Rows through it show dens - gap - arch; the gap between the two
//    cortices (joint fluid, or pannus, never cortex) is the anterior atlantodental interval.
//  - C1 posterior arch: behind the canal at the anterior arch's height, the first fall from the
//    posterior CSF to dark bone.
//  - Cortex surfaces are where the intensity crosses half-way between a cortex's darkest value
//    and the tissue it borders. The dens's posterior cortex cannot be told from the dark
//    transverse ligament behind it on MRI: its surface is placed one cortical thickness behind
//    the posterior edge of the dens's marrow, the thickness measured on the dens's anterior
//    cortex in the same image (bordered by joint space, so both of its faces are seen).
//  - Basion and opisthion: the lowest points of the dark bone (clivus, occipital squama) above
//    the dens in front of and behind the canal.
//  - Dens base: the C1/C2 junction, the darkest line across the dens column between 8 and 25 mm
//    below its tip (the subdental synchondrosis scar), else not found.
//
// Only T2-like contrast (CSF brighter than cord) is supported; on other contrasts, or when the
// region is out of the field of view, `found` is false and `warnings` says why.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "segmentation/CordSegmentation.h"

namespace cordscope {

struct CraniocervicalOptions {
  double stepMm = 0.25;     // sampling of the mid-sagittal image
  double aboveTopMm = 40;   // the image reaches this far above the cord's top ...
  double belowTopMm = 75;   // ... and this far below it
  double halfWidthMm = 45;  // and this far in front of and behind the cord
  double planeAxisMm = 40;  // the plane's axis: the cord's course over its upper this-many mm
};

// A point of the mid-sagittal image: along = caudal along the plane's axis, anterior = towards
// the patient's front, both mm from the plane's origin.
struct PlanePoint {
  double along = 0, anterior = 0;
};

struct CraniocervicalLandmarks {
  bool found = false;  // the C1-C2 complex was found (the atlantodental measures can be made)
  std::vector<std::string> warnings;

  // The mid-sagittal plane: origin, unit axes (LPS).
  Vec3 origin{}, caudal{}, anterior{}, lateral{};

  // Landmarks (LPS mm), each absent when not found or out of view.
  std::optional<Vec3> c1AnteriorArchPosteriorCortex, c1AnteriorArchCentre;
  std::optional<Vec3> densAnteriorCortex, densPosteriorCortex, densTip, densBase;
  std::optional<Vec3> c1PosteriorArchAnteriorMargin, c1PosteriorArchCentre;
  std::optional<Vec3> basion, opisthion;
  // The canal along the atlantodental line: the soft-tissue front (ligament, pannus) and the
  // posterior dura, for the space available for the cord.
  std::optional<Vec3> canalAnteriorAtC1, canalPosteriorAtC1;
  // The dens's axis (unit LPS, caudal), from its anterior cortex.
  std::optional<Vec3> densAxis;
  double corticalThicknessMm = 0;  // measured on the dens's anterior cortex
  double atlasArcMm = 0;           // arc along the cord at the C1 anterior arch's centre
  double atlasRowsMm = 0;          // height over which the arch, the gap and the dens were seen
  bool lowContrast = false;        // read by valleys and peaks (no clear cortex/marrow contrast)

  Vec3 toPatient(const PlanePoint& p) const {
    return origin + p.along * caudal + p.anterior * anterior;
  }
};

CraniocervicalLandmarks findCraniocervical(const Volume& volume, const CordSegmentation& cord,
                                           const CraniocervicalOptions& options = {});

}  // namespace cordscope
