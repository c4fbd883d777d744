#include "schedule/scheduler.h"

#include <algorithm>
#include <cmath>

namespace jobrunner {
namespace {
// Weight of the newest duration in a worker's running mean: recent tasks say more about the
// next ones than old tasks do, without one outlier swinging the prefetch.
constexpr double kDurationWeight = 0.2;
// Durations below this are measured as this: sub-millisecond tasks all need the maximum prefetch.
constexpr double kMinDurationMs = 0.01;
}  // namespace

Scheduler::Scheduler(std::uint64_t task_count, Options options)
    : Scheduler(TaskGraph(task_count), options) {}

Scheduler::Scheduler(TaskGraph graph, Options options)
    : task_count_(graph.task_count()),
      options_(options),
      graph_(std::move(graph)),
      health_(options.max_worker_failures) {}

void Scheduler::Resume(ResumePoint point) {
  point.settled.resize(task_count_, false);
  settled_count_ =
      static_cast<std::uint64_t>(std::count(point.settled.begin(), point.settled.end(), true));
  prior_ = std::move(point.history);
  graph_.Resume(std::move(point.settled), std::move(point.failed));
  CollectSkipped();
  room_may_have_changed_ = true;
}

void Scheduler::CollectSkipped() {
  std::vector<TaskGraph::Skip> skipped = graph_.TakeSkipped();
  finals_[static_cast<int>(Outcome::kSkipped)] += skipped.size();
  skipped_.insert(skipped_.end(), skipped.begin(), skipped.end());
}

void Scheduler::SetNeeds(std::vector<ResourceNeeds> needs) {
  const bool any =
      std::any_of(needs.begin(), needs.end(), [](const ResourceNeeds& n) { return !n.Default(); });
  needs_.clear();
  room_may_have_changed_ = true;
  if (!any) return;  // every task takes one slot: the plain path, with no per-task lookups
  needs_ = std::move(needs);
  needs_.resize(std::max<std::size_t>(needs_.size(), graph_.group_count()));
}

const ResourceNeeds& Scheduler::NeedsOf(std::size_t group) const {
  static const ResourceNeeds kNothing;
  return group < needs_.size() ? needs_[group] : kNothing;
}

void Scheduler::AddWorker(int worker, int slots) {
  WorkerCapacity capacity;
  capacity.cores = slots;
  AddWorker(worker, capacity);
}

void Scheduler::AddWorker(int worker, const WorkerCapacity& capacity) {
  auto [entry, added] = workers_.try_emplace(worker);
  if (added) health_.Added();
  Worker& w = entry->second;
  w.slots = std::max(1, capacity.cores);
  w.capacity = capacity;
  w.capacity.cores = w.slots;
  w.gpu_busy.assign(static_cast<std::size_t>(std::max(0, capacity.gpus)), false);
  room_may_have_changed_ = true;
}

std::optional<std::size_t> Scheduler::GroupFittingNowhere() const {
  for (std::size_t g = 0; g < needs_.size(); ++g) {
    if (needs_[g].Default()) continue;
    const bool fits = std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
      return CouldHold(w.second.capacity, needs_[g]);
    });
    if (!fits) return g;
  }
  return std::nullopt;
}

std::vector<WorkerCapacity> Scheduler::Capacities() const {
  std::vector<WorkerCapacity> out;
  for (const auto& [id, w] : workers_) out.push_back(w.capacity);
  return out;
}

int Scheduler::Room(const Worker& w, bool slots_only) const {
  if (Blocked(w)) return 0;
  int prefetch = 0;
  // Judged by the longer of the running mean and the latest task, so that one long task stops
  // the queueing at once; and never deeper than the results seen so far, so that one quick first
  // task cannot earn a worker a queue of long ones (queued tasks are never handed back).
  double per_task = std::max(w.mean_duration_ms, w.last_duration_ms);
  if (!slots_only && w.samples > 0 && per_task < kNoPrefetchAboveMs) {
    double wanted = std::ceil(w.slots * kQueueTargetMs / std::max(per_task, kMinDurationMs));
    prefetch = static_cast<int>(std::min<double>(
        {wanted, static_cast<double>(options_.max_prefetch), static_cast<double>(w.samples)}));
  }
  return std::max(0, w.slots + prefetch - w.used_cores);
}

