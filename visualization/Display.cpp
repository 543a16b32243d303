#include "visualization/Display.h"

#include <X11/Xlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace cordscope {
namespace {

bool displayOpens() {
  Display* d = XOpenDisplay(nullptr);
  if (!d) return false;
  XCloseDisplay(d);
  return true;
}

std::string findXvfb() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = dirs.find(':', start);
    const std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / "Xvfb";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

}  // namespace

RenderDisplay::RenderDisplay() {
  if (const char* display = std::getenv("DISPLAY"); display && *display) {
    hadDisplay_ = true;
    previousDisplay_ = display;
    if (displayOpens()) {
      available_ = true;
      return;
    }
  }
  const std::string xvfb = findXvfb();
  if (xvfb.empty()) {
    why_ = "no X display and no Xvfb found (install the xvfb package)";
    return;
  }
  // Xvfb picks a free display number itself and writes it to the descriptor given with
  // -displayfd once it accepts connections.
  int pipeFds[2];
  if (::pipe(pipeFds) != 0) {
    why_ = std::string("cannot start Xvfb: ") + std::strerror(errno);
    return;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    why_ = std::string("cannot start Xvfb: ") + std::strerror(errno);
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    return;
  }
  if (pid == 0) {
    // The server goes when the program goes, however it ends (a crash, SIGKILL): never an
    // orphan Xvfb piling up over a long batch.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::close(pipeFds[0]);
    const int devNull = ::open("/dev/null", O_RDWR);
    if (devNull >= 0) {
      ::dup2(devNull, STDIN_FILENO);
      ::dup2(devNull, STDOUT_FILENO);
      ::dup2(devNull, STDERR_FILENO);
    }
    const std::string fd = std::to_string(pipeFds[1]);
    ::execl(xvfb.c_str(), "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "1920x1200x24",
            "-nolisten", "tcp", "-noreset", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipeFds[1]);
  server_ = pid;
  std::string number;
  pollfd p{pipeFds[0], POLLIN, 0};
  char buffer[32];
  while (number.find('\n') == std::string::npos && ::poll(&p, 1, 10000) > 0) {
    const ssize_t n = ::read(pipeFds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    number.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipeFds[0]);
  while (!number.empty() && (number.back() == '\n' || number.back() == ' ')) number.pop_back();
  if (number.empty()) {
    why_ = "Xvfb did not start within 10 s";
    return;
  }
  ::setenv("DISPLAY", (":" + number).c_str(), 1);
  if (!displayOpens()) {
    why_ = "the private Xvfb display :" + number + " does not open";
    return;
  }
  available_ = true;
}

RenderDisplay::~RenderDisplay() {
  if (server_ > 0) {
    ::kill(server_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 50 && ::waitpid(server_, &status, WNOHANG) == 0; ++i) ::usleep(20000);
    if (::waitpid(server_, &status, WNOHANG) == 0) {
      ::kill(server_, SIGKILL);
      ::waitpid(server_, &status, 0);
    }
    if (hadDisplay_)
      ::setenv("DISPLAY", previousDisplay_.c_str(), 1);
    else
      ::unsetenv("DISPLAY");
  }
}

}  // namespace cordscope
