#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/node_recycler.h"
#include "schedule/pace.h"
#include "schedule/resources.h"
#include "schedule/resume_point.h"
#include "schedule/retry_queue.h"
#include "schedule/task_graph.h"
#include "schedule/worker_health.h"
#include "schedule/worker_set.h"

namespace jobrunner {

// One attempt of a task handed to a worker: what Scheduler::Assign returns.
struct Assignment {
  int worker = 0;
  std::uint64_t index = 0;
  int attempt = 1;
  std::vector<int> gpus;  // positions in the worker's GPU list, for a task that asks for GPUs
};

// What the scheduler keeps per worker.
struct WorkerState {
  static constexpr std::uint64_t kNoTask = ~std::uint64_t{0};

  bool added = false;  // workers are kept by id: entries below the largest id may be unused
  int slots = 1;
  WorkerCapacity capacity;  // its cores are its slots
  // What its tasks in flight (given to it, not yet reported) take.
  int in_flight = 0;
  int used_cores = 0;             // equals in_flight when each takes one
  std::uint64_t used_memory = 0;  // asked for by the tasks in flight
  std::vector<bool> gpu_busy;     // by position in its GPU list
  // A held task that waits for room here, and its group (Placement): what it asks for is set
  // aside, and other tasks may use only what is beyond it.
  std::uint64_t reserved_for = kNoTask;
  std::size_t reserved_group = 0;
  Pace pace;
  WorkerHealth::Record health;
  // As SchedulerState::UpdateRoom last found them: whether WorkerHealth blocks it, and the cores
  // given to it beyond its slots (its queue).
  bool blocked = false;
  int queued = 0;
};

// An attempt given to a worker and not yet reported.
struct InFlight {
  int worker = 0;
  int attempt = 1;
  int failures = 0;    // before this attempt
  int failed_on = -1;  // the worker of the last failure, if any
  int cores = 1;
  std::uint64_t memory = 0;
  std::vector<int> gpus;
};

// What the scheduler knows, shared by its parts: the plain path (scheduler.cc) and placement
// with resources (placement.cc) read and change it, and worker health (worker_health.cc) keeps a
// record per worker in it. Plain data, with the questions each of them asks.
//
// Which workers have room is kept up to date as it changes, not found by asking every worker:
// whoever changes what a worker has in flight, its pace or its health calls UpdateRoom for it.
// Queues beyond the slots are bounded twice: per worker by its pace (Pace, max_prefetch), and
// over all workers by QueueLimit, so that memory at rank 0 (attempts in flight, and the results
// that come back for them) stays bounded whatever the number of workers.
struct SchedulerState {
  // Tasks queued beyond the workers' slots, over all workers, when the options leave it open:
  // the larger of this and twice the slots.
  static constexpr std::uint64_t kMinQueueLimit = 65536;

  SchedulerState(TaskGraph task_graph, int max_prefetch_per_worker, std::uint64_t max_queued,
                 int max_worker_failures)
      : max_prefetch(max_prefetch_per_worker),
        max_queued_total(max_queued),
        graph(std::move(task_graph)),
        health(max_worker_failures),
        all_suspended(health.AllSuspended()) {}

  int max_prefetch;
  std::uint64_t max_queued_total;  // 0: QueueLimit decides by the slots
  TaskGraph graph;                 // which fresh task may start next
  // For --resume: where the attempts of tasks not yet handed out continue.
  std::unordered_map<std::uint64_t, ResumePoint::TaskHistory> prior;
  std::vector<WorkerState> workers;  // by id (a transport rank): see WorkerState::added
  std::vector<int> worker_ids;       // of the workers added, ascending
  using Running = std::unordered_map<std::uint64_t, InFlight>;
  Running running;
  NodeRecycler<Running> running_nodes;  // an entry comes and goes with every attempt
  RetryQueue retries;
  WorkerHealth health;
  // Workers that WorkerHealth does not block and that have a free slot (with_free_slots), or a
  // free slot or room in their own queue (with_room; QueueLimit aside).
  WorkerSet with_free_slots;
  WorkerSet with_room;
  std::size_t unblocked = 0;   // workers added that WorkerHealth does not block
  std::uint64_t slots = 0;     // of every worker added
  std::uint64_t queued = 0;    // WorkerState::queued over all workers
  bool all_suspended = false;  // WorkerHealth::AllSuspended, as UpdateRoom last found it

  bool Has(int id) const {
    return id >= 0 && static_cast<std::size_t>(id) < workers.size() &&
           workers[static_cast<std::size_t>(id)].added;
  }
  WorkerState& Worker(int id) { return workers[static_cast<std::size_t>(id)]; }
  const WorkerState& Worker(int id) const { return workers[static_cast<std::size_t>(id)]; }
  // Adds worker `id` (once) and returns it.
  WorkerState& AddWorker(int id);
  // Whether `holds(id, worker)` for some worker added; walks them all.
  template <class Predicate>
  bool AnyWorker(Predicate holds) const {
    for (int id : worker_ids) {
      if (holds(id, Worker(id))) return true;
    }
    return false;
  }

  bool Blocked(const WorkerState& w) const { return health.Blocked(w.health); }

  std::uint64_t QueueLimit() const {
    return max_queued_total > 0 ? max_queued_total : std::max(kMinQueueLimit, 2 * slots);
  }
  std::uint64_t QueueLimitLeft() const {
    return queued >= QueueLimit() ? 0 : QueueLimit() - queued;
  }

  // How many more tasks of one core `w` may be given now: its free slots, plus its prefetch
  // unless `slots_only`.
  int Room(const WorkerState& w, bool slots_only) const {
    return Blocked(w) ? 0 : RoomIgnoringHealth(w, slots_only);
  }
  // The same, whether or not WorkerHealth blocks the worker.
  int RoomIgnoringHealth(const WorkerState& w, bool slots_only) const {
    const int free_slots = std::max(0, w.slots - w.used_cores);
    if (slots_only) return free_slots;
    const std::uint64_t queue = std::min<std::uint64_t>(QueueRoom(w), QueueLimitLeft());
    return free_slots + static_cast<int>(queue);
  }
  // How many more tasks `w`'s own queue takes beyond its slots: its prefetch less what it holds.
  int QueueRoom(const WorkerState& w) const {
    return std::max(0, w.pace.Prefetch(w.slots, max_prefetch) - QueuedOn(w));
  }
  static int QueuedOn(const WorkerState& w) { return std::max(0, w.used_cores - w.slots); }

  // What worker `id` has in flight, its pace or its health changed: brings the sets of workers
  // with room and the counts over all workers up to date. When the change makes every worker in
  // rotation suspended, or ends that, every worker's room changes (WorkerHealth lets suspended
  // workers work then), and all are brought up to date.
  void UpdateRoom(int id);

  // Throws std::logic_error naming the first invariant that does not hold: each worker's
  // in_flight, used cores, memory and GPUs are those of the attempts in flight on it, no GPU is
  // taken twice, and no worker is given more memory than it has; an attempt in flight is on a
  // worker known; a task waits for at most one retry, and not while an attempt of it runs; the
  // history of an earlier run is kept only for tasks not yet handed out; the sets of workers with
  // room and the counts over all workers say what the workers do; and the TaskGraph's and
  // WorkerHealth's own invariants. O(state): for tests, after every step.
  void CheckInvariants() const;

 private:
  void UpdateOne(int id);
};

}  // namespace jobrunner
