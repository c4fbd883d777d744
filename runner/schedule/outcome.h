#pragma once

#include <cstdint>
#include <string_view>

namespace jobrunner {

// How one attempt of a task ended. A failed task is data, not an exception.
enum class Outcome : std::uint8_t {
  kSucceeded,    // exit status 0
  kFailed,       // non-zero exit status
  kSignaled,     // killed by a signal it did not ask for
  kTimedOut,     // ran past its timeout and was terminated
  kSpawnError,   // could not be started: missing executable, bad cwd, ...
  kInterrupted,  // stopped because the run stopped (drain, interrupt); not a failure, resumable
  kSkipped,      // never run: a task it depends on failed for good (the coordinator decides it)
  kOom,          // killed by the kernel's OOM killer: out of memory, or past its `memory:` limit
};

// Stable lower-case names used in results.jsonl and the summary ("succeeded", "timed_out", ...).
std::string_view OutcomeName(Outcome outcome);

inline constexpr int kOutcomeCount = 8;

}  // namespace jobrunner
