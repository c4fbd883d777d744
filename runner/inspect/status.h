#pragma once

// `jobrunner status`: how a run is doing, from its journal and results.jsonl, during the run
// (from any shell on any node that sees the run directory), after it, and after it was killed.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "inspect/run_files.h"
#include "inspect/run_history.h"

namespace jobrunner {

struct RunningTask {
  std::string id;
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::int32_t rank = 0;
  std::string host;
  std::int64_t start_ms = 0;
};

struct FailedTask {
  std::string id;
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;  // 0: skipped, never ran
  std::string outcome;        // as results.jsonl names it
  std::string reason;         // FailureReason
  std::string stderr_path;    // relative to the run directory; empty when it wrote none
  std::vector<std::string> stderr_tail;
};

struct RunStatus {
  std::string run_dir;
  Liveness liveness = Liveness::kStopped;
  std::uint32_t run_number = 0;  // of the last run: 1, then +1 per --resume; 0 before any
  std::optional<int> exit_status;
  std::uint64_t tasks = 0;
  TaskStateCounts counts{};
  std::int64_t now_ms = 0;
  std::int64_t started_ms = 0;           // the last run's start; 0 before it
  std::optional<std::int64_t> ended_ms;  // its end, when recorded
  std::int64_t last_event_ms = 0;        // the newest time the journal gives
  std::optional<double> rate_per_s;      // tasks settled per second over the recent window
  std::int64_t rate_window_ms = 0;
  std::optional<std::int64_t> eta_ms;  // only while live, from that rate
  std::vector<RunningTask> running;    // oldest first
  std::vector<FailedTask> failures;    // in task order, at most kMaxFailuresShown
  std::uint64_t failures_total = 0;    // failed and skipped tasks
  std::vector<WorkerEntry> workers;    // of the last run
};

// Rates are measured over the last minute of the run (or all of it when shorter).
inline constexpr std::int64_t kRateWindowMs = 60'000;
// Failed tasks whose details status shows; the rest only count (`jobrunner failed` lists all).
inline constexpr std::size_t kMaxFailuresShown = 20;
inline constexpr std::size_t kStderrTailLines = 3;

// Reads the run in `run_dir` as of `now_ms` (unix time). Throws JournalError when it has no
// readable journal.
RunStatus ReadRunStatus(const std::string& run_dir, std::int64_t now_ms);

// For a terminal: a few lines, with at most `max_running` running tasks listed (the oldest).
std::string FormatRunStatus(const RunStatus& status, std::size_t max_running = 10);

// For scripts; the schema is in docs/status-json.md.
nlohmann::ordered_json RunStatusJson(const RunStatus& status);

}  // namespace jobrunner
