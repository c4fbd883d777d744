#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "outcome.h"
#include "retry_policy.h"
#include "task_graph.h"

namespace jobrunner {

// Which attempt of which task goes to which worker. Pure: no MPI, no clock, no I/O; time comes in
// as `now_ms` and results as values, so the same code runs live and in tests.
//
// Dynamic self-scheduling: a worker is given tasks only while it has credits, that is free slots
// plus a small prefetch queue. Prefetch is zero until the worker's typical task duration is known,
// then sized so that its queue holds about kQueueTargetMs of work, growing by one per result seen:
// tiny tasks travel hundreds at a time, long tasks are never parked behind one another while
// another worker sits idle.
//
// Which fresh task comes next, and when a task may start at all, is the TaskGraph's to say
// (dependencies and priorities); tasks it skips are final with outcome kSkipped.
class Scheduler {
 public:
  static constexpr double kQueueTargetMs = 20.0;
  static constexpr double kNoPrefetchAboveMs = 500.0;

  struct Options {
    RetryPolicy retry;
    int max_prefetch = 1024;  // per worker
    // A worker on which this many tasks in a row failed that then succeeded elsewhere, with no
    // success of its own in between, gets no more work (while another worker remains). 0: never.
    // A worker with this many failures in a row is given nothing new while the verdict is out
    // (the retries elsewhere), so that a broken worker cannot burn through the manifest first.
    int max_worker_failures = 5;
  };

  // What an earlier run (read from the journal) left of a task that is still to run.
  struct Prior {
    int last_attempt = 0;  // attempt numbers continue after it, so output files stay distinct
    int failures = 0;      // counted against the task's retries
  };

  struct Assignment {
    int worker = 0;
    std::uint64_t index = 0;
    int attempt = 1;
  };

  // What the run does with a reported attempt.
  enum class Verdict {
    kIgnored,      // not an attempt in flight (a duplicate, or from a worker not given it)
    kFinal,        // the task is done with this outcome
    kRetrying,     // another attempt is queued
    kInterrupted,  // stopped with the run; the task stays unfinished, for --resume
  };

  // Tasks in index order, none depending on another.
  Scheduler(std::uint64_t task_count, Options options);
  Scheduler(TaskGraph graph, Options options);

  // For --resume: tasks marked in `settled` (indexed by task) are not run again; those of them
  // listed in `failed` failed for good, so the tasks that depend on them are skipped. Tasks in
  // `prior` continue their attempt numbers and failure counts. Call before the first Assign.
  void Resume(std::vector<bool> settled, std::unordered_map<std::uint64_t, Prior> prior,
              std::vector<std::uint64_t> failed = {});

  void AddWorker(int worker, int slots);

  // Hands out work: retries that are due first (to another worker than the one that failed,
  // when another has room), then fresh tasks in manifest order. Fills free slots on every worker
  // before any prefetch, so that a short run spreads over all workers.
  std::vector<Assignment> Assign(std::int64_t now_ms);

  // An attempt ended. `retries` is the task's allowance; `duration_ms` feeds the prefetch size.
  Verdict OnResult(int worker, std::uint64_t index, int attempt, Outcome outcome, int retries,
                   double duration_ms, std::int64_t now_ms);

  // Tasks skipped since the last call because a dependency failed for good; each is final, with
  // outcome kSkipped.
  std::vector<TaskGraph::Skip> TakeSkipped() { return std::exchange(skipped_, {}); }

  // Every task has a final outcome (settled earlier, or in this run).
  bool Finished() const;
  std::uint64_t task_count() const { return task_count_; }
  std::size_t Running() const { return running_.size(); }
  std::size_t WaitingRetries() const { return retries_.size(); }
  std::uint64_t FinalCount(Outcome outcome) const { return finals_[static_cast<int>(outcome)]; }
  std::uint64_t FinalTotal() const;                         // in this run
  std::uint64_t Settled() const { return settled_count_; }  // by earlier runs
  std::uint64_t Retried() const { return retried_; }
  std::uint64_t Interrupted() const { return interrupted_; }
  // Workers taken out of rotation by max_worker_failures, in the order it happened.
  const std::vector<int>& RetiredWorkers() const { return retired_; }

  // When a waiting retry becomes due; nullopt when none waits.
  std::optional<std::int64_t> NextRetryAt() const;

 private:
  struct Worker {
    int slots = 1;
    int in_flight = 0;
    double mean_duration_ms = 0;  // of its tasks so far, recent ones weighing most
    double last_duration_ms = 0;
    int samples = 0;                   // results seen, up to max_prefetch
    int failures_fixed_elsewhere = 0;  // since its last success
    // Failures since its last success, less those of tasks that then failed elsewhere too.
    int unexplained_failures = 0;
    bool suspended = false;  // unexplained_failures reached max_worker_failures
    bool retired = false;
  };
  struct InFlight {
    int worker = 0;
    int attempt = 1;
    int failures = 0;    // before this attempt
    int failed_on = -1;  // the worker of the last failure, if any
  };
  struct Retry {
    std::uint64_t index = 0;
    int attempt = 1;  // the attempt to run next
    int failures = 0;
    std::int64_t due_ms = 0;
    int failed_on = -1;
  };

  int Room(const Worker& worker, bool slots_only) const;
  void GiveRetries(std::int64_t now_ms, bool slots_only, std::vector<Assignment>& out);
  void GiveFresh(bool slots_only, std::vector<Assignment>& out);
  void Give(int worker, std::uint64_t index, int attempt, int failures, int failed_on,
            std::vector<Assignment>& out);
  void CollectSkipped();
  void BlameFailure(int failed_on, int succeeded_on);
  void UpdateSuspicion(Worker& worker);
  std::size_t InRotation() const { return workers_.size() - retired_.size(); }

  std::uint64_t task_count_;
  Options options_;
  TaskGraph graph_;
  std::vector<TaskGraph::Skip> skipped_;  // not yet taken
  std::uint64_t settled_count_ = 0;
  std::unordered_map<std::uint64_t, Prior> prior_;
  std::map<int, Worker> workers_;
  std::unordered_map<std::uint64_t, InFlight> running_;
  std::vector<Retry> retries_;  // few: only failed attempts wait here
  std::uint64_t finals_[kOutcomeCount] = {};
  std::uint64_t retried_ = 0;
  std::uint64_t interrupted_ = 0;
  std::vector<int> retired_;
  std::size_t suspended_count_ = 0;
  // Something that can give a worker room (a result, a new worker) happened since the last
  // Assign. Without it, and with no retry waiting, Assign has nothing to give: its last call
  // filled every worker's room or ran out of tasks. Spares the scan over all workers in the
  // coordinator's idle steps.
  bool room_may_have_changed_ = true;
};

}  // namespace jobrunner
