#include "schedule/placement.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "schedule/invariant.h"

namespace jobrunner {
namespace {
// What a task of a manifest without resource fields asks for.
const ResourceNeeds& Nothing() {
  static const ResourceNeeds kNothing;
  return kNothing;
}
}  // namespace

void Placement::SetNeeds(std::vector<ResourceNeeds> needs, std::size_t group_count) {
  const bool any =
      std::any_of(needs.begin(), needs.end(), [](const ResourceNeeds& n) { return !n.Default(); });
  needs_.clear();
  if (!any) return;  // every task takes one slot: the plain path, with no per-task lookups
  needs_ = std::move(needs);
  needs_.resize(std::max(needs_.size(), group_count));
}

const ResourceNeeds& Placement::NeedsOf(std::size_t group) const {
  return group < needs_.size() ? needs_[group] : Nothing();
}

std::optional<std::size_t> Placement::GroupFittingNowhere(const SchedulerState& state) const {
  for (std::size_t g = 0; g < needs_.size(); ++g) {
    if (needs_[g].Default()) continue;
    const bool fits = state.AnyWorker(
        [&](int, const WorkerState& w) { return CouldHold(w.capacity, needs_[g]); });
    if (!fits) return g;
  }
  return std::nullopt;
}

bool Placement::OthersCouldTakeOver(const SchedulerState& state, int id) const {
  const WorkerCapacity& leaving = state.Worker(id).capacity;
  for (const ResourceNeeds& needs : needs_) {
    if (!CouldHold(leaving, needs)) continue;
    const bool other = state.AnyWorker([&](int other_id, const WorkerState& w) {
      return other_id != id && !w.health.retired && CouldHold(w.capacity, needs);
    });
    if (!other) return false;
  }
  return true;
}

void Placement::FindGroupsForSuspended(const SchedulerState& state) {
  for_suspended_.assign(needs_.size(), false);
  if (state.health.Suspended() == 0) return;
  for (std::size_t g = 0; g < needs_.size(); ++g) {
    for_suspended_[g] = !state.AnyWorker([&](int, const WorkerState& w) {
      return !state.Blocked(w) && CouldHold(w.capacity, needs_[g]);
    });
  }
}

bool Placement::BlockedFor(const SchedulerState& state, const WorkerState& w,
                           std::size_t group) const {
  return state.Blocked(w) && (w.health.retired || !for_suspended_[group]);
}

bool Placement::FitsNow(const SchedulerState& state, const WorkerState& w, const Hold& hold,
                        bool slots_only) const {
  if (BlockedFor(state, w, hold.group)) return false;
  const ResourceNeeds& needs = NeedsOf(hold.group);
  const bool reserved = w.reserved_for != WorkerState::kNoTask && w.reserved_for != hold.index;
  if (needs.Plain() && !reserved) return state.RoomIgnoringHealth(w, slots_only) > 0;
  const ResourceNeeds& aside = reserved ? NeedsOf(w.reserved_group) : Nothing();
  const int aside_cores = reserved ? aside.Cores() : 0;
  if (w.used_cores + aside_cores + needs.Cores() > w.slots) return false;
  if (needs.memory > 0 && w.used_memory + aside.memory + needs.memory > w.capacity.memory) {
    return false;
  }
  if (needs.gpus == 0) return true;
  const auto free = std::count(w.gpu_busy.begin(), w.gpu_busy.end(), false);
  return free >= aside.gpus + needs.gpus;
}

bool Placement::RoomForFresh(const SchedulerState& state, const WorkerState& w,
                             bool slots_only) const {
  if (w.reserved_for == WorkerState::kNoTask) return state.Room(w, slots_only) > 0;
  return !slots_only
             ? false
             : !state.Blocked(w) && w.used_cores + NeedsOf(w.reserved_group).Cores() < w.slots;
}

bool Placement::OtherWorkerCouldHold(const SchedulerState& state, const Hold& hold) const {
  const ResourceNeeds& needs = NeedsOf(hold.group);
  return state.AnyWorker([&](int id, const WorkerState& w) {
    return id != hold.failed_on && !BlockedFor(state, w, hold.group) &&
           CouldHold(w.capacity, needs);
  });
}

bool Placement::MayTake(const SchedulerState& state, int id, const WorkerState& w,
                        const Hold& hold) const {
  if (w.health.retired) return false;
  if (!CouldHold(w.capacity, NeedsOf(hold.group))) return false;
  // A retry goes to another worker than the one it failed on, as long as another could run it.
  return id != hold.failed_on || !OtherWorkerCouldHold(state, hold);
}

int Placement::FindPlace(const SchedulerState& state, const Hold& hold, bool slots_only) const {
  for (int id : state.worker_ids) {
    const WorkerState& w = state.Worker(id);
    if (MayTake(state, id, w, hold) && FitsNow(state, w, hold, slots_only)) return id;
  }
  return -1;
}

void Placement::Reserve(SchedulerState& state, Hold& hold) {
  int chosen = -1;
  int most_free = -1;
  for (int id : state.worker_ids) {
    const WorkerState& w = state.Worker(id);
    if (w.reserved_for != WorkerState::kNoTask || BlockedFor(state, w, hold.group) ||
        !MayTake(state, id, w, hold)) {
      continue;
    }
    if (w.slots - w.used_cores > most_free) {
      most_free = w.slots - w.used_cores;
      chosen = id;
    }
  }
  hold.reserved = chosen;
  if (chosen < 0) return;
  state.Worker(chosen).reserved_for = hold.index;
  state.Worker(chosen).reserved_group = hold.group;
}

void Placement::ReleaseReservation(SchedulerState& state, int worker) {
  if (!state.Has(worker) || state.Worker(worker).reserved_for == WorkerState::kNoTask) return;
  state.Worker(worker).reserved_for = WorkerState::kNoTask;
  for (Hold& hold : held_) {
    if (hold.reserved == worker) hold.reserved = -1;
  }
}

void Placement::GiveHold(SchedulerState& state, int worker, const Hold& hold,
                         std::vector<Assignment>& out) {
  if (hold.reserved >= 0 && state.Worker(hold.reserved).reserved_for == hold.index) {
    state.Worker(hold.reserved).reserved_for = WorkerState::kNoTask;
  }
  const ResourceNeeds& needs = NeedsOf(hold.group);
  WorkerState& w = state.Worker(worker);
  InFlight task{worker, hold.attempt, hold.failures, hold.failed_on, needs.Cores(), needs.memory,
                {}};
  for (std::size_t g = 0; g < w.gpu_busy.size() && task.gpus.size() < std::size_t(needs.gpus);
       ++g) {
    if (w.gpu_busy[g]) continue;
    w.gpu_busy[g] = true;
    task.gpus.push_back(static_cast<int>(g));
  }
  w.in_flight++;
  w.used_cores += task.cores;
  w.used_memory += task.memory;
  out.push_back(Assignment{worker, hold.index, hold.attempt, task.gpus});
  state.running_nodes(state.running, hold.index) = std::move(task);
  state.UpdateRoom(worker);
}

void Placement::PlaceOrHold(SchedulerState& state, Hold hold, bool slots_only,
                            std::vector<Assignment>& out) {
  const int worker = FindPlace(state, hold, slots_only);
  if (worker >= 0) {
    GiveHold(state, worker, hold, out);
    return;
  }
  Reserve(state, hold);
  held_.push_back(hold);
}

void Placement::PlaceHeld(SchedulerState& state, bool slots_only, std::vector<Assignment>& out) {
  // A first attempt with no reservation can go only where an earlier task of its group (same
  // needs) could have gone: once one found neither a place nor a worker to reserve, the others
  // of its group need not be tried this round.
  std::vector<bool> stuck(needs_.size(), false);
  for (auto it = held_.begin(); it != held_.end();) {
    Hold& hold = *it;
    if (hold.reserved < 0 && hold.failed_on < 0 && stuck[hold.group]) {
      ++it;
      continue;
    }
    const int worker = FindPlace(state, hold, slots_only);
    if (worker >= 0) {
      GiveHold(state, worker, hold, out);
      it = held_.erase(it);
      continue;
    }
    if (hold.reserved < 0) Reserve(state, hold);
    if (hold.reserved < 0 && hold.failed_on < 0) stuck[hold.group] = true;
    ++it;
  }
}

void Placement::PullFresh(SchedulerState& state, bool slots_only, std::vector<Assignment>& out) {
  // Fresh tasks are taken only while some worker has room, each placed where it fits (first fit,
  // in rank order) or held.
  for (int id : state.worker_ids) {
    while (held_.size() < kMaxHeld && RoomForFresh(state, state.Worker(id), slots_only)) {
      const std::optional<std::uint64_t> next = state.graph.Next();
      if (!next) return;
      Hold hold;
      hold.index = *next;
      hold.group = static_cast<std::size_t>(state.graph.GroupOf(*next));
      auto prior = state.prior.find(*next);
      if (prior != state.prior.end()) {
        hold.attempt = prior->second.last_attempt + 1;
        hold.failures = prior->second.failures;
        state.prior.erase(prior);
      }
      PlaceOrHold(state, hold, slots_only, out);
    }
  }
}

void Placement::Assign(SchedulerState& state, std::int64_t now_ms, std::vector<Assignment>& out) {
  FindGroupsForSuspended(state);
  // Due retries first, as on the plain path; each is placed or held.
  for (const Retry& r : state.retries.TakeDue(now_ms)) {
    Hold hold;
    hold.index = r.index;
    hold.attempt = r.attempt;
    hold.failures = r.failures;
    hold.failed_on = r.failed_on;
    hold.group = static_cast<std::size_t>(state.graph.GroupOf(r.index));
    PlaceOrHold(state, hold, /*slots_only=*/true, out);
  }
  for (bool slots_only : {true, false}) {
    PlaceHeld(state, slots_only, out);
    PullFresh(state, slots_only, out);
  }
}

void Placement::CheckInvariants(const SchedulerState& state) const {
  if (!Active()) {
    CheckInvariant(held_.empty(), "Placement: off the resource path nothing is held");
  }
  for (const auto& [index, task] : state.running) {
    const ResourceNeeds& needs = NeedsOf(state.graph.GroupOf(index));
    CheckInvariant(task.cores == needs.Cores() && task.memory == needs.memory &&
                       task.gpus.size() == static_cast<std::size_t>(needs.gpus),
                   "Placement: an attempt in flight takes what its group asks for", "task",
                   static_cast<std::int64_t>(index));
  }
  std::unordered_set<std::uint64_t> retrying;
  state.retries.ForEach([&](const Retry& r) { retrying.insert(r.index); });
  std::unordered_set<std::uint64_t> held;
  std::size_t reserving = 0;
  for (const Hold& hold : held_) {
    const auto index_id = static_cast<std::int64_t>(hold.index);
    CheckInvariant(
        hold.index < state.graph.task_count() && hold.group == state.graph.GroupOf(hold.index),
        "Placement: a held task is of the run, with its group", "task", index_id);
    CheckInvariant(held.insert(hold.index).second, "Placement: a task is held once", "task",
                   index_id);
    CheckInvariant(state.running.count(hold.index) == 0 && retrying.count(hold.index) == 0,
                   "Placement: a held task is neither in flight nor waiting for a retry", "task",
                   index_id);
    CheckInvariant(hold.attempt >= 1 && hold.failures >= 0,
                   "Placement: a held task has an attempt number and a failure count", "task",
                   index_id);
    if (hold.reserved < 0) continue;
    ++reserving;
    CheckInvariant(
        state.Has(hold.reserved) && state.Worker(hold.reserved).reserved_for == hold.index &&
            state.Worker(hold.reserved).reserved_group == hold.group,
        "Placement: the worker a held task reserved is reserved for it", "task", index_id);
  }
  std::size_t reserved = 0;
  for (int id : state.worker_ids) {
    const WorkerState& w = state.Worker(id);
    if (w.reserved_for == WorkerState::kNoTask) continue;
    ++reserved;
    CheckInvariant(held.count(w.reserved_for) == 1,
                   "Placement: a worker is reserved only for a task held", "worker", id);
    CheckInvariant(!w.health.retired, "Placement: a retired worker is reserved for nothing",
                   "worker", id);
  }
  CheckInvariant(reserved == reserving,
                 "Placement: each reservation is that of one held task, on one worker");
}

}  // namespace jobrunner
