// The shape every subcommand shares (after MRtrix3's cmd/): a name, a one-line summary, its options
// declared in one place, and a run function. main.cpp parses, runs, and turns a cordscope::Error
// into one error line and its exit code (docs/errors.md).
#pragma once
#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

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

// Diagnostics on stderr, prefixed so they are told apart from program output.
void warn(const std::string& message);
void note(const std::string& message);

}  // namespace cordscope::app
