#include "posix/this_process.h"

#include <unistd.h>

namespace jobrunner {

int ProcessId() { return static_cast<int>(getpid()); }

bool RunningAsRoot() { return geteuid() == 0; }

bool StderrIsTerminal() { return isatty(STDERR_FILENO) != 0; }

std::string ParentStderrTarget() {
  char target[256];
  const std::string link = "/proc/" + std::to_string(getppid()) + "/fd/2";
  const ssize_t n = readlink(link.c_str(), target, sizeof target);
  return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
}

void ExitNow(int status) { _exit(status); }

}  // namespace jobrunner
