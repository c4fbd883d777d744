#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/node_recycler.h"
#include "journal/journal_record.h"
#include "schedule/resume_point.h"

namespace jobrunner {

// What the journal says about every task, derived by applying its records in order. The live
// run applies each record as it writes it, and --resume applies the records it reads back: one
// state-update function for both, so a resumed run believes exactly what the journal proves.
//
// Memory: one bit per task, plus an entry for each task that has been dispatched and has not
// succeeded (in flight, waiting for a retry, or failed for good).
class RunLedger {
 public:
  explicit RunLedger(std::uint64_t task_count);

  void Apply(const JournalRecord& record);

  std::uint64_t task_count() const { return succeeded_.size(); }
  std::uint32_t runs() const { return runs_; }  // RunStarted records: 1 + resumes
  std::uint64_t succeeded() const { return succeeded_count_; }
  // Tasks whose last attempt failed with no retry left, and tasks recorded as skipped. Kept as
  // counts, not counted on demand: the coordinator asks at every step, with up to millions of
  // tasks in flight.
  std::uint64_t failed() const { return failed_count_; }
  std::uint64_t skipped() const { return skipped_count_; }
  // Attempts in flight whose start a TaskStarted recorded: what really runs, unlike attempts
  // dispatched and still queued at their worker.
  std::uint64_t running() const { return running_count_; }
  bool IsSucceeded(std::uint64_t index) const { return succeeded_[index]; }
  // The highest attempt number any dispatch or end of an attempt names, and its task (the first
  // to reach it): checked against kMaxAttempt before a resumed run continues the numbers.
  std::uint32_t highest_attempt() const { return highest_attempt_; }
  std::uint64_t highest_attempt_task() const { return highest_attempt_task_; }
  // Whether the last run recorded its end (RunEnded): false when it died.
  bool last_run_ended() const { return last_run_ended_; }

  // How often the task was in flight when its worker died or stopped answering (worker_lost
  // attempts), and how often of those it was the worker's only attempt in flight: the evidence
  // that the task itself kills or stops its worker (see kWorkerDeathsToFail).
  std::uint32_t WorkerDeaths(std::uint64_t index) const;
  std::uint32_t AloneWorkerDeaths(std::uint64_t index) const;
  // Whether any task was ever lost with its worker: only then may a task be a suspect.
  bool any_worker_deaths() const { return any_worker_deaths_; }
  // Whether `attempt` of task `index` was dispatched and has not finished.
  bool IsInFlight(std::uint64_t index, std::uint32_t attempt) const;

  struct Unfinished {
    std::uint64_t index = 0;
    std::uint32_t attempt = 0;
    std::int32_t worker_rank = 0;
    std::int64_t start_ms = 0;  // from its TaskStarted; 0 when none was recorded
  };
  // Attempts dispatched and never finished: the run stopped while they were in flight.
  std::vector<Unfinished> InFlight() const;

  // How the last failed attempt of a task that has not succeeded ended; nullopt when none
  // failed (or the task succeeded since).
  struct Failure {
    std::uint32_t attempt = 0;
    JournalOutcome outcome = JournalOutcome::kFailed;
    std::int32_t exit_code = 0;
    std::int32_t signal = 0;
  };
  std::optional<Failure> LastFailure(std::uint64_t index) const;

  // What a resumed run starts from: tasks that succeeded (and, unless `retry_failed`, tasks that
  // failed for good, also listed in `failed`) are settled; the rest carry their attempt numbers
  // and, unless they failed for good and `retry_failed` gives them a fresh allowance, their
  // failure counts. Skipped tasks are not settled: their dependencies decide again.
  ResumePoint ResumeState(bool retry_failed) const;

 private:
  struct History {
    std::uint32_t last_attempt = 0;
    std::uint32_t failures = 0;
    std::int32_t worker_rank = 0;
    std::uint32_t in_flight_attempt = 0;  // 0: none
    std::uint32_t worker_deaths = 0;
    std::uint32_t alone_worker_deaths = 0;
    std::int64_t start_ms = 0;  // of the attempt in flight, when `started`
    bool started = false;
    bool failed_for_good = false;
    bool skipped = false;
    Failure last_failure;
  };

  void OnFinished(const TaskFinishedRecord& r);
  void NoteAttempt(std::uint64_t index, std::uint32_t attempt);
  // Every change to a History goes through here, so that the counts follow its flags.
  template <class Change>
  void Update(std::uint64_t index, Change change);
  void Forget(std::uint64_t index);

  std::vector<bool> succeeded_;
  std::uint64_t succeeded_count_ = 0;
  std::unordered_map<std::uint64_t, History> open_;  // tasks touched and not succeeded
  NodeRecycler<std::unordered_map<std::uint64_t, History>> open_nodes_;  // every task passes by
  std::uint64_t failed_count_ = 0;   // open_ entries with failed_for_good
  std::uint64_t skipped_count_ = 0;  // open_ entries with skipped
  std::uint64_t running_count_ = 0;  // open_ entries in flight and started
  std::uint32_t runs_ = 0;
  std::uint32_t highest_attempt_ = 0;
  std::uint64_t highest_attempt_task_ = 0;
  bool last_run_ended_ = true;
  bool any_worker_deaths_ = false;
};

// A task that was its worker's only attempt in flight at this many deaths (or stops) of that
// worker has failed for good: it kills or stops its worker. The first death of a worker running
// several attempts makes each of them a suspect, which from then on runs alone on its worker, so
// that a task merely running beside the culprit is not blamed (see README, "Children").
inline constexpr std::uint32_t kWorkerDeathsToFail = 2;

}  // namespace jobrunner
