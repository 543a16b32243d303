// cordscope analyze: the whole pipeline for one study. (Grows with issues 4-8.)
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "Command.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Nifti.h"
#include "version.h"

namespace cordscope::app {
namespace {

struct AnalyzeOptions {
  std::string input;
  std::string outputDir;
  std::string series;
  bool demo = false;
};

int runAnalyze(AnalyzeOptions options) {
  if (options.demo) throw UsageError("--demo is not available yet");
  if (options.input.empty()) throw UsageError("analyze needs an INPUT (or --demo)");
  const Inventory inventory = scanInput(options.input);
  const SeriesChoice choice = chooseSeries(inventory, options.series);
  const Volume volume = loadSeries(inventory, choice.index);
  std::filesystem::create_directories(options.outputDir);
  nlohmann::json report{{"schema", "cordscope.report/1"},
                        {"tool", {{"name", "cordscope"}, {"version", CORDSCOPE_VERSION}}},
                        {"input", {{"path", options.input}, {"series", inventory.series[choice.index]}, {"choice", choice.reason}}},
                        {"warnings", volume.warnings}};
  std::ofstream(options.outputDir + "/report.json") << report.dump(2) << "\n";
  return 0;
}

}  // namespace

Command analyzeCommand() {
  Command c;
  c.name = "analyze";
  c.summary = "analyse one study: cord, levels, lesions, atlantoaxial distances, report";
  c.usage = "cordscope analyze INPUT -o OUTDIR [--series UID] [--demo]";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::string>()->default_value(""), "DICOM folder or file, or NIfTI file")(
        "output,o", po::value<std::string>()->required(), "output folder")(
        "series", po::value<std::string>()->default_value(""), "series to analyse (default: the sagittal T2)")(
        "demo", po::bool_switch(), "analyse a built-in synthetic study");
    p.add("input", 1);
  };
  c.run = [](const po::variables_map& vm) {
    return runAnalyze({vm["input"].as<std::string>(), vm["output"].as<std::string>(), vm["series"].as<std::string>(),
                       vm["demo"].as<bool>()});
  };
  return c;
}

}  // namespace cordscope::app
