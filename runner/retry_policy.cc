#include "retry_policy.h"

#include <algorithm>

namespace jobrunner {

std::optional<std::int64_t> RetryPolicy::RetryDelayMs(Outcome outcome, int attempt,
                                                      int retries) const {
  if (outcome == Outcome::kSucceeded || attempt > retries) return std::nullopt;
  std::int64_t delay = backoff_ms;
  for (int i = 1; i < attempt && delay < kMaxBackoffMs; ++i) delay *= 2;
  return std::min(delay, kMaxBackoffMs);
}

}  // namespace jobrunner
