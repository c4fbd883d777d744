#include "schedule/scheduler.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "schedule/invariant.h"

namespace jobrunner {

Scheduler::Scheduler(std::uint64_t task_count, Options options)
    : Scheduler(TaskGraph(task_count), options) {}

Scheduler::Scheduler(TaskGraph graph, Options options)
    : task_count_(graph.task_count()),
      retry_(options.retry),
      state_(std::move(graph), options.max_prefetch, options.max_queued,
             options.max_worker_failures) {}

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
  // A group without tasks asks for nothing: it cannot be a task that fits nowhere.
  for (std::size_t g = 0; g < needs.size() && g < state_.graph.group_count(); ++g) {
    if (state_.graph.GroupSize(g) == 0) needs[g] = ResourceNeeds();
  }
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
  if (worker < 0) throw std::invalid_argument("Scheduler: a worker id is not negative");
  const bool again = state_.Has(worker);
  WorkerState& w = state_.AddWorker(worker);
  if (again) state_.slots -= static_cast<std::uint64_t>(w.slots);
  w.slots = std::max(1, capacity.cores);
  w.capacity = capacity;
  w.capacity.cores = w.slots;
  w.gpu_busy.assign(static_cast<std::size_t>(std::max(0, capacity.gpus)), false);
  state_.slots += static_cast<std::uint64_t>(w.slots);
  state_.UpdateRoom(worker);
  room_may_have_changed_ = true;
}

std::optional<std::size_t> Scheduler::GroupFittingNowhere() const {
  return placement_.GroupFittingNowhere(state_);
}

std::vector<WorkerCapacity> Scheduler::Capacities() const {
  std::vector<WorkerCapacity> out;
  for (int id : state_.worker_ids) out.push_back(state_.Worker(id).capacity);
  return out;
}

void Scheduler::Give(int worker, std::uint64_t index, int attempt, int failures, int failed_on,
                     std::vector<Assignment>& out) {
  WorkerState& w = state_.Worker(worker);
  w.in_flight++;
  w.used_cores++;
  state_.running_nodes(state_.running, index) =
      InFlight{worker, attempt, failures, failed_on, 1, 0, {}};
  out.push_back(Assignment{worker, index, attempt, {}});
  state_.UpdateRoom(worker);
}

int Scheduler::PlaceRetry(const Retry& retry, bool slots_only) const {
  // Another worker than the one that failed, when one has room; the same one only when no
  // other worker may take work (in rotation and not suspended): a suspended worker may never
  // be given work again. The sets hold only workers that may take work.
  const WorkerSet& with_room = slots_only ? state_.with_free_slots : state_.with_room;
  int chosen = with_room.NextFrom(0);
  if (chosen == retry.failed_on) chosen = with_room.NextFrom(retry.failed_on + 1);
  if (chosen >= 0) return chosen;
  const bool failed_on_may_work =
      state_.Has(retry.failed_on) && !state_.Worker(retry.failed_on).blocked;
  const std::size_t others = state_.unblocked - (failed_on_may_work ? 1 : 0);
  return others == 0 && with_room.Contains(retry.failed_on) ? retry.failed_on : -1;
}

void Scheduler::GiveRetries(std::vector<Retry>& due, bool slots_only,
                            std::vector<Assignment>& out) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < due.size(); ++i) {
    // Beyond the slots, the queue limit must leave room too (see Assign).
    const WorkerSet& with_room = slots_only ? state_.with_free_slots : state_.with_room;
    const bool may_queue = slots_only || state_.QueueLimitLeft() > 0;
    const int chosen = with_room.empty() || !may_queue ? -1 : PlaceRetry(due[i], slots_only);
    if (chosen < 0) {
      if (kept != i) due[kept] = due[i];
      ++kept;
      continue;
    }
    const Retry& r = due[i];
    Give(chosen, r.index, r.attempt, r.failures, r.failed_on, out);
  }
  due.resize(kept);
}

bool Scheduler::FillWithFresh(int id, bool slots_only, std::vector<Assignment>& out) {
  for (int room = state_.Room(state_.Worker(id), slots_only); room > 0; --room) {
    const std::optional<std::uint64_t> next = state_.graph.Next();
    if (!next) return false;
    const std::uint64_t index = *next;
    auto prior = state_.prior.find(index);
    if (prior == state_.prior.end()) {
      Give(id, index, 1, 0, -1, out);
    } else {
      Give(id, index, prior->second.last_attempt + 1, prior->second.failures, -1, out);
      state_.prior.erase(prior);
    }
  }
  return true;
}

