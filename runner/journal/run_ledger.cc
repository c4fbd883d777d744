#include "journal/run_ledger.h"

#include <algorithm>
#include <type_traits>

namespace jobrunner {

RunLedger::RunLedger(std::uint64_t task_count) : succeeded_(task_count, false) {}

template <class Change>
void RunLedger::Update(std::uint64_t index, Change change) {
  History& h = open_nodes_(open_, index);
  failed_count_ -= h.failed_for_good ? 1 : 0;
  skipped_count_ -= h.skipped ? 1 : 0;
  running_count_ -= h.started ? 1 : 0;
  change(h);
  failed_count_ += h.failed_for_good ? 1 : 0;
  skipped_count_ += h.skipped ? 1 : 0;
  running_count_ += h.started ? 1 : 0;
}

void RunLedger::Forget(std::uint64_t index) {
  auto it = open_.find(index);
  if (it == open_.end()) return;
  failed_count_ -= it->second.failed_for_good ? 1 : 0;
  skipped_count_ -= it->second.skipped ? 1 : 0;
  running_count_ -= it->second.started ? 1 : 0;
  open_nodes_.Erase(open_, it);
}

void RunLedger::NoteAttempt(std::uint64_t index, std::uint32_t attempt) {
  if (attempt <= highest_attempt_) return;
  highest_attempt_ = attempt;
  highest_attempt_task_ = index;
}

bool RunLedger::IsInFlight(std::uint64_t index, std::uint32_t attempt) const {
  auto it = open_.find(index);
  return it != open_.end() && attempt != 0 && it->second.in_flight_attempt == attempt;
}

void RunLedger::OnFinished(const TaskFinishedRecord& r) {
  NoteAttempt(r.index, r.attempt);
  if (r.index >= succeeded_.size() || succeeded_[r.index]) return;
  if (r.outcome == JournalOutcome::kSucceeded) {
    succeeded_[r.index] = true;
    ++succeeded_count_;
    Forget(r.index);
    return;
  }
  if (r.outcome == JournalOutcome::kWorkerLost) any_worker_deaths_ = true;
  Update(r.index, [&r](History& h) {
    h.last_attempt = std::max(h.last_attempt, r.attempt);
    if (h.in_flight_attempt == r.attempt) {
      h.in_flight_attempt = 0;
      h.started = false;
    }
    if (r.outcome == JournalOutcome::kInterrupted) return;  // not the task's fault
    if (r.outcome == JournalOutcome::kWorkerLost) {
      // Its exit_code holds how many attempts the worker had in flight when it was lost; it is
      // the task's failure only when the evidence is complete (will_retry false).
      h.worker_deaths++;
      if (r.exit_code == 1) h.alone_worker_deaths++;
      if (r.will_retry) return;
    }
    if (r.outcome == JournalOutcome::kSkipped) {
      h.skipped = true;
      return;
    }
    h.failures++;
    h.failed_for_good = !r.will_retry;
    h.last_failure = Failure{r.attempt, r.outcome, r.exit_code, r.signal};
  });
}

std::optional<RunLedger::Failure> RunLedger::LastFailure(std::uint64_t index) const {
  auto it = open_.find(index);
  if (it == open_.end() || it->second.last_failure.attempt == 0) return std::nullopt;
  return it->second.last_failure;
}

void RunLedger::Apply(const JournalRecord& record) {
  std::visit(
      [this](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, RunStartedRecord>) {
          ++runs_;
          last_run_ended_ = false;
        } else if constexpr (std::is_same_v<T, RunEndedRecord>) {
          last_run_ended_ = true;
        } else if constexpr (std::is_same_v<T, TaskDispatchedRecord>) {
          NoteAttempt(r.index, r.attempt);
          if (r.index >= succeeded_.size() || succeeded_[r.index]) return;
          Update(r.index, [&r](History& h) {
            h.last_attempt = std::max(h.last_attempt, r.attempt);
            h.in_flight_attempt = r.attempt;
            h.started = false;
            h.worker_rank = r.worker_rank;
            h.failed_for_good = false;  // dispatched again: --retry-failed gave it another go
            h.skipped = false;
          });
        } else if constexpr (std::is_same_v<T, TaskFinishedRecord>) {
          OnFinished(r);
        } else if constexpr (std::is_same_v<T, TaskStartedRecord>) {
          if (!IsInFlight(r.index, r.attempt)) return;
          Update(r.index, [&r](History& h) {
            h.started = true;
            h.start_ms = r.start_ms;
          });
        } else if constexpr (std::is_same_v<T, TaskSkippedRecord>) {
          if (r.index < succeeded_.size() && !succeeded_[r.index]) {
            Update(r.index, [](History& h) { h.skipped = true; });
          }
        }
      },
      record);
}

std::uint32_t RunLedger::WorkerDeaths(std::uint64_t index) const {
  auto it = open_.find(index);
  return it == open_.end() ? 0 : it->second.worker_deaths;
}

std::uint32_t RunLedger::AloneWorkerDeaths(std::uint64_t index) const {
  auto it = open_.find(index);
  return it == open_.end() ? 0 : it->second.alone_worker_deaths;
}

std::vector<RunLedger::Unfinished> RunLedger::InFlight() const {
  std::vector<Unfinished> out;
  for (const auto& [index, h] : open_) {
    if (h.in_flight_attempt != 0)
      out.push_back(
          Unfinished{index, h.in_flight_attempt, h.worker_rank, h.started ? h.start_ms : 0});
  }
  std::sort(out.begin(), out.end(),
            [](const Unfinished& a, const Unfinished& b) { return a.index < b.index; });
  return out;
}

ResumePoint RunLedger::ResumeState(bool retry_failed) const {
  ResumePoint point;
  point.settled = succeeded_;
  for (const auto& [index, h] : open_) {
    if (h.failed_for_good && !retry_failed) {
      point.settled[index] = true;
      point.failed.push_back(index);
      continue;
    }
    if (h.last_attempt == 0) continue;  // skipped, never run: it starts afresh
    int failures = h.failed_for_good ? 0 : static_cast<int>(h.failures);
    point.history[index] = ResumePoint::TaskHistory{static_cast<int>(h.last_attempt), failures};
  }
  return point;
}

}  // namespace jobrunner
