#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schedule/pace.h"
#include "schedule/resources.h"
#include "schedule/resume_point.h"
#include "schedule/task_graph.h"
#include "schedule/worker_health.h"

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

// A task whose attempt failed, waiting for its next one.
struct Retry {
  std::uint64_t index = 0;
  int attempt = 1;  // the attempt to run next
  int failures = 0;
  std::int64_t due_ms = 0;
  int failed_on = -1;
};

// What the scheduler knows, shared by its parts: the plain path (scheduler.cc) and placement
// with resources (placement.cc) read and change it, and worker health (worker_health.cc) keeps a
// record per worker in it. Plain data, with the questions each of them asks.
struct SchedulerState {
  SchedulerState(TaskGraph task_graph, int max_prefetch_per_worker, int max_worker_failures)
      : max_prefetch(max_prefetch_per_worker),
        graph(std::move(task_graph)),
        health(max_worker_failures) {}

  int max_prefetch;
  TaskGraph graph;  // which fresh task may start next
  // For --resume: where the attempts of tasks not yet handed out continue.
  std::unordered_map<std::uint64_t, ResumePoint::TaskHistory> prior;
  std::map<int, WorkerState> workers;
  std::unordered_map<std::uint64_t, InFlight> running;
  std::vector<Retry> retries;  // few: only failed attempts wait here
  WorkerHealth health;

  bool Blocked(const WorkerState& w) const { return health.Blocked(w.health); }

  // How many more tasks of one core `w` may be given now: its free slots, plus its prefetch
  // unless `slots_only`.
  int Room(const WorkerState& w, bool slots_only) const {
    return Blocked(w) ? 0 : RoomIgnoringHealth(w, slots_only);
  }
  // The same, whether or not WorkerHealth blocks the worker.
  int RoomIgnoringHealth(const WorkerState& w, bool slots_only) const {
    const int prefetch = slots_only ? 0 : w.pace.Prefetch(w.slots, max_prefetch);
    return std::max(0, w.slots + prefetch - w.used_cores);
  }

  // Throws std::logic_error naming the first invariant that does not hold: each worker's
  // in_flight, used cores, memory and GPUs are those of the attempts in flight on it, no GPU is
  // taken twice, and no worker is given more memory than it has; an attempt in flight is on a
  // worker known; a task waits for at most one retry, and not while an attempt of it runs; the
  // history of an earlier run is kept only for tasks not yet handed out; and the TaskGraph's and
  // WorkerHealth's own invariants. O(state): for tests, after every step.
  void CheckInvariants() const;
};

}  // namespace jobrunner
