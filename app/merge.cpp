// cordscope merge: the shard stores of one archive (run on several machines with --shard K/N)
// combined into one store and one cohort.csv (issue 9).
#include <filesystem>
#include <iostream>
#include <optional>

#include "Command.h"
#include "data/Error.h"
#include "data/ResultsStore.h"

namespace cordscope::app {
namespace {

namespace fs = std::filesystem;

// When two stores hold the same study: a done row wins over any other, then a rejected one (it
// was analysed to the end, with its quality verdict and measures); among equals, the later.
int rank(const StudyRecord& r) {
  return r.status == "done" ? 2 : r.status == "rejected" ? 1 : 0;
}
bool better(const StudyRecord& candidate, const StudyRecord& current) {
  if (rank(candidate) != rank(current)) return rank(candidate) > rank(current);
  return candidate.finishedAt > current.finishedAt;
}

int runMerge(const std::vector<std::string>& inputs, const std::string& outputDir) {
  if (inputs.empty())
    throw UsageError("merge needs the batch output folders (or their .sqlite stores) to combine");
  const fs::path outDir(outputDir);
  makeOutputDir(outputDir);
  ResultsStore merged((outDir / "cordscope.sqlite").string());
  std::optional<bool> anonymized;
  if (!merged.all().empty()) anonymized = merged.meta("anonymized").value_or("0") == "1";
  std::size_t rows = 0;
  for (const std::string& input : inputs) {
    const fs::path path =
        fs::is_directory(input) ? fs::path(input) / "cordscope.sqlite" : fs::path(input);
    if (!fs::exists(path))
      throw InputError(path.string() + ": no results store here (cordscope.sqlite)");
    if (fs::weakly_canonical(path) == fs::weakly_canonical(merged.path())) continue;
    const ResultsStore shard(path.string(), ResultsStore::Mode::ReadOnly);
    const bool shardAnonymized = shard.meta("anonymized").value_or("0") == "1";
    // Anonymised and plain rows never mix: the table would be presented as one or the other.
    if (anonymized && *anonymized != shardAnonymized)
      throw UsageError(path.string() + (shardAnonymized ? " is anonymised" : " is not anonymised") +
                       " but the stores before it are not: merge them separately");
    anonymized = shardAnonymized;
    for (const StudyRecord& r : shard.all()) {
      const std::optional<StudyRecord> current = merged.find(r.key);
      if (!current || better(r, *current)) merged.put(r);
      ++rows;
    }
  }
  if (anonymized.value_or(false)) merged.setMeta("anonymized", "1");
  const std::vector<StudyRecord> all = merged.all();
  writeCohortCsv(all, (outDir / "cohort.csv").string(), anonymized.value_or(false));
  std::cout << "merge: " << rows << " rows from " << inputs.size() << " stores -> " << all.size()
            << " studies in " << merged.path() << " and " << (outDir / "cohort.csv").string()
            << "\n";
  return 0;
}

}  // namespace

Command mergeCommand() {
  Command c;
  c.name = "merge";
  c.summary = "combine the results stores and cohort tables of batch shards into one";
  c.usage = "cordscope merge DIR... -o OUTDIR";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::vector<std::string>>()->multitoken(),
                    "batch output folders (or .sqlite stores)")(
        "output,o", po::value<std::string>()->required(),
        "folder for the merged cordscope.sqlite and cohort.csv");
    p.add("input", -1);
  };
  c.run = [](const po::variables_map& vm) {
    return runMerge(
        vm.count("input") ? vm["input"].as<std::vector<std::string>>() : std::vector<std::string>{},
        vm["output"].as<std::string>());
  };
  return c;
}

}  // namespace cordscope::app
