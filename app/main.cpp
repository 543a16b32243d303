// cordscope: the front door. Parses the subcommand and its options, runs it, and maps errors to
// exit codes: 0 success, 1 analysis failed, 2 usage error, 3 input unreadable (docs/errors.md).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include "Command.h"
#include "data/Error.h"
#include "data/Input.h"
#include "version.h"

namespace cordscope::app {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {analyzeCommand(), batchCommand(), mergeCommand(),
                                           compareCommand(), infoCommand(),  convertCommand(),
                                           phantomCommand()};
  return all;
}

void warn(const std::string& message) {
  std::cerr << "cordscope: warning: " << message << "\n";
}
void note(const std::string& message) {
  std::cerr << "cordscope: " << message << "\n";
}

void makeOutputDir(const std::string& dir, const std::string& option) {
  namespace fs = std::filesystem;
  if (dir.empty()) throw UsageError(option + " needs a folder name");
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error))
    throw UsageError(option + " " + dir + ": is a file, not a folder");
  fs::create_directories(dir, error);
  if (error)
    throw OutputError(option + " " + dir + ": cannot create the folder (" + error.message() + ")");
}

void checkMemory(const std::string& input, const SeriesEntry& series, double maxMemoryMb,
                 const MemoryNeed& need) {
  if (!std::isfinite(maxMemoryMb) || maxMemoryMb <= 0)
    throw UsageError("--max-memory must be a positive number of megabytes");
  const double voxels = static_cast<double>(series.size[0]) * static_cast<double>(series.size[1]) *
                        static_cast<double>(series.size[2]);
  const double neededMb = need.fixedMb + voxels * need.bytesPerVoxel / 1e6;
  if (neededMb <= maxMemoryMb) return;
  std::ostringstream text;
  text.precision(3);
  text << input << ": series " << series.id << " (" << series.size[0] << "x" << series.size[1]
       << "x" << series.size[2] << ", " << voxels / 1e6 << " million voxels) needs about "
       << std::lround(neededMb) << " MB " << need.task << ", more than --max-memory " << maxMemoryMb
       << " MB (raise it if the machine has the memory and the header is right)";
  throw InputError(text.str());
}

int clampWorkers(int requested, const std::string& option) {
  if (requested < 0) throw UsageError(option + " must be 0 (all cores) or more");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (requested == 0) return cores;
  if (requested > 8 * cores) {
    warn(option + " " + std::to_string(requested) + " is more than 8 x the " +
         std::to_string(cores) + " cores: using " + std::to_string(8 * cores));
    return 8 * cores;
  }
  return requested;
}

namespace {

void printOverview(std::ostream& out) {
  out << "cordscope " << CORDSCOPE_VERSION << " - cervical spinal cord MRI analysis\n\n"
      << "usage: cordscope COMMAND [options]\n\ncommands:\n";
  for (const Command& c : commands())
    out << "  " << c.name << std::string(10 - std::min<size_t>(9, c.name.size()), ' ') << c.summary
        << "\n";
  out << "\n'cordscope COMMAND --help' describes a command. Exit codes: docs/errors.md.\n";
}

int runCommand(const Command& command, int argc, char** argv) {
  po::options_description options("options");
  options.add_options()("help,h", "show this help");
  po::positional_options_description positional;
  command.declare(options, positional);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    if (vm.count("help")) {
      std::cout << "usage: " << command.usage << "\n\n"
                << command.summary << "\n\n"
                << options << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see 'cordscope " + command.name + " --help')");
  }
  return command.run(vm);
}

}  // namespace
}  // namespace cordscope::app

int main(int argc, char** argv) {
  using namespace cordscope;
  using namespace cordscope::app;
  if (argc < 2) {
    printOverview(std::cerr);
    return static_cast<int>(ExitCode::Usage);
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    printOverview(std::cout);
    return 0;
  }
  if (first == "--version") {
    std::cout << "cordscope " << CORDSCOPE_VERSION << "\n";
    return 0;
  }
  try {
    for (const Command& command : commands())
      if (command.name == first) return runCommand(command, argc - 1, argv + 1);
    throw UsageError("unknown command '" + first + "' (see 'cordscope --help')");
  } catch (const Error& e) {
    std::cerr << "cordscope: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::filesystem::filesystem_error& e) {
    // A full or read-only disk met by a file system call of ours: an output failure.
    const int code = e.code().value();
    if (e.code().category() == std::generic_category() ||
        e.code().category() == std::system_category())
      if (code == ENOSPC || code == EDQUOT || code == EROFS) {
        std::cerr << "cordscope: error: " << e.path1().string() << ": cannot write ("
                  << e.code().message() << ")\n";
        return static_cast<int>(ExitCode::OutputFailed);
      }
    std::cerr << "cordscope: error: internal failure: " << e.what() << "\n";
    return static_cast<int>(ExitCode::AnalysisFailed);
  } catch (const std::exception& e) {
    // Anything else is a bug or a library failure inside an analysis: never a crash dump.
    std::cerr << "cordscope: error: internal failure: " << e.what() << "\n";
    return static_cast<int>(ExitCode::AnalysisFailed);
  }
}
