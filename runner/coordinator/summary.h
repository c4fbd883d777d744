#pragma once

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

#include "coordinator/failure_note.h"
#include "schedule/outcome.h"

namespace jobrunner {

struct SlowTask {
  std::string id;
  int attempt = 1;
  std::int64_t duration_ms = 0;
};

// The end of a run, for the user (FormatSummary) and for results.jsonl.
struct RunSummary {
  std::uint64_t tasks = 0;
  std::uint64_t by_outcome[kOutcomeCount] = {};  // each task counted once, by its final attempt
  std::uint64_t not_run = 0;                     // tasks with no final outcome yet (resumable)
  std::uint64_t settled_earlier = 0;  // tasks a resumed run found settled by earlier runs
  std::uint64_t succeeded_total = 0;  // tasks succeeded, in this run and earlier ones
  std::uint32_t run_number = 1;       // 1, then +1 for each --resume
  std::vector<int> retired_workers;   // ranks taken out of rotation (--max-worker-failures)
  std::vector<std::string> retired;   // the same in words: "rank 3 on node2: why"
  std::uint64_t attempts = 0;
  std::uint64_t retried = 0;
  std::int64_t wall_ms = 0;
  std::vector<SlowTask> slowest;
  std::vector<FailureNote> failed;          // the first few tasks of this run that did not succeed
  std::uint64_t failed_total = 0;           // in this run
  std::vector<FailureNote> failed_earlier;  // settled as failed by earlier runs, not run again
  std::uint64_t failed_earlier_total = 0;
  int exit_status = 0;
  std::string run_dir;
  // Why the run stopped before every task had run, when it did so on purpose (--max-failures, a
  // BARRIER CHECK); empty otherwise.
  std::string stopped;
};

// The N longest attempts seen, in O(log N) per attempt.
class SlowestTasks {
 public:
  explicit SlowestTasks(std::size_t keep) : keep_(keep) {}
  void Offer(const std::string& id, int attempt, std::int64_t duration_ms);
  std::vector<SlowTask> Sorted() const;  // longest first

 private:
  struct Shorter {
    bool operator()(const SlowTask& a, const SlowTask& b) const {
      return a.duration_ms > b.duration_ms;
    }
  };
  std::size_t keep_;
  std::priority_queue<SlowTask, std::vector<SlowTask>, Shorter> heap_;  // shortest on top
};

// A few lines for a terminal: counts by outcome, wall time, each task that did not succeed and
// why (the first few), retired workers, slowest tasks, where results are.
std::string FormatSummary(const RunSummary& summary);

}  // namespace jobrunner
