#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "schedule/outcome.h"
#include "schedule/placement.h"
#include "schedule/resources.h"
#include "schedule/resume_point.h"
#include "schedule/retry_policy.h"
#include "schedule/scheduler_state.h"
#include "schedule/task_graph.h"

namespace jobrunner {

// Which attempt of which task goes to which worker. Pure: no MPI, no clock, no I/O; time comes in
// as `now_ms` and results as values, so the same code runs live and in tests.
//
// Dynamic self-scheduling: a worker is given tasks only while it has credits, that is free slots
// plus a small prefetch queue sized by how quickly it gets through its tasks (Pace).
//
// Which fresh task comes next, and when a task may start at all, is the TaskGraph's to say
// (dependencies and priorities); tasks it skips are final with outcome kSkipped. Which workers
// may take work is WorkerHealth's. Tasks that ask for resources (SetNeeds) are placed by
// Placement; without them, this file's plain path hands out tasks of one slot each.
//
// The parts work on one SchedulerState, which this class owns; CheckInvariants says what holds
// of it between calls.
class Scheduler {
 public:
  struct Options {
    RetryPolicy retry;
    int max_prefetch = 1024;  // per worker
    // Tasks queued beyond the slots over all workers, so that rank 0's memory does not grow with
    // workers × max_prefetch. 0: the larger of 65,536 and twice the slots of all workers.
    std::uint64_t max_queued = 0;
    // A worker on which this many tasks in a row failed that then succeeded elsewhere, with no
    // success of its own in between, gets no more work (while another worker remains). 0: never.
    // A worker with this many failures in a row is given nothing new while the verdict is out
    // (the retries elsewhere), so that a broken worker cannot burn through the manifest first.
    // The rules are WorkerHealth's.
    int max_worker_failures = 5;
  };

  using Assignment = jobrunner::Assignment;

  // An attempt reported back by the worker it was given to.
  struct AttemptEnded {
    int worker = 0;
    std::uint64_t index = 0;
    int attempt = 1;
    Outcome outcome = Outcome::kSucceeded;
    int retries_allowed = 0;  // the task's allowance (its manifest entry's `retries:`)
    double duration_ms = 0;   // how long it ran: feeds the worker's prefetch size
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

  // For --resume: tasks marked in `point.settled` (indexed by task) are not run again; those of
  // them listed in `point.failed` failed for good, so the tasks that depend on them are skipped.
  // Tasks in `point.history` continue their attempt numbers and failure counts. Call before the
  // first Assign.
  void Resume(ResumePoint point);

  // What the tasks of each TaskGraph group ask for (a manifest entry each; missing groups ask
  // for nothing). Call before the first Assign.
  void SetNeeds(std::vector<ResourceNeeds> needs);

  void AddWorker(int worker, int slots);
  void AddWorker(int worker, const WorkerCapacity& capacity);

  // The first group (manifest entry) whose tasks fit on none of the workers added, if any.
  std::optional<std::size_t> GroupFittingNowhere() const;
  const ResourceNeeds& NeedsOf(std::size_t group) const;
  std::vector<WorkerCapacity> Capacities() const;  // of the workers added, by worker

  // Hands out work: retries that are due first (to another worker than the one that failed,
  // when another has room), then fresh tasks in manifest order. Fills free slots on every worker
  // (in rank order) before any prefetch, so that a short run spreads over all workers; prefetch
  // goes round the workers from where the last Assign left off, so that none is always last
  // when the queue limit over all workers binds. Costs per task handed out and per worker given
  // some, not per worker: the workers with room are kept in sets as they change.
  std::vector<Assignment> Assign(std::int64_t now_ms);
  // The same, into `out` (cleared first): a caller that keeps `out` from one call to the next
  // spares an allocation per call.
  void Assign(std::int64_t now_ms, std::vector<Assignment>& out);

  // An attempt ended; a retry it earns is due after its backoff from `now_ms`.
  Verdict OnResult(const AttemptEnded& ended, std::int64_t now_ms);

  // Tasks skipped since the last call because a dependency failed for good; each is final, with
  // outcome kSkipped.
  std::vector<TaskGraph::Skip> TakeSkipped() { return std::exchange(skipped_, {}); }

  // Every task has a final outcome (settled earlier, or in this run), or the task graph stopped
  // (a BARRIER CHECK) and nothing runs.
  bool Finished() const;
  // Why the task graph stopped handing out tasks (a BARRIER CHECK whose tasks had a failure).
  const std::optional<TaskGraph::Stop>& Stopped() const { return state_.graph.stopped(); }
  std::uint64_t task_count() const { return task_count_; }
  std::size_t Running() const { return state_.running.size(); }
  std::size_t WaitingRetries() const { return state_.retries.size(); }
  std::size_t Held() const { return placement_.Held(); }
  std::uint64_t FinalCount(Outcome outcome) const { return finals_[static_cast<int>(outcome)]; }
  std::uint64_t FinalTotal() const;                         // in this run
  std::uint64_t Settled() const { return settled_count_; }  // by earlier runs
  std::uint64_t Retried() const { return retried_; }
  std::uint64_t Interrupted() const { return interrupted_; }
  // Workers taken out of rotation by max_worker_failures, in the order it happened.
  const std::vector<int>& RetiredWorkers() const { return state_.health.retired(); }

  // When the earliest waiting retry becomes (or became) due; nullopt when none waits.
  std::optional<std::int64_t> NextRetryAt() const { return state_.retries.NextDueAt(); }

  // Throws std::logic_error naming the first invariant that does not hold between two calls:
  // SchedulerState's, Placement's, TaskGraph's and WorkerHealth's own; every task is counted
  // once, as final in this run, settled earlier, in flight, waiting for a retry, held,
  // interrupted, or not yet handed out; and Assign's shortcut is sound: when it would return at
  // once, a full Assign would give nothing either. O(state), and copies the scheduler: for tests,
  // after every step.
  void CheckInvariants() const;

 private:
  // The plain path: every task takes one slot.
  // Gives the `due` retries that a worker with room may take, and leaves the others in `due`.
  void GiveRetries(std::vector<Retry>& due, bool slots_only, std::vector<Assignment>& out);
  // The worker a due retry goes to, or -1 when none may take it now.
  int PlaceRetry(const Retry& retry, bool slots_only) const;
  void GiveFresh(bool slots_only, std::vector<Assignment>& out);
  // Gives worker `id` fresh tasks up to its room; false once the graph has none ready.
  bool FillWithFresh(int id, bool slots_only, std::vector<Assignment>& out);
  void Give(int worker, std::uint64_t index, int attempt, int failures, int failed_on,
            std::vector<Assignment>& out);
  void CollectSkipped();
  // OnResult's verdict on an attempt no longer in flight, and what it changes in the state.
  Verdict Judge(const AttemptEnded& ended, const InFlight& task, std::int64_t now_ms);

  std::uint64_t task_count_;
  RetryPolicy retry_;
  SchedulerState state_;
  Placement placement_;
  std::vector<TaskGraph::Skip> skipped_;  // not yet taken
  std::uint64_t settled_count_ = 0;
  std::uint64_t finals_[kOutcomeCount] = {};
  std::uint64_t retried_ = 0;
  std::uint64_t interrupted_ = 0;
  // Something that can give a worker room (a result, a new worker) happened since the last
  // Assign. Without it, and with no retry falling due, Assign has nothing to give: its last call
  // filled every worker's room or ran out of tasks.
  bool room_may_have_changed_ = true;
  int prefetch_from_ = 0;  // the worker the next prefetch round starts at
};

}  // namespace jobrunner
