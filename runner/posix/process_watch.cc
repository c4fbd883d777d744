#include "posix/process_watch.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace jobrunner {

std::unique_ptr<ProcessWatch> ProcessWatch::Open(int pid) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return nullptr;
  return std::unique_ptr<ProcessWatch>(new ProcessWatch(std::move(pidfd)));
}

bool ProcessWatch::Ended() const {
  pollfd fd = {pidfd_.get(), POLLIN, 0};
  return poll(&fd, 1, 0) > 0;
}

}  // namespace jobrunner
