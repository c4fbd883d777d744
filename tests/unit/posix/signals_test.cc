#include "posix/signals.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace jobrunner {
namespace {

struct Seen {
  int signal = 0;
  pid_t sender = 0;
};

bool ClaimFromThisProcess(int signal, pid_t sender, void* context) {
  auto* seen = static_cast<Seen*>(context);
  seen->signal = signal;
  seen->sender = sender;
  return sender == getpid();
}

TEST_CASE("A signal its filter claims as a task's asks for nothing, with its sender known") {
  InstallInterruptHandlers();
  CHECK(InterruptHandlersKept());
  Seen seen;
  REQUIRE(PendingInterrupt(ClaimFromThisProcess, &seen) == InterruptRequest::kNone);
  kill(getpid(), SIGHUP);
  CHECK(PendingInterrupt(ClaimFromThisProcess, &seen) == InterruptRequest::kNone);
  CHECK(seen.signal == SIGHUP);
  CHECK(seen.sender == getpid());
  // Unclaimed, the same signal stops: it is counted once read, not lost.
  kill(getpid(), SIGUSR1);
  CHECK(PendingInterrupt() == InterruptRequest::kDrain);
  CHECK(InterruptSignal() == SIGUSR1);
}

}  // namespace
}  // namespace jobrunner
