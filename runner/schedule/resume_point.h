#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace jobrunner {

// The highest attempt number a task may reach. Far above what any run comes to (a run adds at
// most retries + 1, so 101, attempts to a task), and far enough below 2^31 that the arithmetic
// on attempt numbers (ints) cannot overflow: --resume refuses a journal that names a higher one,
// since only an altered or damaged journal can.
inline constexpr int kMaxAttempt = 1'000'000'000;

// What earlier runs of a run directory left for a resumed run to start from: the journal's
// verdict (RunLedger::ResumeState) in the terms the scheduler takes (Scheduler::Resume). A plain
// value, so that neither of the two has to know the other.
struct ResumePoint {
  // What an earlier run left of a task that is still to run.
  struct TaskHistory {
    int last_attempt = 0;  // attempt numbers continue after it, so output files stay distinct
    int failures = 0;      // counted against the task's retries
  };

  std::vector<bool> settled;  // by task: not to run again (succeeded, or failed for good)
  std::unordered_map<std::uint64_t, TaskHistory> history;  // tasks still to run that ran before
  std::vector<std::uint64_t> failed;  // settled tasks that failed for good: their dependents skip
};

}  // namespace jobrunner
