#pragma once

// The attempts of a run laid out per worker and slot: what the report's Gantt chart and the
// Chrome trace draw.

#include <cstdint>
#include <string>
#include <vector>

#include "inspect/results_file.h"
#include "inspect/run_files.h"
#include "inspect/run_history.h"

namespace jobrunner {

// A worker: one rank on one host, over all the runs (the first and each --resume) it was in.
struct TimelineRow {
  std::int32_t rank = 0;
  std::string host;
  std::int32_t pid = 0;     // in its last run
  std::uint32_t slots = 0;  // the most it had in any run
  std::vector<std::uint32_t> runs;
  std::string retired;  // why it got no more tasks, if it did not
  int lanes = 0;        // slots its attempts needed side by side, at least 1
};

struct TimelineBar {
  std::size_t row = 0;
  int lane = 0;  // 0-based: the slot the attempt ran in, as far as the times tell
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::string outcome;  // as results.jsonl names it; "running" for an attempt still going
  std::string task;
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
};

struct Timeline {
  std::vector<TimelineRow> rows;  // by rank, then host
  std::vector<TimelineBar> bars;  // by row, then start
  std::int64_t start_ms = 0;      // the earliest start (or run start)
  std::int64_t end_ms = 0;        // the latest end
};

// Every attempt that ran (skipped tasks and attempts dropped before they began have no bar). An
// attempt still running gets a bar up to `now_ms` while the run is live; one the run stopped
// under without a results line ends at the journal's last event, as "interrupted". Slots are
// not recorded: each worker's attempts are put in the first lane free at their start, which is
// how the slots were used whenever the times are exact.
Timeline BuildTimeline(const ResultsFile& results, const RunHistory* history, Liveness liveness,
                       std::int64_t now_ms);

}  // namespace jobrunner
