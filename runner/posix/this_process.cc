#include "posix/this_process.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

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

void TestCrashPoint(const char* point) {
  for (const auto& [variable, signal] : {std::pair{"JOBRUNNER_TEST_CRASH_AT", SIGKILL},
                                         std::pair{"JOBRUNNER_TEST_STOP_AT", SIGSTOP}}) {
    const char* wanted = std::getenv(variable);
    if (wanted != nullptr && std::strcmp(wanted, point) == 0) kill(getpid(), signal);
  }
}

}  // namespace jobrunner
