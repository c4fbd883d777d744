#include "posix/pipe.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace jobrunner {

StatusOr<Pipe> MakePipe(bool nonblocking_read) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Error(std::strerror(errno), errno);
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (nonblocking_read && fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
    return Status::Error(std::strerror(errno), errno);
  }
  return pipe;
}

bool WaitReadable(int fd, std::chrono::milliseconds timeout) {
  struct pollfd poll_fd = {fd, POLLIN, 0};
  return poll(&poll_fd, 1, static_cast<int>(timeout.count())) > 0;
}

StatusOr<std::size_t> ReadSome(int fd, char* data, std::size_t size) {
  for (;;) {
    const ssize_t n = read(fd, data, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return Status::Error(std::strerror(errno), errno);
  }
}

}  // namespace jobrunner
