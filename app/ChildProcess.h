// Running `cordscope analyze` as a child process (batch and compare do): the binary's own path,
// and the reason a child gave for failing. A child process isolates a crash or a memory blow-up
// in one analysis from the command that runs many.
#pragma once
#include <string>
#include <vector>

namespace cordscope::app {

// This binary (/proc/self/exe). Throws Error when it cannot be found.
std::string selfPath();

// The last "error: ..." line a child wrote to its log, without the prefix; empty when none.
std::string lastErrorLine(const std::string& logPath);

// Runs this binary with `args` (argv[0] excluded), stdout and stderr to `logPath`, and waits.
// Returns the wait status.
int runSelf(const std::vector<std::string>& args, const std::string& logPath);

}  // namespace cordscope::app
