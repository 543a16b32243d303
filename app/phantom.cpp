// cordscope phantom: synthetic cervical spine studies with exact ground truth (docs/phantom.md).
#include "data/Phantom.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "Command.h"
#include "data/Error.h"
#include "data/Levels.h"
#include "phantom/RealAnatomy.h"

namespace cordscope::app {
namespace {

std::vector<std::string> splitColons(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ':')) parts.push_back(part);
  return parts;
}

double parseNumber(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw UsageError(what + ": '" + text + "' is not a number");
}

PhantomLesion parseLesion(const std::string& text) {
  const auto parts = splitColons(text);
  if (parts.size() < 2 || parts.size() > 4)
    throw UsageError("--lesion " + text + ": expected TOP:BOTTOM[:PATTERN[:CONTRAST]]");
  PhantomLesion lesion;
  lesion.topLevel = parseLevel(parts[0]);
  lesion.bottomLevel = parseLevel(parts[1]);
  if (parts.size() > 2) lesion.pattern = parts[2];
  if (parts.size() > 3) lesion.contrast = parseNumber(parts[3], "--lesion contrast");
  return lesion;
}

PhantomCompression parseCompression(const std::string& text) {
  const auto parts = splitColons(text);
  if (parts.size() != 2)
    throw UsageError("--compression " + text + ": expected LEVEL:RATIO, e.g. C5:0.6");
  return {parseLevel(parts[0]), parseNumber(parts[1], "--compression ratio")};
}

// --real-anatomy: one study of the test set, all of them, or their names.
int writeRealAnatomy(const po::variables_map& vm) {
  std::string shared = "../shared/data";
  if (const char* env = std::getenv("CORDSCOPE_SHARED_DATA")) shared = env;
  if (vm.count("shared-data")) shared = vm["shared-data"].as<std::string>();
  const std::string name = vm["real-anatomy"].as<std::string>();
  std::vector<RealAnatomyOptions> set = realAnatomyTestSet(shared);
  // random-SEED-K: study K of the random set drawn with SEED (tests/realanatomy).
  unsigned randomSeed = 0;
  int randomIndex = -1;
  if (std::sscanf(name.c_str(), "random-%u-%d", &randomSeed, &randomIndex) == 2 &&
      randomIndex >= 0 && randomIndex < 10000) {
    set = {realAnatomyRandomSet(shared, randomIndex + 1, randomSeed).back()};
    set.front().name = name;
  }
  if (name == "list") {
    for (const RealAnatomyOptions& o : set) std::cout << o.name << "\n";
    return 0;
  }
  const std::string out = vm["output"].as<std::string>();
  int written = 0;
  for (const RealAnatomyOptions& o : set) {
    if (name != "all" && o.name != name) continue;
    const auto start = std::chrono::steady_clock::now();
    const std::string folder = name == "all" ? out + "/" + o.name : out;
    writeRealAnatomyStudy(makeRealAnatomyStudy(o), folder);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    note("wrote " + folder + " (" + o.name + ") in " + std::to_string(seconds).substr(0, 4) + " s");
    ++written;
  }
  if (!written)
    throw UsageError("--real-anatomy " + name + ": no such study (see --real-anatomy list)");
  return 0;
}

}  // namespace

// Fills phantom options from a parsed command line (shared with analyze --demo's defaults).
PhantomOptions phantomOptionsFrom(const po::variables_map& vm) {
  PhantomOptions o;
  o.seed = vm["seed"].as<unsigned>();
  o.ageYears = vm["age"].as<double>();
  o.sex = vm["sex"].as<std::string>();
  for (const auto& l : vm["lesion"].as<std::vector<std::string>>())
    o.lesions.push_back(parseLesion(l));
  o.adiMm = vm["adi"].as<double>();
  if (vm.count("padi")) o.padiMm = vm["padi"].as<double>();
  for (const auto& c : vm["compression"].as<std::vector<std::string>>())
    o.compressions.push_back(parseCompression(c));
  o.lordosisMm = vm["lordosis"].as<double>();
  o.orientation = vm["orientation"].as<std::string>();
  const bool axial = o.orientation == "axial";
  o.pixelMm = vm.count("pixel") ? vm["pixel"].as<double>() : (axial ? 0.6 : 0.625);
  o.matrix = vm.count("matrix") ? vm["matrix"].as<unsigned>() : (axial ? 256u : 400u);
  o.sliceThicknessMm =
      vm.count("slice-thickness") ? vm["slice-thickness"].as<double>() : (axial ? 4.0 : 3.0);
  o.sliceGapMm = vm["slice-gap"].as<double>();
  if (vm.count("slices")) o.slices = vm["slices"].as<unsigned>();
  o.tiltDeg = vm["tilt"].as<double>();
  o.noise = vm["noise"].as<double>();
  o.bias = vm["bias"].as<double>();
  o.shuffleFiles = vm["shuffle-files"].as<bool>();
  o.studyDate = vm["study-date"].as<std::string>();
  if (vm.count("description")) o.seriesDescription = vm["description"].as<std::string>();
  return o;
}

