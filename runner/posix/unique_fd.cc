#include "posix/unique_fd.h"

#include <unistd.h>

namespace jobrunner {

// close(2) is not retried on EINTR: on Linux the fd is released even then, and a retry could
// close an fd another thread has just been given.
void UniqueFd::Reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace jobrunner