void Scheduler::Give(int worker, std::uint64_t index, int attempt, int failures, int failed_on,
                     std::vector<Assignment>& out) {
  Worker& w = workers_[worker];
  w.in_flight++;
  w.used_cores++;
  running_[index] = InFlight{worker, attempt, failures, failed_on, 1, 0, {}};
  out.push_back(Assignment{worker, index, attempt, {}});
}

void Scheduler::GiveRetries(std::int64_t now_ms, bool slots_only, std::vector<Assignment>& out) {
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->due_ms > now_ms) {
      ++it;
      continue;
    }
    // Another worker than the one that failed, when one has room; the same one only when no
    // other worker is in rotation.
    int chosen = -1;
    int others = 0;
    for (auto& [id, w] : workers_) {
      if (id == it->failed_on || w.health.retired) continue;
      ++others;
      if (Room(w, slots_only) > 0) {
        chosen = id;
        break;  // the first with room; `others` only has to say whether there is any
      }
    }
    auto same = workers_.find(it->failed_on);
    if (chosen < 0 && others == 0 && same != workers_.end() && Room(same->second, slots_only) > 0) {
      chosen = it->failed_on;
    }
    if (chosen < 0) {
      ++it;
      continue;
    }
    Give(chosen, it->index, it->attempt, it->failures, it->failed_on, out);
    it = retries_.erase(it);
  }
}

void Scheduler::GiveFresh(bool slots_only, std::vector<Assignment>& out) {
  if (graph_.Exhausted()) return;  // every worker would be visited for nothing
  for (auto& [id, w] : workers_) {
    for (int room = Room(w, slots_only); room > 0; --room) {
      const std::optional<std::uint64_t> next = graph_.Next();
      if (!next) return;
      const std::uint64_t index = *next;
      auto prior = prior_.find(index);
      if (prior == prior_.end()) {
        Give(id, index, 1, 0, -1, out);
      } else {
        Give(id, index, prior->second.last_attempt + 1, prior->second.failures, -1, out);
        prior_.erase(prior);
      }
    }
  }
}

std::vector<Scheduler::Assignment> Scheduler::Assign(std::int64_t now_ms) {
  std::vector<Assignment> out;
  if (!room_may_have_changed_ && retries_.empty()) return out;
  room_may_have_changed_ = false;
  if (!needs_.empty()) return AssignWithNeeds(now_ms);
  for (bool slots_only : {true, false}) {
    GiveRetries(now_ms, slots_only, out);
    GiveFresh(slots_only, out);
  }
  return out;
}

