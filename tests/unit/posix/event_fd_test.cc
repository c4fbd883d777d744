#include "posix/event_fd.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "posix/pipe.h"

namespace jobrunner {
namespace {

using std::chrono::milliseconds;

TEST_CASE("An EventFd is readable from the first Signal until Clear") {
  StatusOr<EventFd> event = EventFd::Create();
  REQUIRE(event.ok());
  CHECK_FALSE(WaitReadable(event->fd(), milliseconds(0)));
  event->Signal();
  event->Signal();
  CHECK(WaitReadable(event->fd(), milliseconds(0)));
  event->Clear();
  CHECK_FALSE(WaitReadable(event->fd(), milliseconds(0)));
  event->Clear();  // nothing to clear: returns at once
  CHECK_FALSE(WaitReadable(event->fd(), milliseconds(0)));
}

TEST_CASE("An EventFd wakes a loop that waits on it from another thread") {
  StatusOr<EventFd> event = EventFd::Create();
  REQUIRE(event.ok());
  std::thread signaller([&event] { event->Signal(); });
  const bool woken = WaitReadable(event->fd(), milliseconds(10000));
  signaller.join();
  CHECK(woken);
}

}  // namespace
}  // namespace jobrunner
