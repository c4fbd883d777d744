#include "posix/event_fd.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

namespace jobrunner {

StatusOr<EventFd> EventFd::Create() {
  UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return Status::Error(std::strerror(errno), errno);
  return EventFd(std::move(fd));
}

// Neither can fail in a way worth reporting: the counter cannot overflow at one per Signal, and
// a Clear of an unsignalled (non-blocking) eventfd just finds nothing.
void EventFd::Signal() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = write(fd_.get(), &one, sizeof one);
}

void EventFd::Clear() const {
  std::uint64_t count;
  [[maybe_unused]] ssize_t ignored = read(fd_.get(), &count, sizeof count);
}

void WaitUntilReadable(int fd, std::chrono::milliseconds max_wait) {
  pollfd watched{fd, POLLIN, 0};
  [[maybe_unused]] int ignored = poll(&watched, 1, static_cast<int>(max_wait.count()));
}

}  // namespace jobrunner
