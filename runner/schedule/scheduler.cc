#include "schedule/scheduler.h"

#include <algorithm>

#include "schedule/invariant.h"

namespace jobrunner {

Scheduler::Scheduler(std::uint64_t task_count, Options options)
    : Scheduler(TaskGraph(task_count), options) {}

Scheduler::Scheduler(TaskGraph graph, Options options)
    : task_count_(graph.task_count()),
      retry_(options.retry),
      state_(std::move(graph), options.max_prefetch, options.max_worker_failures) {}

void Scheduler::Resume(ResumePoint point) {
  point.settled.resize(task_count_, false);
  settled_count_ =
      static_cast<std::uint64_t>(std::count(point.settled.begin(), point.settled.end(), true));
  state_.prior = std::move(point.history);
  state_.graph.Resume(std::move(point.settled), std::move(point.failed));
  CollectSkipped();
  room_may_have_changed_ = true;
}

void Scheduler::CollectSkipped() {
  std::vector<TaskGraph::Skip> skipped = state_.graph.TakeSkipped();
  finals_[static_cast<int>(Outcome::kSkipped)] += skipped.size();
  skipped_.insert(skipped_.end(), skipped.begin(), skipped.end());
}

void Scheduler::SetNeeds(std::vector<ResourceNeeds> needs) {
  placement_.SetNeeds(std::move(needs), state_.graph.group_count());
  room_may_have_changed_ = true;
}

const ResourceNeeds& Scheduler::NeedsOf(std::size_t group) const {
  return placement_.NeedsOf(group);
}

void Scheduler::AddWorker(int worker, int slots) {
  WorkerCapacity capacity;
  capacity.cores = slots;
  AddWorker(worker, capacity);
}

void Scheduler::AddWorker(int worker, const WorkerCapacity& capacity) {
  auto [entry, added] = state_.workers.try_emplace(worker);
  if (added) state_.health.Added();
  WorkerState& w = entry->second;
  w.slots = std::max(1, capacity.cores);
  w.capacity = capacity;
  w.capacity.cores = w.slots;
  w.gpu_busy.assign(static_cast<std::size_t>(std::max(0, capacity.gpus)), false);
  room_may_have_changed_ = true;
}

std::optional<std::size_t> Scheduler::GroupFittingNowhere() const {
  return placement_.GroupFittingNowhere(state_);
}

std::vector<WorkerCapacity> Scheduler::Capacities() const {
  std::vector<WorkerCapacity> out;
  for (const auto& [id, w] : state_.workers) out.push_back(w.capacity);
  return out;
}

void Scheduler::Give(int worker, std::uint64_t index, int attempt, int failures, int failed_on,
                     std::vector<Assignment>& out) {
  WorkerState& w = state_.workers[worker];
  w.in_flight++;
  w.used_cores++;
  state_.running[index] = InFlight{worker, attempt, failures, failed_on, 1, 0, {}};
  out.push_back(Assignment{worker, index, attempt, {}});
}

void Scheduler::GiveRetries(std::int64_t now_ms, bool slots_only, std::vector<Assignment>& out) {
  for (auto it = state_.retries.begin(); it != state_.retries.end();) {
    if (it->due_ms > now_ms) {
      ++it;
      continue;
    }
    // Another worker than the one that failed, when one has room; the same one only when no
    // other worker may take work (in rotation and not suspended): a suspended worker may never
    // be given work again.
    int chosen = -1;
    int others = 0;
    for (auto& [id, w] : state_.workers) {
      if (id == it->failed_on || state_.Blocked(w)) continue;
      ++others;
      if (state_.Room(w, slots_only) > 0) {
        chosen = id;
        break;  // the first with room; `others` only has to say whether there is any
      }
    }
    auto same = state_.workers.find(it->failed_on);
    if (chosen < 0 && others == 0 && same != state_.workers.end() &&
        state_.Room(same->second, slots_only) > 0) {
      chosen = it->failed_on;
    }
    if (chosen < 0) {
      ++it;
      continue;
    }
    Give(chosen, it->index, it->attempt, it->failures, it->failed_on, out);
    it = state_.retries.erase(it);
  }
}

void Scheduler::GiveFresh(bool slots_only, std::vector<Assignment>& out) {
  if (state_.graph.Exhausted()) return;  // every worker would be visited for nothing
  for (auto& [id, w] : state_.workers) {
    for (int room = state_.Room(w, slots_only); room > 0; --room) {
      const std::optional<std::uint64_t> next = state_.graph.Next();
      if (!next) return;
      const std::uint64_t index = *next;
      auto prior = state_.prior.find(index);
      if (prior == state_.prior.end()) {
        Give(id, index, 1, 0, -1, out);
      } else {
        Give(id, index, prior->second.last_attempt + 1, prior->second.failures, -1, out);
        state_.prior.erase(prior);
      }
    }
  }
}

std::vector<Scheduler::Assignment> Scheduler::Assign(std::int64_t now_ms) {
  std::vector<Assignment> out;
  if (!room_may_have_changed_ && state_.retries.empty()) return out;
  room_may_have_changed_ = false;
  if (placement_.Active()) {
    placement_.Assign(state_, now_ms, out);
    return out;
  }
  for (bool slots_only : {true, false}) {
    GiveRetries(now_ms, slots_only, out);
    GiveFresh(slots_only, out);
  }
  return out;
}

Scheduler::Verdict Scheduler::OnResult(const AttemptEnded& ended, std::int64_t now_ms) {
  auto it = state_.running.find(ended.index);
  if (it == state_.running.end() || it->second.worker != ended.worker ||
      it->second.attempt != ended.attempt) {
    return Verdict::kIgnored;
  }
  room_may_have_changed_ = true;
  InFlight task = std::move(it->second);
  state_.running.erase(it);
  WorkerState& w = state_.workers[ended.worker];
  w.in_flight--;
  w.used_cores -= task.cores;
  w.used_memory -= task.memory;
  for (int g : task.gpus) w.gpu_busy[static_cast<std::size_t>(g)] = false;
  if (ended.outcome == Outcome::kInterrupted) {
    interrupted_++;
    return Verdict::kInterrupted;
  }
  w.pace.Record(ended.duration_ms, state_.max_prefetch);

  // The worker the task failed on before, when another: this attempt says something about it.
  auto earlier = task.failed_on >= 0 && task.failed_on != ended.worker
                     ? state_.workers.find(task.failed_on)
                     : state_.workers.end();
  if (ended.outcome == Outcome::kSucceeded) {
    state_.health.Succeeded(w.health);
    // A worker that is the only one able to run some tasks stays, whatever its record: without
    // it they would wait for ever.
    if (earlier != state_.workers.end() && state_.health.FixedElsewhere(earlier->second.health) &&
        placement_.OthersCouldTakeOver(state_, task.failed_on)) {
      state_.health.Retire(task.failed_on, earlier->second.health);
      placement_.ReleaseReservation(state_, task.failed_on);
    }
    finals_[static_cast<int>(ended.outcome)]++;
    state_.graph.OnSucceeded(ended.index);
    return Verdict::kFinal;
  }
  state_.health.Failed(w.health,
                       earlier != state_.workers.end() ? &earlier->second.health : nullptr);
  const int failures = task.failures + 1;
  const std::optional<std::int64_t> delay =
      retry_.RetryDelayMs(ended.outcome, failures, ended.retries_allowed);
  if (!delay) {
    finals_[static_cast<int>(ended.outcome)]++;
    state_.graph.OnFailed(ended.index);
    CollectSkipped();
    return Verdict::kFinal;
  }
  state_.retries.push_back(
      Retry{ended.index, ended.attempt + 1, failures, now_ms + *delay, ended.worker});
  retried_++;
  return Verdict::kRetrying;
}

bool Scheduler::Finished() const {
  return state_.graph.Exhausted() && state_.running.empty() && state_.retries.empty() &&
         placement_.Held() == 0;
}

std::uint64_t Scheduler::FinalTotal() const {
  std::uint64_t total = 0;
  for (std::uint64_t n : finals_) total += n;
  return total;
}

std::optional<std::int64_t> Scheduler::NextRetryAt() const {
  std::optional<std::int64_t> next;
  for (const Retry& r : state_.retries) {
    if (!next || r.due_ms < *next) next = r.due_ms;
  }
  return next;
}

void Scheduler::CheckInvariants() const {
  state_.CheckInvariants();
  placement_.CheckInvariants(state_);
  CheckInvariant(task_count_ == state_.graph.task_count(),
                 "Scheduler: the task count is the graph's");
  const std::uint64_t accounted = FinalTotal() + settled_count_ + state_.running.size() +
                                  state_.retries.size() + placement_.Held() + interrupted_ +
                                  state_.graph.Remaining();
  CheckInvariant(accounted == task_count_,
                 "Scheduler: every task is final, settled, in flight, waiting for a retry, held, "
                 "interrupted or not yet handed out, and only one of these");
  if (!room_may_have_changed_ && state_.retries.empty()) {
    Scheduler full(*this);
    full.room_may_have_changed_ = true;
    CheckInvariant(full.Assign(0).empty(),
                   "Scheduler: when nothing gave a worker room since the last Assign, a full "
                   "Assign gives nothing either");
  }
}

}  // namespace jobrunner
