#pragma once

// What a run's journal says, replayed for a reader: the state of every task, the attempts in
// flight with their workers, the workers and the runs (the first and each --resume). The reading
// side of the journal (`jobrunner status`, `report`); the run itself keeps its own RunLedger.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "journal/journal_record.h"

namespace jobrunner {

// Where a task stands, as `jobrunner status` counts it.
enum class TaskState : std::uint8_t {
  kNotStarted,  // never dispatched, or dropped from a worker's queue before it began
  kWaiting,     // dispatched and queued at its worker, or failed and waiting for its retry
  kRunning,     // its worker reported the attempt's start, and not yet its end
  kSucceeded,
  kFailed,       // failed with no retry left
  kSkipped,      // a task it depends on failed for good
  kInterrupted,  // the run stopped while the attempt was running
};
inline constexpr std::size_t kTaskStateCount = 7;
using TaskStateCounts = std::array<std::uint64_t, kTaskStateCount>;

// "not_started", "waiting", "running", ...: the names `status --json` uses.
std::string_view TaskStateName(TaskState state);

struct RunEntry {
  std::uint32_t number = 0;  // 1, then +1 for each --resume
  std::int64_t start_ms = 0;
  std::uint32_t workers = 0;
  std::optional<std::int64_t> end_ms;  // from RunEnded; none when the run is going or was killed
  std::int32_t exit_status = 0;        // when end_ms
};

struct WorkerEntry {
  std::uint32_t run = 0;  // the RunEntry number it joined
  std::int32_t rank = 0;
  std::string host;
  std::int32_t pid = 0;
  std::uint32_t slots = 0;
  std::string retired;  // why it got no more tasks; empty while it gets them
};

// An attempt dispatched and not finished.
struct OpenAttempt {
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::int32_t rank = 0;
  std::uint32_t run = 0;
  std::int64_t start_ms = 0;  // 0 until its worker reports the start
  std::string task_id;        // from TaskStarted; empty before
};

class RunHistory {
 public:
  explicit RunHistory(std::uint64_t task_count);

  void Apply(const JournalRecord& record);

  std::uint64_t task_count() const { return states_.size(); }
  const std::vector<RunEntry>& runs() const { return runs_; }
  const std::vector<WorkerEntry>& workers() const { return workers_; }
  // The worker `rank` of run `run`, if it joined.
  const WorkerEntry* FindWorker(std::uint32_t run, std::int32_t rank) const;
  // Attempts in flight, by task index.
  std::vector<OpenAttempt> Open() const;
  // Whether the last run recorded its end.
  bool Ended() const { return !runs_.empty() && runs_.back().end_ms.has_value(); }

  // A task's state. Unless the run is `live`, nothing runs or waits any more: such tasks count
  // as interrupted. While it is live, tasks an earlier run left interrupted are to run again and
  // count as not started.
  TaskState StateOf(std::uint64_t index, bool live) const;
  TaskStateCounts Counts(bool live) const;

  // Unix times at which attempts of the last run settled their task (succeeded, or failed with
  // no retry left), in journal order: what a rate is measured over.
  const std::vector<std::int64_t>& settled_times() const { return settled_times_; }
  // The latest time any record gave; 0 without one.
  std::int64_t last_event_ms() const { return last_event_ms_; }

 private:
  void OnFinished(const TaskFinishedRecord& r);
  void Seen(std::int64_t unix_ms);

  std::vector<TaskState> states_;  // kRunning and kWaiting as recorded, whatever the liveness
  std::unordered_map<std::uint64_t, OpenAttempt> open_;
  std::vector<RunEntry> runs_;
  std::vector<WorkerEntry> workers_;
  std::vector<std::int64_t> settled_times_;
  std::int64_t last_event_ms_ = 0;
};

}  // namespace jobrunner
