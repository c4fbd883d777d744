#include "schedule/scheduler_state.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "schedule/invariant.h"

namespace jobrunner {

WorkerState& SchedulerState::AddWorker(int id) {
  if (static_cast<std::size_t>(id) >= workers.size()) {
    workers.resize(static_cast<std::size_t>(id) + 1);
  }
  WorkerState& w = Worker(id);
  if (!w.added) {
    w.added = true;
    worker_ids.insert(std::upper_bound(worker_ids.begin(), worker_ids.end(), id), id);
    health.Added();
    ++unblocked;  // a new record neither suspends nor retires it
  }
  return w;
}

void SchedulerState::UpdateRoom(int id) {
  if (health.AllSuspended() != all_suspended) {
    all_suspended = health.AllSuspended();
    for (int each : worker_ids) UpdateOne(each);
    return;
  }
  if (Has(id)) UpdateOne(id);
}

void SchedulerState::UpdateOne(int id) {
  WorkerState& w = Worker(id);
  const bool blocked = Blocked(w);
  if (blocked != w.blocked) {
    w.blocked = blocked;
    if (blocked) {
      --unblocked;
    } else {
      ++unblocked;
    }
  }
  const int queued_now = QueuedOn(w);
  queued = queued - static_cast<std::uint64_t>(w.queued) + static_cast<std::uint64_t>(queued_now);
  w.queued = queued_now;
  const bool free_slot = !blocked && w.used_cores < w.slots;
  with_free_slots.Set(id, free_slot);
  with_room.Set(id, free_slot || (!blocked && QueueRoom(w) > 0));
}

void SchedulerState::CheckInvariants() const {
  graph.CheckInvariants();
  std::map<int, WorkerHealth::Record> records;
  CheckInvariant(std::is_sorted(worker_ids.begin(), worker_ids.end()) &&
                     std::adjacent_find(worker_ids.begin(), worker_ids.end()) == worker_ids.end(),
                 "Scheduler: the workers added are listed once each, in order");
  for (int id : worker_ids) {
    CheckInvariant(Has(id), "Scheduler: a worker listed was added", "worker", id);
    records.emplace(id, Worker(id).health);
  }
  CheckInvariant(static_cast<std::size_t>(std::count_if(
                     workers.begin(), workers.end(),
                     [](const WorkerState& w) { return w.added; })) == worker_ids.size(),
                 "Scheduler: every worker added is listed");
  health.CheckInvariants(records);

  // What is kept of every worker's room is what its state says.
  std::size_t unblocked_found = 0;
  std::uint64_t slots_found = 0;
  std::uint64_t queued_found = 0;
  std::size_t with_free_slots_found = 0;
  std::size_t with_room_found = 0;
  for (int id : worker_ids) {
    const WorkerState& w = Worker(id);
    const bool blocked = Blocked(w);
    CheckInvariant(w.blocked == blocked, "Scheduler: a worker's blocked mark is its health's",
                   "worker", id);
    CheckInvariant(w.queued == QueuedOn(w),
                   "Scheduler: a worker's queue is what it was given beyond its slots", "worker",
                   id);
    const bool free_slot = !blocked && w.used_cores < w.slots;
    const bool room = free_slot || (!blocked && QueueRoom(w) > 0);
    CheckInvariant(with_free_slots.Contains(id) == free_slot,
                   "Scheduler: the workers with a free slot are those that may take work and have "
                   "one",
                   "worker", id);
    CheckInvariant(with_room.Contains(id) == room,
                   "Scheduler: the workers with room are those that may take work and have a free "
                   "slot or room in their queue",
                   "worker", id);
    unblocked_found += blocked ? 0 : 1;
    slots_found += static_cast<std::uint64_t>(w.slots);
    queued_found += static_cast<std::uint64_t>(QueuedOn(w));
    with_free_slots_found += free_slot ? 1 : 0;
    with_room_found += room ? 1 : 0;
  }
  CheckInvariant(
      with_free_slots.size() == with_free_slots_found && with_room.size() == with_room_found,
      "Scheduler: the sets of workers with room hold workers added only");
  CheckInvariant(unblocked == unblocked_found,
                 "Scheduler: the count of workers that may take work is right");
  CheckInvariant(slots == slots_found, "Scheduler: the slot count is that of the workers added");
  CheckInvariant(queued == queued_found,
                 "Scheduler: the count of tasks queued is the sum of the workers' queues");
  CheckInvariant(queued <= QueueLimit(),
                 "Scheduler: no more tasks are queued beyond the slots than the limit allows");
  CheckInvariant(all_suspended == health.AllSuspended(),
                 "Scheduler: whether every worker is suspended is known");

  // Each worker's load is the sum of what its attempts in flight take.
  struct Load {
    int in_flight = 0;
    int cores = 0;
    std::uint64_t memory = 0;
    std::vector<bool> gpus;
  };
  std::map<int, Load> loads;
  for (int id : worker_ids) {
    const WorkerState& w = Worker(id);
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
  for (int id : worker_ids) {
    const WorkerState& w = Worker(id);
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
  retries.ForEach([&](const Retry& r) {
    const auto index_id = static_cast<std::int64_t>(r.index);
    CheckInvariant(r.index < graph.task_count(), "Scheduler: a retry is of a task of the run",
                   "task", index_id);
    CheckInvariant(retrying.insert(r.index).second, "Scheduler: a task waits for one retry at most",
                   "task", index_id);
    CheckInvariant(running.count(r.index) == 0,
                   "Scheduler: a task waits for a retry only while no attempt of it is in flight",
                   "task", index_id);
    CheckInvariant(r.attempt >= 2 && r.failures >= 1 && Has(r.failed_on),
                   "Scheduler: a retry follows a failed attempt on a worker added", "task",
                   index_id);
  });
  for (const auto& [index, history] : prior) {
    const auto index_id = static_cast<std::int64_t>(index);
    CheckInvariant(running.count(index) == 0 && retrying.count(index) == 0,
                   "Scheduler: an earlier run's history is kept only for tasks not yet handed out",
                   "task", index_id);
  }
}

}  // namespace jobrunner