Scheduler::Verdict Scheduler::OnResult(const AttemptEnded& ended, std::int64_t now_ms) {
  const int worker = ended.worker;
  const std::uint64_t index = ended.index;
  const int attempt = ended.attempt;
  const Outcome outcome = ended.outcome;
  auto it = running_.find(index);
  if (it == running_.end() || it->second.worker != worker || it->second.attempt != attempt) {
    return Verdict::kIgnored;
  }
  room_may_have_changed_ = true;
  InFlight task = std::move(it->second);
  running_.erase(it);
  Worker& w = workers_[worker];
  w.in_flight--;
  w.used_cores -= task.cores;
  w.used_memory -= task.memory;
  for (int g : task.gpus) w.gpu_busy[static_cast<std::size_t>(g)] = false;
  if (outcome == Outcome::kInterrupted) {
    interrupted_++;
    return Verdict::kInterrupted;
  }
  double d = std::max(ended.duration_ms, kMinDurationMs);
  w.mean_duration_ms =
      w.samples == 0 ? d : (1 - kDurationWeight) * w.mean_duration_ms + kDurationWeight * d;
  w.last_duration_ms = d;
  w.samples = std::min(w.samples + 1, options_.max_prefetch);

  auto earlier = task.failed_on >= 0 && task.failed_on != worker ? workers_.find(task.failed_on)
                                                                 : workers_.end();
  if (outcome == Outcome::kSucceeded) {
    health_.Succeeded(w.health);
    if (earlier != workers_.end() &&
        health_.FixedElsewhere(task.failed_on, earlier->second.health)) {
      ReleaseReservation(task.failed_on);
    }
    finals_[static_cast<int>(outcome)]++;
    graph_.OnSucceeded(index);
    return Verdict::kFinal;
  }
  health_.Failed(w.health, earlier != workers_.end() ? &earlier->second.health : nullptr);
  int failures = task.failures + 1;
  std::optional<std::int64_t> delay =
      options_.retry.RetryDelayMs(outcome, failures, ended.retries_allowed);
  if (!delay) {
    finals_[static_cast<int>(outcome)]++;
    graph_.OnFailed(index);
    CollectSkipped();
    return Verdict::kFinal;
  }
  retries_.push_back(Retry{index, attempt + 1, failures, now_ms + *delay, worker});
  retried_++;
  return Verdict::kRetrying;
}

bool Scheduler::Finished() const {
  return graph_.Exhausted() && running_.empty() && retries_.empty() && held_.empty();
}

// ---- Resources --------------------------------------------------------------------------------

bool Scheduler::FitsNow(const Worker& w, const Hold& hold, bool slots_only) const {
  const ResourceNeeds& needs = NeedsOf(hold.group);
  const bool reserved = w.reserved_for != kNoTask && w.reserved_for != hold.index;
  if (needs.Plain() && !reserved) return Room(w, slots_only) > 0;
  if (Blocked(w)) return false;
  static const ResourceNeeds kNothing;
  const ResourceNeeds& aside = reserved ? NeedsOf(w.reserved_group) : kNothing;
  const int aside_cores = reserved ? aside.Cores() : 0;
  if (w.used_cores + aside_cores + needs.Cores() > w.slots) return false;
  if (needs.memory > 0 && w.used_memory + aside.memory + needs.memory > w.capacity.memory) {
    return false;
  }
  if (needs.gpus == 0) return true;
  const auto free = std::count(w.gpu_busy.begin(), w.gpu_busy.end(), false);
  return free >= aside.gpus + needs.gpus;
}

bool Scheduler::RoomForFresh(const Worker& w, bool slots_only) const {
  if (w.reserved_for == kNoTask) return Room(w, slots_only) > 0;
  return !slots_only ? false
                     : !Blocked(w) && w.used_cores + NeedsOf(w.reserved_group).Cores() < w.slots;
}

bool Scheduler::OtherWorkerCouldHold(const Hold& hold) const {
  const ResourceNeeds& needs = NeedsOf(hold.group);
  return std::any_of(workers_.begin(), workers_.end(), [&](const auto& entry) {
    return entry.first != hold.failed_on && !entry.second.health.retired &&
           CouldHold(entry.second.capacity, needs);
  });
}

bool Scheduler::MayTake(int id, const Worker& w, const Hold& hold) const {
  if (w.health.retired) return false;
  if (!CouldHold(w.capacity, NeedsOf(hold.group))) return false;
  // A retry goes to another worker than the one it failed on, as long as another could run it.
  return id != hold.failed_on || !OtherWorkerCouldHold(hold);
}

int Scheduler::FindPlace(const Hold& hold, bool slots_only) const {
  for (const auto& [id, w] : workers_) {
    if (MayTake(id, w, hold) && FitsNow(w, hold, slots_only)) return id;
  }
  return -1;
}

