// The 2D pictures of a study (issue 8): sagittal.png - the mid-sagittal plane through the cord at
// the input's in-plane resolution with the cord outline, lesions in colour, level names beside the
// discs, the ADI/PADI lines with their values, a scale bar and orientation letters; beside it a
// montage of the parallel sagittal planes through the cord, and an axial cut through each lesion
// at its largest section showing its pattern.
//
// Planes are resampled in patient space (millimetres), so an oblique or axial acquisition gives
// the same picture as a sagittal one. Masks are read on the input grid by nearest neighbour.
#pragma once
#include <string>
#include <vector>

#include "measurement/CraniocervicalMetrics.h"
#include "measurement/LesionMetrics.h"

namespace cordscope {

struct StudyFindings {
  const Volume& volume;
  const CordSegmentation& cord;
  const VertebralLabels& vertebrae;
  const LesionSegmentation& lesions;
  const std::vector<Lesion>& lesionMetrics;
  const CraniocervicalMeasures& craniocervical;
};

// Colours (BGR, as OpenCV) the pictures and the report share.
struct Palette {
  static constexpr unsigned char cord[3] = {80, 220, 80};        // green outline
  static constexpr unsigned char lesion[3] = {0, 0, 230};        // red fill
  static constexpr unsigned char lesionEdge[3] = {0, 140, 255};  // orange outline
  static constexpr unsigned char adi[3] = {255, 0, 255};         // magenta
  static constexpr unsigned char padi[3] = {255, 255, 0};        // cyan
  static constexpr unsigned char text[3] = {255, 255, 255};
};

// Writes the PNG; throws Error when it cannot be written.
void writeSagittalPicture(const StudyFindings& findings, const std::string& path);

}  // namespace cordscope
