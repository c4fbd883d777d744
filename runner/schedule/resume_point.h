#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace jobrunner {

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
