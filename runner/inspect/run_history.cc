#include "inspect/run_history.h"

#include <algorithm>
#include <type_traits>

namespace jobrunner {

std::string_view TaskStateName(TaskState state) {
  switch (state) {
    case TaskState::kNotStarted:
      return "not_started";
    case TaskState::kWaiting:
      return "waiting";
    case TaskState::kRunning:
      return "running";
    case TaskState::kSucceeded:
      return "succeeded";
    case TaskState::kFailed:
      return "failed";
    case TaskState::kSkipped:
      return "skipped";
    case TaskState::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

RunHistory::RunHistory(std::uint64_t task_count) : states_(task_count, TaskState::kNotStarted) {}

const WorkerEntry* RunHistory::FindWorker(std::uint32_t run, std::int32_t rank) const {
  for (const WorkerEntry& w : workers_) {
    if (w.run == run && w.rank == rank) return &w;
  }
  return nullptr;
}

void RunHistory::Seen(std::int64_t unix_ms) { last_event_ms_ = std::max(last_event_ms_, unix_ms); }

void RunHistory::OnFinished(const TaskFinishedRecord& r) {
  Seen(r.end_ms);
  TaskState& state = states_[r.index];
  auto open = open_.find(r.index);
  if (open != open_.end() && open->second.attempt == r.attempt) open_.erase(open);
  // As the run's own ledger: nothing after a success counts.
  if (state == TaskState::kSucceeded) return;
  switch (r.outcome) {
    case JournalOutcome::kSucceeded:
      state = TaskState::kSucceeded;
      break;
    case JournalOutcome::kInterrupted:
      // Dropped from a worker's queue by a drain (no start, no end): it never began.
      state = r.start_ms == 0 && r.end_ms == 0 ? TaskState::kNotStarted : TaskState::kInterrupted;
      return;
    case JournalOutcome::kSkipped:
      state = TaskState::kSkipped;
      return;
    default:
      state = r.will_retry ? TaskState::kWaiting : TaskState::kFailed;
      break;
  }
  if (state != TaskState::kWaiting) settled_times_.push_back(r.end_ms);
}

void RunHistory::Apply(const JournalRecord& record) {
  std::visit(
      [this](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, RunStartedRecord>) {
          const auto start = static_cast<std::int64_t>(r.unix_ms);
          runs_.push_back(RunEntry{r.run_number, start, r.worker_count, std::nullopt, 0});
          settled_times_.clear();
          Seen(start);
        } else if constexpr (std::is_same_v<T, RunEndedRecord>) {
          if (runs_.empty()) return;
          runs_.back().end_ms = static_cast<std::int64_t>(r.unix_ms);
          runs_.back().exit_status = r.exit_status;
          Seen(static_cast<std::int64_t>(r.unix_ms));
        } else if constexpr (std::is_same_v<T, WorkerJoinedRecord>) {
          const std::uint32_t run = runs_.empty() ? 0 : runs_.back().number;
          workers_.push_back(WorkerEntry{run, r.rank, r.host, r.pid, r.slots, ""});
        } else if constexpr (std::is_same_v<T, WorkerRetiredRecord>) {
          for (auto w = workers_.rbegin(); w != workers_.rend(); ++w) {
            if (w->rank == r.rank) {
              w->retired = r.reason;
              break;
            }
          }
        } else if constexpr (std::is_same_v<T, TaskDispatchedRecord>) {
          if (r.index >= states_.size() || states_[r.index] == TaskState::kSucceeded) return;
          states_[r.index] = TaskState::kWaiting;
          const std::uint32_t run = runs_.empty() ? 0 : runs_.back().number;
          open_[r.index] = OpenAttempt{r.index, r.attempt, r.worker_rank, run, 0, ""};
        } else if constexpr (std::is_same_v<T, TaskStartedRecord>) {
          auto open = open_.find(r.index);
          if (open == open_.end() || open->second.attempt != r.attempt) return;
          open->second.start_ms = r.start_ms;
          open->second.task_id = r.task_id;
          states_[r.index] = TaskState::kRunning;
          Seen(r.start_ms);
        } else if constexpr (std::is_same_v<T, TaskFinishedRecord>) {
          if (r.index < states_.size()) OnFinished(r);
        } else if constexpr (std::is_same_v<T, TaskSkippedRecord>) {
          if (r.index < states_.size() && states_[r.index] != TaskState::kSucceeded) {
            states_[r.index] = TaskState::kSkipped;
          }
        }
      },
      record);
}

std::vector<OpenAttempt> RunHistory::Open() const {
  std::vector<OpenAttempt> out;
  out.reserve(open_.size());
  for (const auto& [index, attempt] : open_) out.push_back(attempt);
  std::sort(out.begin(), out.end(),
            [](const OpenAttempt& a, const OpenAttempt& b) { return a.index < b.index; });
  return out;
}

TaskState RunHistory::StateOf(std::uint64_t index, bool live) const {
  const TaskState state = states_[index];
  if (!live && (state == TaskState::kRunning || state == TaskState::kWaiting)) {
    return TaskState::kInterrupted;
  }
  if (live && state == TaskState::kInterrupted) return TaskState::kNotStarted;
  return state;
}

TaskStateCounts RunHistory::Counts(bool live) const {
  TaskStateCounts counts{};
  for (std::uint64_t i = 0; i < states_.size(); ++i) {
    ++counts[static_cast<std::size_t>(StateOf(i, live))];
  }
  return counts;
}

}  // namespace jobrunner