void Scheduler::Reserve(Hold& hold) {
  int chosen = -1;
  int most_free = -1;
  for (const auto& [id, w] : workers_) {
    if (w.reserved_for != kNoTask || Blocked(w) || !MayTake(id, w, hold)) continue;
    if (w.slots - w.used_cores > most_free) {
      most_free = w.slots - w.used_cores;
      chosen = id;
    }
  }
  hold.reserved = chosen;
  if (chosen < 0) return;
  workers_[chosen].reserved_for = hold.index;
  workers_[chosen].reserved_group = hold.group;
}

void Scheduler::ReleaseReservation(int worker) {
  auto it = workers_.find(worker);
  if (it == workers_.end() || it->second.reserved_for == kNoTask) return;
  it->second.reserved_for = kNoTask;
  for (Hold& hold : held_) {
    if (hold.reserved == worker) hold.reserved = -1;
  }
}

void Scheduler::GiveHold(int worker, const Hold& hold, std::vector<Assignment>& out) {
  if (hold.reserved >= 0 && workers_[hold.reserved].reserved_for == hold.index) {
    workers_[hold.reserved].reserved_for = kNoTask;
  }
  const ResourceNeeds& needs = NeedsOf(hold.group);
  Worker& w = workers_[worker];
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
  running_[hold.index] = std::move(task);
}

void Scheduler::PlaceOrHold(Hold hold, bool slots_only, std::vector<Assignment>& out) {
  const int worker = FindPlace(hold, slots_only);
  if (worker >= 0) {
    GiveHold(worker, hold, out);
    return;
  }
  Reserve(hold);
  held_.push_back(hold);
}

void Scheduler::PlaceHeld(bool slots_only, std::vector<Assignment>& out) {
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
    const int worker = FindPlace(hold, slots_only);
    if (worker >= 0) {
      GiveHold(worker, hold, out);
      it = held_.erase(it);
      continue;
    }
    if (hold.reserved < 0) Reserve(hold);
    if (hold.reserved < 0 && hold.failed_on < 0) stuck[hold.group] = true;
    ++it;
  }
}

void Scheduler::PullFresh(bool slots_only, std::vector<Assignment>& out) {
  // Fresh tasks are taken only while some worker has room, each placed where it fits (first fit,
  // in rank order) or held.
  for (auto& [id, w] : workers_) {
    while (held_.size() < kMaxHeld && RoomForFresh(w, slots_only)) {
      const std::optional<std::uint64_t> next = graph_.Next();
      if (!next) return;
      Hold hold;
      hold.index = *next;
      hold.group = static_cast<std::size_t>(graph_.GroupOf(*next));
      auto prior = prior_.find(*next);
      if (prior != prior_.end()) {
        hold.attempt = prior->second.last_attempt + 1;
        hold.failures = prior->second.failures;
        prior_.erase(prior);
      }
      PlaceOrHold(hold, slots_only, out);
    }
  }
}

std::vector<Scheduler::Assignment> Scheduler::AssignWithNeeds(std::int64_t now_ms) {
  std::vector<Assignment> out;
  // Due retries first, as on the plain path.
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->due_ms > now_ms) {
      ++it;
      continue;
    }
    Hold hold;
    hold.index = it->index;
    hold.attempt = it->attempt;
    hold.failures = it->failures;
    hold.failed_on = it->failed_on;
    hold.group = static_cast<std::size_t>(graph_.GroupOf(it->index));
    it = retries_.erase(it);
    PlaceOrHold(hold, /*slots_only=*/true, out);
  }
  for (bool slots_only : {true, false}) {
    PlaceHeld(slots_only, out);
    PullFresh(slots_only, out);
  }
  return out;
}

std::uint64_t Scheduler::FinalTotal() const {
  std::uint64_t total = 0;
  for (std::uint64_t n : finals_) total += n;
  return total;
}

std::optional<std::int64_t> Scheduler::NextRetryAt() const {
  std::optional<std::int64_t> next;
  for (const Retry& r : retries_) {
    if (!next || r.due_ms < *next) next = r.due_ms;
  }
  return next;
}

}  // namespace jobrunner
