#include "scheduler.h"

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
    : task_count_(graph.task_count()), options_(options), graph_(std::move(graph)) {}

void Scheduler::Resume(std::vector<bool> settled, std::unordered_map<std::uint64_t, Prior> prior,
                       std::vector<std::uint64_t> failed) {
  settled.resize(task_count_, false);
  settled_count_ = static_cast<std::uint64_t>(std::count(settled.begin(), settled.end(), true));
  prior_ = std::move(prior);
  graph_.Resume(std::move(settled), std::move(failed));
  CollectSkipped();
  room_may_have_changed_ = true;
}

void Scheduler::CollectSkipped() {
  std::vector<TaskGraph::Skip> skipped = graph_.TakeSkipped();
  finals_[static_cast<int>(Outcome::kSkipped)] += skipped.size();
  skipped_.insert(skipped_.end(), skipped.begin(), skipped.end());
}

void Scheduler::AddWorker(int worker, int slots) {
  workers_[worker].slots = std::max(1, slots);
  room_may_have_changed_ = true;
}

int Scheduler::Room(const Worker& w, bool slots_only) const {
  if (w.retired) return 0;
  // A suspended worker waits for its verdict, unless every worker in rotation is suspended (then
  // the tasks are more likely at fault than the workers, and waiting would stall the run).
  if (w.suspended && suspended_count_ < InRotation()) return 0;
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
  return std::max(0, w.slots + prefetch - w.in_flight);
}

void Scheduler::Give(int worker, std::uint64_t index, int attempt, int failures, int failed_on,
                     std::vector<Assignment>& out) {
  workers_[worker].in_flight++;
  running_[index] = InFlight{worker, attempt, failures, failed_on};
  out.push_back(Assignment{worker, index, attempt});
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
      if (id == it->failed_on || w.retired) continue;
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
  for (bool slots_only : {true, false}) {
    GiveRetries(now_ms, slots_only, out);
    GiveFresh(slots_only, out);
  }
  return out;
}

void Scheduler::BlameFailure(int failed_on, int succeeded_on) {
  if (failed_on < 0 || failed_on == succeeded_on || options_.max_worker_failures <= 0) return;
  auto it = workers_.find(failed_on);
  if (it == workers_.end() || it->second.retired) return;
  if (++it->second.failures_fixed_elsewhere < options_.max_worker_failures) return;
  if (InRotation() <= 1) return;  // the last worker keeps working, whatever its record
  it->second.retired = true;
  retired_.push_back(failed_on);
  UpdateSuspicion(it->second);
}

void Scheduler::UpdateSuspicion(Worker& w) {
  bool suspended = !w.retired && options_.max_worker_failures > 0 &&
                   w.unexplained_failures >= options_.max_worker_failures;
  if (suspended == w.suspended) return;
  w.suspended = suspended;
  if (suspended) {
    ++suspended_count_;
  } else {
    --suspended_count_;
  }
}

Scheduler::Verdict Scheduler::OnResult(int worker, std::uint64_t index, int attempt,
                                       Outcome outcome, int retries, double duration_ms,
                                       std::int64_t now_ms) {
  auto it = running_.find(index);
  if (it == running_.end() || it->second.worker != worker || it->second.attempt != attempt) {
    return Verdict::kIgnored;
  }
  room_may_have_changed_ = true;
  InFlight task = it->second;
  running_.erase(it);
  Worker& w = workers_[worker];
  w.in_flight--;
  if (outcome == Outcome::kInterrupted) {
    interrupted_++;
    return Verdict::kInterrupted;
  }
  double d = std::max(duration_ms, kMinDurationMs);
  w.mean_duration_ms =
      w.samples == 0 ? d : (1 - kDurationWeight) * w.mean_duration_ms + kDurationWeight * d;
  w.last_duration_ms = d;
  w.samples = std::min(w.samples + 1, options_.max_prefetch);

  if (outcome == Outcome::kSucceeded) {
    // Only an unbroken streak counts against a worker: one that also succeeds is healthy, and
    // its failures belong to tasks that fail on a first try anywhere.
    w.failures_fixed_elsewhere = 0;
    w.unexplained_failures = 0;
    UpdateSuspicion(w);
    BlameFailure(task.failed_on, worker);
    finals_[static_cast<int>(outcome)]++;
    graph_.OnSucceeded(index);
    return Verdict::kFinal;
  }
  w.unexplained_failures++;
  UpdateSuspicion(w);
  auto earlier = workers_.find(task.failed_on);
  if (earlier != workers_.end() && task.failed_on != worker &&
      earlier->second.unexplained_failures > 0) {
    // The task failed here too: its earlier failure says nothing against that worker.
    earlier->second.unexplained_failures--;
    UpdateSuspicion(earlier->second);
  }
  int failures = task.failures + 1;
  std::optional<std::int64_t> delay = options_.retry.RetryDelayMs(outcome, failures, retries);
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
  return graph_.Exhausted() && running_.empty() && retries_.empty();
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
