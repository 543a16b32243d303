#include "ChildProcess.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "data/Error.h"

namespace cordscope::app {

std::string selfPath() {
  char buffer[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0)
    throw Error(ExitCode::AnalysisFailed, "cannot find the cordscope binary (/proc/self/exe)");
  return std::string(buffer, static_cast<std::size_t>(n));
}

std::string lastErrorLine(const std::string& logPath) {
  std::ifstream in(logPath);
  std::string line, last;
  while (std::getline(in, line))
    if (const auto at = line.find("error: "); at != std::string::npos) last = line.substr(at + 7);
  return last;
}

int runSelf(const std::vector<std::string>& args, const std::string& logPath) {
  const std::string self = selfPath();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw Error(ExitCode::AnalysisFailed,
                std::string("cannot start a child process: ") + std::strerror(errno));
  if (pid == 0) {
    if (std::FILE* out = std::fopen(logPath.c_str(), "w")) {
      ::dup2(fileno(out), STDOUT_FILENO);
      ::dup2(fileno(out), STDERR_FILENO);
    }
    std::vector<std::string> all = {self};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());  // the running binary, even if rebuilt meanwhile
    std::fprintf(stderr, "cordscope: error: cannot run %s: %s\n", self.c_str(),
                 std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace cordscope::app
