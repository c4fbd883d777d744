#include "schedule/retry_policy.h"

#include <algorithm>

namespace jobrunner {

std::optional<std::int64_t> RetryPolicy::RetryDelayMs(Outcome outcome, int failures,
                                                      int retries) const {
  if (outcome == Outcome::kSucceeded || outcome == Outcome::kInterrupted || failures > retries) {
    return std::nullopt;
  }
  std::int64_t delay = backoff_ms;
  for (int i = 1; i < failures && delay < kMaxBackoffMs; ++i) delay *= 2;
  return std::min(delay, kMaxBackoffMs);
}

}  // namespace jobrunner