Command phantomCommand() {
  Command c;
  c.name = "phantom";
  c.summary = "write a synthetic cervical spine T2 study (DICOM) with exact ground truth";
  c.usage = "cordscope phantom -o OUTDIR [options]";
  c.declare = [](po::options_description& o, po::positional_options_description&) {
    using strings = std::vector<std::string>;
    o.add_options()("output,o", po::value<std::string>()->required(),
                    "output folder (dicom/, truth.json, truth/)")(
        "seed", po::value<unsigned>()->default_value(1),
        "random seed: anatomy jitter, noise, slab offset")(
        "age", po::value<double>()->default_value(55), "patient age in years (0-120)")(
        "sex", po::value<std::string>()->default_value("F"), "patient sex (M, F, O)")(
        "lesion", po::value<strings>()->default_value({}, "none")->composing(),
        "TOP:BOTTOM[:PATTERN[:CONTRAST]] between C1 and T4, repeatable, e.g. C3:C6:dorsal:0.6; "
        "patterns dorsal, central, lateral, "
        "ventral, holocord; contrast = fraction of the CSF-cord difference (default 0.6)")(
        "adi", po::value<double>()->default_value(1.5),
        "anterior atlantodental interval, mm (0.5-15)")(
        "padi", po::value<double>(),
        "posterior atlantodental interval, mm (6-30; default about 19 from the canal)")(
        "compression", po::value<strings>()->default_value({}, "none")->composing(),
        "LEVEL:RATIO, repeatable: cord AP flattened to RATIO of normal at LEVEL (C3-T1, ratio "
        "0.2-1)")("lordosis", po::value<double>()->default_value(8),
                  "anterior bow of the cervical cord, mm (-10-15)")(
        "orientation", po::value<std::string>()->default_value("sagittal"), "sagittal or axial")(
        "pixel", po::value<double>(),
        "in-plane pixel size, mm (default 0.625 sagittal, 0.6 axial)")(
        "slice-thickness", po::value<double>(),
        "slice thickness, mm (default 3 sagittal, 4 axial)")(
        "slice-gap", po::value<double>()->default_value(0), "gap between slices, mm")(
        "matrix", po::value<unsigned>(), "in-plane matrix N x N (default 400 sagittal, 256 axial)")(
        "slices", po::value<unsigned>(),
        "number of slices (default 15 sagittal; axial: enough for C1-T2)")(
        "tilt", po::value<double>()->default_value(0),
        "oblique acquisition: grid rotated about the AP axis, degrees")(
        "noise", po::value<double>()->default_value(0.03),
        "Rician noise sigma as a fraction of the cord signal")(
        "bias", po::value<double>()->default_value(0.15),
        "amplitude of the smooth coil-sensitivity field")(
        "shuffle-files", po::bool_switch(), "name the DICOM files out of slice order")(
        "study-date", po::value<std::string>()->default_value("20240115"), "StudyDate, YYYYMMDD")(
        "description", po::value<std::string>(),
        "SeriesDescription (default T2 TSE SAG / T2 TSE AX)")(
        "real-anatomy", po::value<std::string>(),
        "instead of the model: a study of the real-anatomy test set (docs/realanatomy.md) by name, "
        "'all' (each into OUTDIR/NAME) or 'list'")(
        "shared-data", po::value<std::string>(),
        "the folder holding real/ for --real-anatomy (default $CORDSCOPE_SHARED_DATA, else "
        "../shared/data)");
  };
  c.run = [](const po::variables_map& vm) {
    const auto start = std::chrono::steady_clock::now();
    if (vm.count("real-anatomy")) return writeRealAnatomy(vm);
    const PhantomOptions options = phantomOptionsFrom(vm);
    const PhantomStudy study = makePhantom(options);
    const std::string out = vm["output"].as<std::string>();
    writePhantom(study, options, out);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto size = study.volume.image->GetLargestPossibleRegion().GetSize();
    std::ostringstream msg;
    msg << "wrote " << out << "/dicom (" << size[0] << "x" << size[1] << "x" << size[2]
        << "), truth.json and truth/ in " << seconds << " s";
    note(msg.str());
    return 0;
  };
  return c;
}

}  // namespace cordscope::app
