// cordscope convert: one DICOM series (or a NIfTI file) to NIfTI with exact geometry, plus a
// BIDS-style JSON sidecar.
#include <filesystem>
#include <iostream>

#include "Command.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Nifti.h"

namespace cordscope::app {
namespace {

struct ConvertOptions {
  std::vector<std::string> input;
  std::string output;
  std::string series;
  double maxMemoryMb = kDefaultMaxMemoryMb;
};

int runConvert(const ConvertOptions& options) {
  if (!isNiftiPath(options.output))
    throw UsageError("output " + options.output + " must end in .nii or .nii.gz");
  const Inventory inventory = scanInput(options.input);
  const SeriesChoice choice = chooseSeries(inventory, options.series);
  checkMemory(inventory.inputPath, inventory.series[choice.index], options.maxMemoryMb,
              kConvertMemory);
  const Volume volume = loadSeries(inventory, choice.index);
  for (const std::string& w : volume.warnings) warn(w);
  const auto parent = std::filesystem::path(options.output).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  writeNifti(volume.image.GetPointer(), options.output);
  writeSidecar(volume.meta, options.output);
  const auto size = volume.image->GetLargestPossibleRegion().GetSize();
  note("wrote " + options.output + " (" + std::to_string(size[0]) + "x" + std::to_string(size[1]) +
       "x" + std::to_string(size[2]) + ", series " + inventory.series[choice.index].id + ")");
  return 0;
}

}  // namespace

Command convertCommand() {
  Command c;
  c.name = "convert";
  c.summary = "convert a DICOM series to NIfTI with exact geometry";
  c.usage = "cordscope convert INPUT [INPUT...] -o OUT.nii[.gz] [--series UID] [--max-memory MB]";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::vector<std::string>>()->required()->multitoken(),
                    "DICOM folder or file, or NIfTI file; several DICOM folders are read as one")(
        "output,o", po::value<std::string>()->required(), "output NIfTI file (.nii or .nii.gz)")(
        "series", po::value<std::string>()->default_value(""),
        "Series Instance UID (or id from 'cordscope info') to convert; default: the series analyse "
        "would use")("max-memory", po::value<double>()->default_value(kDefaultMaxMemoryMb),
                     "MB the series may need; a larger one is refused before it is read (exit 3)");
    p.add("input", -1);
  };
  c.run = [](const po::variables_map& vm) {
    return runConvert({vm["input"].as<std::vector<std::string>>(), vm["output"].as<std::string>(),
                       vm["series"].as<std::string>(), vm["max-memory"].as<double>()});
  };
  return c;
}

}  // namespace cordscope::app
