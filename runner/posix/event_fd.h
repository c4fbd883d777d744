#pragma once

#include <chrono>

#include "base/status.h"
#include "posix/unique_fd.h"

namespace jobrunner {

// A wake-up that another thread sends to a loop waiting on fds (an eventfd): the fd is readable
// from the first Signal until Clear, however many Signals came between.
class EventFd {
 public:
  // A failure's message is the system's reason.
  static StatusOr<EventFd> Create();

  // What the waiting loop polls; owned by this object.
  int fd() const { return fd_.get(); }
  // Safe from any thread.
  void Signal() const;
  void Clear() const;

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
};

// Waits until `fd` is readable or `max_wait` has passed, whichever comes first; a signal ends the
// wait early too. For a loop that sleeps between turns but must wake when another thread signals
// an EventFd.
void WaitUntilReadable(int fd, std::chrono::milliseconds max_wait);

}  // namespace jobrunner
