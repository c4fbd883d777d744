#include "posix/this_process.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
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

namespace {

std::vector<std::string> CommandLineOf(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/cmdline", std::ios::binary);
  std::vector<std::string> words;
  for (std::string word; std::getline(in, word, '\0');) words.push_back(word);
  return words;
}

}  // namespace

std::string ExecutablePath() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path);
  return n > 0 && static_cast<std::size_t>(n) < sizeof path
             ? std::string(path, static_cast<std::size_t>(n))
             : std::string();
}

std::vector<std::string> OwnCommandLine() { return CommandLineOf("self"); }

std::vector<std::string> ParentCommandLine() { return CommandLineOf(std::to_string(getppid())); }

std::string WorkingDirectory() {
  char path[4096];
  return getcwd(path, sizeof path) != nullptr ? std::string(path) : std::string();
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
