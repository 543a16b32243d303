// Speed of the segmentation floor on a clinical-size sagittal study (15 x 512 x 512, 0.47 mm,
// 3 mm slices; issue 4's target: centerline + cord + canal under 1 s on 2 cores; issue 5's: discs
// and levels under 0.5 s after segmentation).
// Run: build/bench/bench_segmentation --benchmark_min_time=3
#include <benchmark/benchmark.h>

#include "data/Phantom.h"
#include "segmentation/CordSegmentation.h"
#include "segmentation/Vertebrae.h"

namespace {

const cordscope::PhantomStudy& clinicalStudy() {
  static const cordscope::PhantomStudy study = [] {
    cordscope::PhantomOptions o;
    o.matrix = 512;
    o.pixelMm = 0.47;
    return cordscope::makePhantom(o);
  }();
  return study;
}

void Centerline(benchmark::State& state) {
  const auto& volume = clinicalStudy().volume;
  for (auto _ : state) benchmark::DoNotOptimize(cordscope::findCenterline(volume));
}

void CenterlineCordCanal(benchmark::State& state) {
  const auto& volume = clinicalStudy().volume;
  for (auto _ : state) benchmark::DoNotOptimize(cordscope::segmentCord(volume));
}

void DiscsAndLevels(benchmark::State& state) {
  const auto& volume = clinicalStudy().volume;
  static const cordscope::CordSegmentation cord = cordscope::segmentCord(volume);
  for (auto _ : state) benchmark::DoNotOptimize(cordscope::labelVertebrae(volume, cord));
}

BENCHMARK(Centerline)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(CenterlineCordCanal)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(DiscsAndLevels)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
