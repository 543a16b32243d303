// Speed of every stage of `analyze` (issue 11) on two studies: the default phantom
// (400 x 400 x 15, 0.625 mm) - argument 0 - and a clinical-size one (512 x 512 x 15, 0.5 mm,
// 3 mm slices: `cordscope phantom --matrix 512 --pixel 0.5 --slice-thickness 3`) - argument 1.
// Each stage runs on the previous stages' results, computed once outside the timing.
// Run: build/bench/bench_stages [--benchmark_min_time=2]   (bench/run.sh runs it into results.md)
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>

#include "data/Input.h"
#include "data/Phantom.h"
#include "measurement/CraniocervicalMetrics.h"
#include "measurement/LesionMetrics.h"
#include "measurement/LevelMetrics.h"
#include "visualization/Pictures.h"
#include "visualization/Render3D.h"

namespace {

namespace fs = std::filesystem;
using namespace cordscope;

// One study through the whole pipeline, kept for the stages that follow each benchmark's stage.
struct Study {
  fs::path dicom;
  Volume volume;
  CordSegmentation cord;
  CraniocervicalLandmarks landmarks;
  VertebralLabels vertebrae;
  LesionSegmentation lesions;
  std::vector<Lesion> lesionMetrics;
  CraniocervicalMeasures craniocervical;
};

const Study& study(int which) {
  static std::map<int, std::unique_ptr<Study>> cache;
  auto& s = cache[which];
  if (s) return *s;
  s = std::make_unique<Study>();
  PhantomOptions o;
  o.lesions = {{3, 7, "dorsal", 0.6}};
  if (which == 1) {
    o.matrix = 512;
    o.pixelMm = 0.5;
    o.sliceThicknessMm = 3;
  }
  const fs::path dir = fs::temp_directory_path() / ("cordscope-bench-" + std::to_string(which));
  writePhantom(makePhantom(o), o, dir.string());
  s->dicom = dir / "dicom";
  s->volume = loadInput(s->dicom.string());
  s->cord = segmentCord(s->volume);
  s->landmarks = findCraniocervical(s->volume, s->cord);
  VertebraeOptions vo;
  anchorOnLandmarks(vo, s->landmarks);
  s->vertebrae = labelVertebrae(s->volume, s->cord, vo);
  s->lesions = segmentLesions(s->volume, s->cord);
  s->lesionMetrics = measureLesions(s->lesions, s->cord, s->vertebrae);
  s->craniocervical =
      measureCraniocervical(s->landmarks, s->cord, s->vertebrae, s->volume.meta.patientSex);
  return *s;
}

void Load(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(loadInput(s.dicom.string()));
}

void Centerline(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(findCenterline(s.volume));
}

void CordAndCanal(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(segmentCord(s.volume));
}

void Craniocervical(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(
        measureCraniocervical(findCraniocervical(s.volume, s.cord), s.cord, s.vertebrae, "F"));
}

void Levels(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  VertebraeOptions vo;
  anchorOnLandmarks(vo, s.landmarks);
  for (auto _ : state) benchmark::DoNotOptimize(labelVertebrae(s.volume, s.cord, vo));
}

void Lesions(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    const LesionSegmentation lesions = segmentLesions(s.volume, s.cord);
    benchmark::DoNotOptimize(measureLesions(lesions, s.cord, s.vertebrae));
  }
}

void Measures(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(measureLevels(s.cord, s.vertebrae, s.lesionMetrics));
}

void Pictures2D(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  const std::string path = (fs::temp_directory_path() / "cordscope-bench-sagittal.png").string();
  for (auto _ : state)
    writeSagittalPicture(
        {s.volume, s.cord, s.vertebrae, s.lesions, s.lesionMetrics, s.craniocervical}, path);
}

// The 3D view, private Xvfb included (as analyze pays for it without a display).
void Render3D(benchmark::State& state) {
  const Study& s = study(static_cast<int>(state.range(0)));
  const std::string path = (fs::temp_directory_path() / "cordscope-bench-render3d.png").string();
  for (auto _ : state) {
    const Render3DResult r = writeRender3D(
        {s.volume, s.cord, s.vertebrae, s.lesions, s.lesionMetrics, s.craniocervical}, path);
    if (!r.written) state.SkipWithError(r.skipped.c_str());
  }
}

// The synthetic study generator (issue 3: a default study "well under a second"): the anatomy
// rendered into the volume and the truth, then the DICOM series, the read-back and the truth
// NIfTIs as `cordscope phantom` writes them.
PhantomOptions phantomOptions(int which) {
  PhantomOptions o;
  o.lesions = {{3, 7, "dorsal", 0.6}};
  if (which == 1) {
    o.matrix = 512;
    o.pixelMm = 0.5;
  }
  return o;
}

void PhantomModel(benchmark::State& state) {
  const PhantomOptions o = phantomOptions(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(makePhantom(o));
}

void PhantomWrite(benchmark::State& state) {
  const PhantomOptions o = phantomOptions(static_cast<int>(state.range(0)));
  const PhantomStudy made = makePhantom(o);
  const fs::path dir = fs::temp_directory_path() / "cordscope-bench-phantom-write";
  for (auto _ : state) writePhantom(made, o, dir.string());
}

#define STAGE(name) BENCHMARK(name)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()
STAGE(PhantomModel);
STAGE(PhantomWrite);
STAGE(Load);
STAGE(Centerline);
STAGE(CordAndCanal);
STAGE(Craniocervical);
STAGE(Levels);
STAGE(Lesions);
STAGE(Measures);
STAGE(Pictures2D);
STAGE(Render3D)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
