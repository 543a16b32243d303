#include "measurement/Analysis.h"

#include <chrono>

namespace cordscope {

Analysis analyzeStudy(const Volume& volume, const AnalysisOptions& options) {
  using clock = std::chrono::steady_clock;
  Analysis a;
  auto start = clock::now();
  const auto stage = [&](const std::string& name, const char* timing) {
    const auto now = clock::now();
    if (timing) a.timings[timing] = std::chrono::duration<double>(now - start).count();
    start = now;
    if (!name.empty() && options.stage) options.stage(name);
  };
  stage("cord and canal", nullptr);
  a.cord = segmentCord(volume, options.centerline, options.cord);
  stage("craniocervical junction", "segmentation_s");
  a.landmarks = findCraniocervical(volume, a.cord);
  stage("discs and vertebral levels", "craniocervical_s");
  // The dens's base and tip anchor the level names unless discs were given.
  VertebraeOptions vertebrae = options.vertebrae;
  anchorOnLandmarks(vertebrae, a.landmarks);
  a.vertebrae = labelVertebrae(volume, a.cord, vertebrae);
  a.craniocervical = measureCraniocervical(a.landmarks, a.cord, a.vertebrae, volume.meta.patientSex,
                                           options.craniocervical);
  stage("lesions", "vertebrae_s");
  a.lesions = segmentLesions(volume, a.cord, options.lesions);
  a.lesionMetrics = measureLesions(a.lesions, a.cord, a.vertebrae, options.involvement);
  a.summary =
      summariseLesions(a.lesions, a.lesionMetrics, options.extensive, volume.meta.patientAgeYears);
  a.summary.involvement = options.involvement;
  stage("measures per level", "lesions_s");
  a.levelMetrics = measureLevels(a.cord, a.vertebrae, a.lesionMetrics);
  stage("", "measures_s");
  // Quality control: the results judged against each other and against anatomy, before anything
  // is presented as a result (docs/quality.md).
  QualityInputs q;
  q.volume = &volume;
  q.cord = &a.cord;
  q.landmarks = &a.landmarks;
  q.vertebrae = &a.vertebrae;
  q.lesions = &a.lesions;
  q.lesionMetrics = &a.lesionMetrics;
  if (a.vertebrae.named) q.namingSelf = {a.vertebrae.namingConfidence, a.vertebrae.doubts};
  // The cord segmenter's own view (axial series: the CSF rings' clarity, slices without outline).
  if (a.cord.confidence) q.cordSelf = {a.cord.confidence, a.cord.doubts};
  a.quality = assessQuality(q, options.quality);
  stage("", "quality_s");
  return a;
}

}  // namespace cordscope
