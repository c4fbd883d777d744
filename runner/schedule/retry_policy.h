#pragma once

#include <cstdint>
#include <optional>

#include "schedule/outcome.h"

namespace jobrunner {

// Whether a finished attempt is tried again, and after how long. Pure.
//
// Every unsuccessful outcome (non-zero exit, signal, timeout, spawn error) is retried while the
// task has failed no more than `retries` times. The delay doubles with each failure, starting at
// `backoff_ms`, and is capped at kMaxBackoffMs, so a flapping task does not hammer a broken
// resource. An interrupted attempt is not a failure: it is neither counted nor retried here.
struct RetryPolicy {
  static constexpr std::int64_t kMaxBackoffMs = 60'000;
  std::int64_t backoff_ms = 200;

  // `failures` counts the task's failed attempts including this one; `retries` is its allowance.
  // Returns the delay before the next attempt, or nullopt when the outcome is final.
  std::optional<std::int64_t> RetryDelayMs(Outcome outcome, int failures, int retries) const;
};

}  // namespace jobrunner
