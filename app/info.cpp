// cordscope info: what is in an input (studies, series, geometry) and which series would be
// analysed, and why.
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "Command.h"
#include "data/Error.h"
#include "data/Input.h"

namespace cordscope::app {
namespace {

struct InfoOptions {
  std::vector<std::string> input;
  bool json = false;
};

void printText(const Inventory& inventory, const std::optional<SeriesChoice>& choice,
               const std::string& choiceError) {
  std::cout << "input: " << inventory.inputPath << " (" << inventory.filesSeen << " files read, "
            << inventory.filesSkipped << " skipped)\n";
  std::map<std::string, std::vector<std::size_t>> byStudy;
  std::vector<std::string> studyOrder;
  for (std::size_t i = 0; i < inventory.series.size(); ++i) {
    const std::string& study = inventory.series[i].meta.studyInstanceUid;
    if (!byStudy.count(study)) studyOrder.push_back(study);
    byStudy[study].push_back(i);
  }
  for (const std::string& study : studyOrder) {
    const SeriesMetadata& m = inventory.series[byStudy[study].front()].meta;
    std::cout << "\nstudy " << (study.empty() ? "(none)" : study);
    if (!m.studyDate.empty()) std::cout << "  date " << m.studyDate;
    if (m.patientAgeYears)
      std::cout << "  age " << std::fixed << std::setprecision(0) << *m.patientAgeYears << " y";
    if (!m.patientSex.empty()) std::cout << "  sex " << m.patientSex;
    std::cout << "\n";
    for (std::size_t i : byStudy[study]) {
      const SeriesEntry& s = inventory.series[i];
      const bool chosen = choice && choice->index == i;
      std::cout << (chosen ? "  * " : "    ") << "series " << s.id << "\n"
                << "      '" << s.meta.seriesDescription << "'  "
                << (s.meta.modality.empty() ? "?" : s.meta.modality) << "  "
                << toString(s.orientation) << " (" << axisCode(s.direction) << ")  " << s.size[0]
                << "x" << s.size[1] << "x" << s.size[2] << "  " << std::setprecision(3)
                << std::defaultfloat << s.spacing[0] << "x" << s.spacing[1] << "x" << s.spacing[2]
                << " mm  " << s.fileCount << (s.fileCount == 1 ? " file" : " files");
      if (s.volumeCount > 1) std::cout << "  " << s.volumeCount << " volumes";
      if (s.meta.echoTimeMs) std::cout << "  TE " << *s.meta.echoTimeMs << " ms";
      if (s.meta.repetitionTimeMs) std::cout << "  TR " << *s.meta.repetitionTimeMs << " ms";
      std::cout << "\n";
      if (!s.splitReason.empty()) std::cout << "      split: " << s.splitReason << "\n";
      for (const std::string& p : s.problems) std::cout << "      not loadable: " << p << "\n";
      for (const std::string& n : s.notes) std::cout << "      note: " << n << "\n";
      if (chosen) std::cout << "      -> analysed: " << choice->reason << "\n";
    }
  }
  if (!choice) std::cout << "\nno series would be analysed: " << choiceError << "\n";
  for (const std::string& w : inventory.warnings) warn(w);
}

int runInfo(const InfoOptions& options) {
  const Inventory inventory = scanInput(options.input);
  std::optional<SeriesChoice> choice;
  std::string choiceError;
  try {
    choice = chooseSeries(inventory);
  } catch (const Error& e) {
    choiceError = e.what();
  }
  if (options.json) {
    nlohmann::json j{{"input", inventory.inputPath},
                     {"files_read", inventory.filesSeen},
                     {"files_skipped", inventory.filesSkipped},
                     {"warnings", inventory.warnings},
                     {"series", inventory.series}};
    j["analysed_series"] = choice ? nlohmann::json{{"id", inventory.series[choice->index].id},
                                                   {"reason", choice->reason}}
                                  : nlohmann::json(nullptr);
    if (!choice) j["analysed_series_error"] = choiceError;
    std::cout << j.dump(2) << "\n";
  } else {
    printText(inventory, choice, choiceError);
  }
  return 0;
}

}  // namespace

Command infoCommand() {
  Command c;
  c.name = "info";
  c.summary = "list the studies and series in a DICOM folder, DICOM file or NIfTI file";
  c.usage = "cordscope info INPUT [INPUT...] [--json]";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::vector<std::string>>()->required()->multitoken(),
                    "DICOM folder or file, or NIfTI file; several DICOM folders are read as one")(
        "json", po::bool_switch(), "print one JSON document on stdout");
    p.add("input", -1);
  };
  c.run = [](const po::variables_map& vm) {
    return runInfo({vm["input"].as<std::vector<std::string>>(), vm["json"].as<bool>()});
  };
  return c;
}

}  // namespace cordscope::app
