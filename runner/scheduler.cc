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
    : task_count_(task_count), options_(options) {}

void Scheduler::AddWorker(int worker, int slots) { workers_[worker].slots = std::max(1, slots); }

int Scheduler::Room(const Worker& w, bool slots_only) const {
  int prefetch = 0;
  if (!slots_only && w.mean_duration_ms >= 0 && w.mean_duration_ms < kNoPrefetchAboveMs) {
    double per_task = std::max(w.mean_duration_ms, kMinDurationMs);
    prefetch = static_cast<int>(
        std::min<double>(options_.max_prefetch, std::ceil(w.slots * kQueueTargetMs / per_task)));
  }
  return std::max(0, w.slots + prefetch - w.in_flight);
}

void Scheduler::Give(int worker, std::uint64_t index, int attempt, std::vector<Assignment>& out) {
  workers_[worker].in_flight++;
  running_[index] = InFlight{worker, attempt};
  out.push_back(Assignment{worker, index, attempt});
}

void Scheduler::GiveRetries(std::int64_t now_ms, bool slots_only, std::vector<Assignment>& out) {
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->due_ms > now_ms) {
      ++it;
      continue;
    }
    // Another worker than the one that failed, when one has room; the same one only when it is
    // the only worker there is.
    int chosen = -1;
    for (auto& [id, w] : workers_) {
      if (id != it->avoid_worker && Room(w, slots_only) > 0) {
        chosen = id;
        break;
      }
    }
    if (chosen < 0 && workers_.size() == 1 && Room(workers_.begin()->second, slots_only) > 0) {
      chosen = workers_.begin()->first;
    }
    if (chosen < 0) {
      ++it;
      continue;
    }
    Give(chosen, it->index, it->attempt, out);
    it = retries_.erase(it);
  }
}

void Scheduler::GiveFresh(bool slots_only, std::vector<Assignment>& out) {
  for (auto& [id, w] : workers_) {
    for (int room = Room(w, slots_only); room > 0 && next_fresh_ < task_count_; --room) {
      Give(id, next_fresh_++, 1, out);
    }
  }
}

std::vector<Scheduler::Assignment> Scheduler::Assign(std::int64_t now_ms) {
  std::vector<Assignment> out;
  for (bool slots_only : {true, false}) {
    GiveRetries(now_ms, slots_only, out);
    GiveFresh(slots_only, out);
  }
  return out;
}

Scheduler::Verdict Scheduler::OnResult(int worker, std::uint64_t index, int attempt,
                                       Outcome outcome, int retries, double duration_ms,
                                       std::int64_t now_ms) {
  auto it = running_.find(index);
  if (it == running_.end() || it->second.worker != worker || it->second.attempt != attempt) {
    return Verdict::kIgnored;
  }
  running_.erase(it);
  Worker& w = workers_[worker];
  w.in_flight--;
  double d = std::max(duration_ms, kMinDurationMs);
  w.mean_duration_ms =
      w.mean_duration_ms < 0 ? d : (1 - kDurationWeight) * w.mean_duration_ms + kDurationWeight * d;

  std::optional<std::int64_t> delay = options_.retry.RetryDelayMs(outcome, attempt, retries);
  if (!delay) {
    finals_[static_cast<int>(outcome)]++;
    return Verdict::kFinal;
  }
  retries_.push_back(Retry{index, attempt + 1, now_ms + *delay, worker});
  retried_++;
  return Verdict::kRetrying;
}

bool Scheduler::Finished() const {
  return next_fresh_ == task_count_ && running_.empty() && retries_.empty();
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
