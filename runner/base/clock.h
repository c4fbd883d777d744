#pragma once

#include <chrono>
#include <cstdint>

namespace jobrunner {

// Where the parts that keep time (the coordinator, a worker, the kind runner, idle back-off) read
// it, so that tests can drive time by hand (tests/fakes/manual_clock.h) instead of waiting.
// Implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for intervals and deadlines: it never jumps when the system clock is set.
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  // Milliseconds since the Unix epoch, for the start and end times the journal and results.jsonl
  // record.
  virtual std::int64_t UnixMs() const = 0;
};

// The system's clocks; the one production code uses. Lives as long as the program.
const Clock& SystemClock();

// The system clock's milliseconds since the Unix epoch, for code that has no Clock to ask.
std::int64_t UnixMs();

}  // namespace jobrunner
