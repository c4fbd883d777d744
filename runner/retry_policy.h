#pragma once

#include <cstdint>
#include <optional>

#include "outcome.h"

namespace jobrunner {

// Whether a finished attempt is tried again, and after how long. Pure.
//
// Every unsuccessful outcome (non-zero exit, signal, timeout, spawn error) is retried while the
// task has retries left. The delay doubles with each attempt, starting at `backoff_ms`, and is
// capped at kMaxBackoffMs, so a flapping task does not hammer a broken resource.
struct RetryPolicy {
  static constexpr std::int64_t kMaxBackoffMs = 60'000;
  std::int64_t backoff_ms = 200;

  // `attempt` is the one that just ended (1-based); `retries` the task's allowance.
  // Returns the delay before the next attempt, or nullopt when the outcome is final.
  std::optional<std::int64_t> RetryDelayMs(Outcome outcome, int attempt, int retries) const;
};

}  // namespace jobrunner
