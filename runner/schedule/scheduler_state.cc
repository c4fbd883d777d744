#include "schedule/scheduler_state.h"

#include <unordered_set>

#include "schedule/invariant.h"

namespace jobrunner {

void SchedulerState::CheckInvariants() const {
  graph.CheckInvariants();
  std::map<int, WorkerHealth::Record> records;
  for (const auto& [id, w] : workers) records.emplace(id, w.health);
  health.CheckInvariants(records);

  // Each worker's load is the sum of what its attempts in flight take.
  struct Load {
    int in_flight = 0;
    int cores = 0;
    std::uint64_t memory = 0;
    std::vector<bool> gpus;
  };
  std::map<int, Load> loads;
  for (const auto& [id, w] : workers) {
    loads[id].gpus.assign(w.gpu_busy.size(), false);
    CheckInvariant(w.slots >= 1 && w.capacity.cores == w.slots,
                   "Scheduler: a worker has a slot at least, and as many cores as slots", "worker",
                   id);
    CheckInvariant(w.gpu_busy.size() == static_cast<std::size_t>(std::max(0, w.capacity.gpus)),
                   "Scheduler: a worker's GPU marks are one per GPU it has", "worker", id);
    CheckInvariant(w.pace.samples >= 0 && w.pace.samples <= std::max(0, max_prefetch),
                   "Scheduler: a worker's samples stay within the prefetch limit", "worker", id);
  }
  for (const auto& [index, task] : running) {
    const auto index_id = static_cast<std::int64_t>(index);
    CheckInvariant(index < graph.task_count(),
                   "Scheduler: an attempt in flight is of a task of the run", "task", index_id);
    auto load = loads.find(task.worker);
    CheckInvariant(load != loads.end(), "Scheduler: an attempt in flight is on a worker added",
                   "task", index_id);
    CheckInvariant(task.attempt >= 1 && task.failures >= 0 && task.cores >= 1,
                   "Scheduler: an attempt in flight has a number, a failure count and a core",
                   "task", index_id);
    Load& l = load->second;
    ++l.in_flight;
    l.cores += task.cores;
    l.memory += task.memory;
    for (int g : task.gpus) {
      CheckInvariant(g >= 0 && static_cast<std::size_t>(g) < l.gpus.size() &&
                         !l.gpus[static_cast<std::size_t>(g)],
                     "Scheduler: an attempt's GPUs are its worker's, and no other attempt's",
                     "task", index_id);
      l.gpus[static_cast<std::size_t>(g)] = true;
    }
  }
  for (const auto& [id, w] : workers) {
    const Load& l = loads.at(id);
    CheckInvariant(w.in_flight == l.in_flight,
                   "Scheduler: a worker's in_flight equals the attempts in flight on it", "worker",
                   id);
    CheckInvariant(w.used_cores == l.cores,
                   "Scheduler: a worker's used cores are the sum of its attempts' in flight",
                   "worker", id);
    CheckInvariant(w.used_memory == l.memory,
                   "Scheduler: a worker's used memory is the sum of its attempts' in flight",
                   "worker", id);
    CheckInvariant(w.gpu_busy == l.gpus,
                   "Scheduler: a worker's busy GPUs are those of its attempts in flight", "worker",
                   id);
    CheckInvariant(w.used_memory <= w.capacity.memory,
                   "Scheduler: a worker is given no more memory than it has", "worker", id);
  }

  std::unordered_set<std::uint64_t> retrying;
  for (const Retry& r : retries) {
    const auto index_id = static_cast<std::int64_t>(r.index);
    CheckInvariant(r.index < graph.task_count(), "Scheduler: a retry is of a task of the run",
                   "task", index_id);
    CheckInvariant(retrying.insert(r.index).second, "Scheduler: a task waits for one retry at most",
                   "task", index_id);
    CheckInvariant(running.count(r.index) == 0,
                   "Scheduler: a task waits for a retry only while no attempt of it is in flight",
                   "task", index_id);
    CheckInvariant(r.attempt >= 2 && r.failures >= 1 && workers.count(r.failed_on) == 1,
                   "Scheduler: a retry follows a failed attempt on a worker added", "task",
                   index_id);
  }
  for (const auto& [index, history] : prior) {
    const auto index_id = static_cast<std::int64_t>(index);
    CheckInvariant(running.count(index) == 0 && retrying.count(index) == 0,
                   "Scheduler: an earlier run's history is kept only for tasks not yet handed out",
                   "task", index_id);
  }
}

}  // namespace jobrunner
