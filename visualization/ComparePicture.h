// Follow-up pictures (issue 10): compare.png - each time point's cord straightened along its
// centerline (a curved mid-sagittal cut, anterior on the left), side by side, with every row at
// the same vertebral-level coordinate, so that each time point's lesions sit at the same
// anatomical height whatever the head position or field of view; and trend.png - segments over
// time when there are more than two time points.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/ImageSampler.h"
#include "data/Volume.h"

namespace cordscope {

struct CenterlineSample {
  double arcMm = 0;
  Vec3 centre{}, anterior{};  // LPS
};

// centerline.csv as `analyze` writes it (anterior columns optional: the patient's anterior then).
std::vector<CenterlineSample> readCenterlineCsv(const std::string& path);

struct CompareColumn {
  std::string title;  // label and date
  nlohmann::json report;
  std::vector<CenterlineSample> centerline;
  const Volume* volume = nullptr;  // absent: the column shows the masks only
  Mask::Pointer cord, lesion;
};

void writeComparePicture(const std::vector<CompareColumn>& columns, const std::string& path);

struct TrendPoint {
  std::string label;
  double x = 0;  // months since baseline (or the time point's order)
  int maxSegments = 0;
  double totalLesionMm = 0;
};
void writeTrendChart(const std::vector<TrendPoint>& points, const std::string& xTitle,
                     const std::string& path);

}  // namespace cordscope
