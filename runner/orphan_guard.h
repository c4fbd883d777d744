#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace jobrunner {

// Kills a worker's tasks when the worker dies without doing it itself. Tasks run in process
// groups of their own, so they survive their worker: when mpirun vanishes, Open MPI ends each rank
// with exit_group from one of its threads (no destructor or atexit handler runs), and a rank
// killed with SIGKILL gets no say at all. The guard is a small process in its own process group,
// told over a socket which task groups are alive; when the socket closes with groups still
// listed, it kills them.
class OrphanGuard {
 public:
  // Starts the guard as `executable --orphan-guard`; nullptr (and `error` set) when it cannot.
  static std::unique_ptr<OrphanGuard> Start(const std::string& executable, std::string& error);
  ~OrphanGuard();  // a clean close: every group has been forgotten, so the guard just exits
  OrphanGuard(const OrphanGuard&) = delete;
  OrphanGuard& operator=(const OrphanGuard&) = delete;

  void Watch(pid_t pgid);
  void Forget(pid_t pgid);

 private:
  explicit OrphanGuard(int fd) : fd_(fd) {}
  void Send(char op, pid_t pgid);

  int fd_;
};

// The guard's own life, entered through `jobrunner --orphan-guard` with the socket as stdin.
// Returns the process's exit status.
int RunOrphanGuard();

}  // namespace jobrunner
