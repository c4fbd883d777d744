#pragma once

#include <memory>

#include "posix/unique_fd.h"

namespace jobrunner {

// Notices the end of a process that is not this process's child (through a pidfd): how the
// coordinator learns at once that a worker rank on its own host died, which mpirun would
// otherwise only answer by ending the job.
class ProcessWatch {
 public:
  // nullptr when the process is gone already, or cannot be watched.
  static std::unique_ptr<ProcessWatch> Open(int pid);

  // Whether the process has ended; never waits.
  bool Ended() const;

 private:
  explicit ProcessWatch(UniqueFd pidfd) : pidfd_(std::move(pidfd)) {}
  UniqueFd pidfd_;
};

}  // namespace jobrunner