void Scheduler::GiveFresh(bool slots_only, std::vector<Assignment>& out) {
  if (state_.graph.Exhausted()) return;
  if (slots_only) {
    for (int id = state_.with_free_slots.NextFrom(0); id >= 0;
         id = state_.with_free_slots.NextFrom(id + 1)) {
      if (!FillWithFresh(id, true, out)) return;
    }
    return;
  }
  // Round the workers with room from prefetch_from_, while the queue limit leaves room.
  const int start = prefetch_from_;
  for (int lap = 0; lap < 2; ++lap) {
    for (int id = state_.with_room.NextFrom(lap == 0 ? start : 0);
         id >= 0 && (lap == 0 || id < start); id = state_.with_room.NextFrom(id + 1)) {
      if (state_.QueueLimitLeft() == 0) {
        prefetch_from_ = id;
        return;
      }
      prefetch_from_ = id + 1;
      if (!FillWithFresh(id, false, out)) return;
    }
  }
}

std::vector<Scheduler::Assignment> Scheduler::Assign(std::int64_t now_ms) {
  std::vector<Assignment> out;
  Assign(now_ms, out);
  return out;
}

void Scheduler::Assign(std::int64_t now_ms, std::vector<Assignment>& out) {
  out.clear();
  if (!room_may_have_changed_ && !state_.retries.FallsDueBy(now_ms)) return;
  room_may_have_changed_ = false;
  if (placement_.Active()) {
    placement_.Assign(state_, now_ms, out);
    return;
  }
  std::vector<Retry>& due = state_.retries.Due(now_ms);
  GiveRetries(due, /*slots_only=*/true, out);
  GiveFresh(/*slots_only=*/true, out);
  // With no room left under the queue limit, prefetch could give only what the free slots
  // took above.
  if (state_.QueueLimitLeft() == 0) return;
  GiveRetries(due, /*slots_only=*/false, out);
  GiveFresh(/*slots_only=*/false, out);
}

Scheduler::Verdict Scheduler::OnResult(const AttemptEnded& ended, std::int64_t now_ms) {
  auto it = state_.running.find(ended.index);
  if (it == state_.running.end() || it->second.worker != ended.worker ||
      it->second.attempt != ended.attempt) {
    return Verdict::kIgnored;
  }
  room_may_have_changed_ = true;
  const InFlight task = std::move(it->second);
  state_.running_nodes.Erase(state_.running, it);
  const Verdict verdict = Judge(ended, task, now_ms);
  // What the worker has in flight changed, and maybe its pace and health; and the health of the
  // worker the task failed on before.
  state_.UpdateRoom(ended.worker);
  if (task.failed_on >= 0 && task.failed_on != ended.worker) state_.UpdateRoom(task.failed_on);
  return verdict;
}

Scheduler::Verdict Scheduler::Judge(const AttemptEnded& ended, const InFlight& task,
                                    std::int64_t now_ms) {
  WorkerState& w = state_.Worker(ended.worker);
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
  WorkerState* earlier = task.failed_on >= 0 && task.failed_on != ended.worker
                             ? &state_.Worker(task.failed_on)
                             : nullptr;
  if (ended.outcome == Outcome::kSucceeded) {
    state_.health.Succeeded(w.health);
    // A worker that is the only one able to run some tasks stays, whatever its record: without
    // it they would wait for ever.
    if (earlier != nullptr && state_.health.FixedElsewhere(earlier->health) &&
        placement_.OthersCouldTakeOver(state_, task.failed_on)) {
      state_.health.Retire(task.failed_on, earlier->health);
      placement_.ReleaseReservation(state_, task.failed_on);
    }
    finals_[static_cast<int>(ended.outcome)]++;
    state_.graph.OnSucceeded(ended.index);
    CollectSkipped();  // a whole group waiting on others may now be skipped
    return Verdict::kFinal;
  }
  state_.health.Failed(w.health, earlier != nullptr ? &earlier->health : nullptr);
  const int failures = task.failures + 1;
  const std::optional<std::int64_t> delay =
      retry_.RetryDelayMs(ended.outcome, failures, ended.retries_allowed);
  if (!delay) {
    finals_[static_cast<int>(ended.outcome)]++;
    state_.graph.OnFailed(ended.index);
    CollectSkipped();
    return Verdict::kFinal;
  }
  state_.retries.Add(
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
  if (!room_may_have_changed_) {
    // At a time before any backoff ends: what is already due, and fresh tasks.
    Scheduler full(*this);
    full.room_may_have_changed_ = true;
    CheckInvariant(full.Assign(std::numeric_limits<std::int64_t>::min()).empty(),
                   "Scheduler: when nothing gave a worker room since the last Assign and no "
                   "retry fell due, a full Assign gives nothing either");
  }
}

}  // namespace jobrunner
