#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schedule/outcome.h"
#include "schedule/resources.h"
#include "schedule/resume_point.h"
#include "schedule/retry_policy.h"
#include "schedule/task_graph.h"
#include "schedule/worker_health.h"

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
//
// Resources (SetNeeds): a worker's capacity in cores is its slots, and a task takes as many as it
// asks (one by default), plus GPU ids and memory when it asks for them, and only on a worker with
// its tags. Only tasks that take one core and nothing else may wait in a prefetch queue; any
// other task is handed out only to a worker where it fits right now, counting everything given
// to that worker and not yet reported. Tasks are looked at in order: one that fits nowhere now
// is held and reserves what it asks for on one worker it could run on (the one with the most
// free cores): as tasks end there, their cores, GPUs and memory go to it first, and other tasks
// may use only what is beyond the reservation (and queue nothing there), until it starts there
// or fits on another worker first. So a big task is never starved by small ones behind it, and
// the rest of the farm keeps taking the tasks behind it. Held tasks keep their order and reserve
// workers in turn, one each; at most kMaxHeld are held.
// A manifest without resource fields never takes this path: scheduling costs what it did.
class Scheduler {
 public:
  static constexpr double kQueueTargetMs = 20.0;
  static constexpr double kNoPrefetchAboveMs = 500.0;
  // Tasks held back because they fit on no worker now: how far past them the scheduler looks.
  static constexpr std::size_t kMaxHeld = 1024;

  struct Options {
    RetryPolicy retry;
    int max_prefetch = 1024;  // per worker
    // A worker on which this many tasks in a row failed that then succeeded elsewhere, with no
    // success of its own in between, gets no more work (while another worker remains). 0: never.
    // A worker with this many failures in a row is given nothing new while the verdict is out
    // (the retries elsewhere), so that a broken worker cannot burn through the manifest first.
    // The rules are WorkerHealth's.
    int max_worker_failures = 5;
  };

  struct Assignment {
    int worker = 0;
    std::uint64_t index = 0;
    int attempt = 1;
    std::vector<int> gpus;  // positions in the worker's GPU list, for a task that asks for GPUs
  };

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
  // before any prefetch, so that a short run spreads over all workers.
  std::vector<Assignment> Assign(std::int64_t now_ms);

  // An attempt ended; a retry it earns is due after its backoff from `now_ms`.
  Verdict OnResult(const AttemptEnded& ended, std::int64_t now_ms);

  // Tasks skipped since the last call because a dependency failed for good; each is final, with
  // outcome kSkipped.
  std::vector<TaskGraph::Skip> TakeSkipped() { return std::exchange(skipped_, {}); }

  // Every task has a final outcome (settled earlier, or in this run).
  bool Finished() const;
  std::uint64_t task_count() const { return task_count_; }
  std::size_t Running() const { return running_.size(); }
  std::size_t WaitingRetries() const { return retries_.size(); }
  std::size_t Held() const { return held_.size(); }
  std::uint64_t FinalCount(Outcome outcome) const { return finals_[static_cast<int>(outcome)]; }
  std::uint64_t FinalTotal() const;                         // in this run
  std::uint64_t Settled() const { return settled_count_; }  // by earlier runs
  std::uint64_t Retried() const { return retried_; }
  std::uint64_t Interrupted() const { return interrupted_; }
  // Workers taken out of rotation by max_worker_failures, in the order it happened.
  const std::vector<int>& RetiredWorkers() const { return health_.retired(); }

  // When a waiting retry becomes due; nullopt when none waits.
  std::optional<std::int64_t> NextRetryAt() const;

 private:
  static constexpr std::uint64_t kNoTask = ~std::uint64_t{0};
  struct Worker {
    int slots = 1;
    int in_flight = 0;
    int used_cores = 0;  // of the tasks in flight; equals in_flight when each takes one
    WorkerCapacity capacity;
    std::vector<bool> gpu_busy;     // by position in its GPU list
    std::uint64_t used_memory = 0;  // asked for by the tasks in flight
    // A held task that waits for room here, and its group: what it asks for is set aside, and
    // other tasks may use only what is beyond it.
    std::uint64_t reserved_for = kNoTask;
    std::size_t reserved_group = 0;
    double mean_duration_ms = 0;  // of its tasks so far, recent ones weighing most
    double last_duration_ms = 0;
    int samples = 0;  // results seen, up to max_prefetch
    WorkerHealth::Record health;
  };
  struct InFlight {
    int worker = 0;
    int attempt = 1;
    int failures = 0;    // before this attempt
    int failed_on = -1;  // the worker of the last failure, if any
    int cores = 1;
    std::uint64_t memory = 0;
    std::vector<int> gpus;
  };
  // A task that fit on no worker when its turn came (fresh, or a retry that came due).
  struct Hold {
    std::uint64_t index = 0;
    int attempt = 1;
    int failures = 0;
    int failed_on = -1;
    std::size_t group = 0;
    int reserved = -1;  // the worker it reserved, if any
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
  // The resource-aware path (SetNeeds with any needs).
  std::vector<Assignment> AssignWithNeeds(std::int64_t now_ms);
  void PlaceHeld(bool slots_only, std::vector<Assignment>& out);
  void PullFresh(bool slots_only, std::vector<Assignment>& out);
  // Places `hold` now, or holds it (reserving a worker if it can).
  void PlaceOrHold(Hold hold, bool slots_only, std::vector<Assignment>& out);
  int FindPlace(const Hold& hold, bool slots_only) const;
  bool FitsNow(const Worker& worker, const Hold& hold, bool slots_only) const;
  // A fresh task taking one core could go to `worker` now.
  bool RoomForFresh(const Worker& worker, bool slots_only) const;
  // Whether `worker` may ever take `hold`: in rotation, able to hold it, and not the worker a
  // retry failed on while another could run it.
  bool MayTake(int id, const Worker& worker, const Hold& hold) const;
  bool OtherWorkerCouldHold(const Hold& hold) const;
  void Reserve(Hold& hold);
  void GiveHold(int worker, const Hold& hold, std::vector<Assignment>& out);
  void ReleaseReservation(int worker);
  bool Blocked(const Worker& worker) const { return health_.Blocked(worker.health); }
  void CollectSkipped();

  std::uint64_t task_count_;
  Options options_;
  TaskGraph graph_;
  std::vector<TaskGraph::Skip> skipped_;  // not yet taken
  std::uint64_t settled_count_ = 0;
  std::unordered_map<std::uint64_t, ResumePoint::TaskHistory> prior_;
  std::map<int, Worker> workers_;
  std::unordered_map<std::uint64_t, InFlight> running_;
  std::vector<Retry> retries_;        // few: only failed attempts wait here
  std::vector<ResourceNeeds> needs_;  // per group; empty when no task asks for anything
  std::deque<Hold> held_;             // in the order their turn came
  std::uint64_t finals_[kOutcomeCount] = {};
  std::uint64_t retried_ = 0;
  std::uint64_t interrupted_ = 0;
  WorkerHealth health_;
  // Something that can give a worker room (a result, a new worker) happened since the last
  // Assign. Without it, and with no retry waiting, Assign has nothing to give: its last call
  // filled every worker's room or ran out of tasks. Spares the scan over all workers in the
  // coordinator's idle steps.
  bool room_may_have_changed_ = true;
};

}  // namespace jobrunner
