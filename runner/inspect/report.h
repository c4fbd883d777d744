#pragma once

// `jobrunner report`: one self-contained HTML page about a run (no network needed to open it:
// its script, style and data are all in the file), and optionally a Chrome trace of it.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace jobrunner {

// What the page shows, as the JSON its script reads: the timeline's rows and attempts (as
// columns of numbers, so that 10^5 attempts stay a few megabytes and parse in milliseconds),
// task ids, entries, failures with their last output lines, workers, runs, summaries and the
// manifest. Reads the journal when there is one, and results.jsonl.
nlohmann::json ReportData(const std::string& run_dir, std::int64_t now_ms);

// The page with `data` in it.
std::string ReportPage(const nlohmann::json& data);

// Writes the page about the run in `run_dir` to `output`, and with a `trace_path`, the trace.
Status WriteReport(const std::string& run_dir, const std::string& output,
                   const std::string& trace_path, std::int64_t now_ms);

}  // namespace jobrunner
