#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "posix/spawn.h"
#include "posix/unique_fd.h"

namespace jobrunner {

class OrphanGuard;

// A long-lived child that this process talks with over two pipes: the child reads its fd 3 and
// writes its fd 4. Its stdin is /dev/null and its stdout and stderr are files. Like a task, it
// runs in a process group of its own, with no signal blocked or ignored, without Open MPI's
// variables, and watched by the orphan guard, so that it never outlives its worker.
struct HelperRequest {
  std::vector<std::string> argv;                         // argv[0] without '/' is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // on top of this process's
  std::string stdout_path;                               // created or truncated
  std::string stderr_path;
};

// What a helper may be sent besides a kill.
enum class HelperSignal {
  kDumpStack,  // SIGUSR2: jobrunner's Python helper prints every thread's stack to its stderr
  kTerminate,  // SIGTERM, to its whole group
};

class HelperProcess {
 public:
  // Why it could not start comes back as the message ("no such file or directory: python3").
  static StatusOr<std::unique_ptr<HelperProcess>> Start(const HelperRequest& request,
                                                        OrphanGuard* guard);
  ~HelperProcess();  // kills its group and reaps it, unless Reap did
  HelperProcess(const HelperProcess&) = delete;
  HelperProcess& operator=(const HelperProcess&) = delete;

  pid_t pid() const { return pid_; }
  // For a poll: writable when Send would take bytes, readable when Receive has some (or the
  // end), and readable once the child has ended.
  int send_fd() const { return send_fd_.get(); }
  int receive_fd() const { return receive_fd_.get(); }
  int exit_fd() const { return pid_fd_.get(); }

  // Writes what the pipe takes now, without waiting; how many bytes, or nullopt when the child
  // no longer reads (it has ended).
  std::optional<std::size_t> Send(std::string_view data);
  // Appends what has arrived to `buffer`, without waiting; false at the end (the child closed
  // its end, or ended).
  bool Receive(std::string& buffer);

  void Signal(HelperSignal signal);
  // SIGKILL to its group, then reaps it: how it ended. Also for a child that has ended by itself;
  // whatever is left of its group goes too.
  ChildEnd KillAndReap();
  bool reaped() const { return pid_ < 0; }

 private:
  HelperProcess() = default;

  pid_t pid_ = -1;
  UniqueFd pid_fd_;
  UniqueFd send_fd_;
  UniqueFd receive_fd_;
  OrphanGuard* guard_ = nullptr;
};

// "SIGSEGV" for 11, "signal 99" for a number without a name.
std::string SignalName(int signal);

// One fd of a WaitForFds.
struct FdWait {
  int fd = -1;
  bool want_write = false;  // else: readable (or ended)
  bool ready = false;       // set by WaitForFds
};

// Waits up to `timeout` until one of `fds` is ready, and marks those that are. Returns early on
// a signal, with none marked.
void WaitForFds(std::vector<FdWait>& fds, std::chrono::milliseconds timeout);

// What RunCaptured saw.
struct CapturedRun {
  ChildEnd end;
  std::string output;  // stdout
  std::string errors;  // stderr
};

// Runs a short command to its end with `input` on its stdin, collecting its stdout and stderr (a
// check that answers in JSON, say). Past `limit` it is killed, and the result says so.
StatusOr<CapturedRun> RunCaptured(const std::vector<std::string>& argv, std::string_view input,
                                  std::chrono::milliseconds limit);

}  // namespace jobrunner
