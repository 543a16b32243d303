// The shape every subcommand shares (after MRtrix3's cmd/): a name, a one-line summary, its options
// declared in one place, and a run function. main.cpp parses, runs, and turns a cordscope::Error
// into one error line and its exit code (docs/errors.md).
#pragma once
#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

namespace cordscope {
struct SeriesEntry;  // data/Input.h
}

namespace cordscope::app {

namespace po = boost::program_options;

struct Command {
  std::string name;
  std::string summary;
  std::string usage;  // e.g. "cordscope info INPUT [--json]"
  std::function<void(po::options_description&, po::positional_options_description&)> declare;
  std::function<int(const po::variables_map&)> run;
};

// Every subcommand, in the order `cordscope --help` lists them.
const std::vector<Command>& commands();

Command infoCommand();
Command convertCommand();
Command analyzeCommand();
Command phantomCommand();
Command batchCommand();
Command mergeCommand();
Command compareCommand();

// The output folder named by `option` (-o), created if needed: empty, an existing file, or a
// folder that cannot be created is a usage error naming it, not an internal failure.
void makeOutputDir(const std::string& dir, const std::string& option = "-o");

// --threads / --jobs: 0 means all cores; more than 8 x the cores is clamped with a warning (a
// thread pool asked for 100000 threads crashed).
int clampWorkers(int requested, const std::string& option);

// What a command needs in memory for one series, checked against --max-memory before a pixel is
// read (issue 23: a header declaring 1600 x 1600 x 300 voxels asked for 6 GB). A fixed part
// (libraries, the 3D view) plus a cost per voxel, each about twice what was measured: analyze
// peaked at 110 MB for 2.4 million voxels and 396 MB for 19.8 million (13-18 bytes per voxel over
// about 75 MB; the 3D view adds 70 MB), convert holds the float volume and its output.
struct MemoryNeed {
  double fixedMb;
  double bytesPerVoxel;
  const char* task;  // "to analyse"
};
constexpr MemoryNeed kAnalyzeMemory{250, 32, "to analyse"};
constexpr MemoryNeed kConvertMemory{100, 12, "to convert"};
// The default of --max-memory, MB: a clinical series (512 x 512 x 200 = 52 million voxels) needs
// about 1.9 GB to analyse; 8 GB leaves room for 1024 x 1024 x 240.
constexpr double kDefaultMaxMemoryMb = 8192;
// Throws InputError naming the input and the series when `series` would need more than
// `maxMemoryMb`; UsageError when maxMemoryMb is not a positive number.
void checkMemory(const std::string& input, const cordscope::SeriesEntry& series, double maxMemoryMb,
                 const MemoryNeed& need);

// Diagnostics on stderr, prefixed so they are told apart from program output.
void warn(const std::string& message);
void note(const std::string& message);

}  // namespace cordscope::app
