// One analysis of one series: the whole pipeline from the image to the numbers and their quality
// verdict, as `analyze`, `batch` (through analyze), the tests and the benchmarks run it, so that
// its wiring (the dens base and tip anchor the level names, the levels bound the lesions, ...)
// is written once. No files, no printing: app/analyze.cpp writes and shows the result.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/Volume.h"
#include "measurement/CraniocervicalMetrics.h"
#include "measurement/LesionMetrics.h"
#include "measurement/LevelMetrics.h"
#include "measurement/Quality.h"
#include "segmentation/CordSegmentation.h"
#include "segmentation/Craniocervical.h"
#include "segmentation/Lesions.h"
#include "segmentation/Vertebrae.h"

namespace cordscope {

struct AnalysisOptions {
  CenterlineOptions centerline;
  CordOptions cord;
  VertebraeOptions vertebrae;  // --c2c3 / --discs; else the craniocervical landmarks anchor
  CraniocervicalRules craniocervical;
  LesionOptions lesions;
  LevelInvolvement involvement;
  ExtensiveRule extensive;
  QualityOptions quality;
  // Called with each stage's name as it starts (progress lines); may be empty.
  std::function<void(const std::string&)> stage;
};

struct Analysis {
  CordSegmentation cord;
  CraniocervicalLandmarks landmarks;
  VertebralLabels vertebrae;
  CraniocervicalMeasures craniocervical;
  LesionSegmentation lesions;
  std::vector<Lesion> lesionMetrics;
  LesionSummary summary;
  std::vector<LevelMetrics> levelMetrics;
  QualityReport quality;
  nlohmann::json timings = nlohmann::json::object();  // seconds per stage
};

Analysis analyzeStudy(const Volume& volume, const AnalysisOptions& options = {});

}  // namespace cordscope
