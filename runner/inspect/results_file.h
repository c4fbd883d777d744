#pragma once

// results.jsonl read back: its attempt lines as values, and its summary lines as JSON.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobrunner {

// One attempt line (or a skipped task's line, attempt 0). Paths are relative to the run
// directory, as results.jsonl writes them; absent or null fields are empty or 0.
struct AttemptLine {
  std::string task;
  std::uint64_t index = 0;
  std::uint32_t attempt = 0;
  std::optional<int> worker;
  std::string host;
  std::int64_t start_ms = 0;  // unix time; 0 when unknown
  std::int64_t end_ms = 0;
  std::string outcome;
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool retry = false;
  std::string stdout_path;
  std::string stderr_path;
  std::string error;   // why an attempt could not start, or what a kind threw
  std::string reason;  // why a task was skipped
};

struct ResultsFile {
  std::vector<AttemptLine> attempts;      // in file order
  std::vector<nlohmann::json> summaries;  // each run's "summary" object, in file order
};

// Reads <run_dir>/results.jsonl. A line for which `keep` (given the line's text) says false is
// passed over unparsed: how a reader that wants failures only skips a million successes cheaply.
// A last line without its newline (being written, or cut short by a crash) and lines that are
// not JSON objects are passed over too. A missing file reads as empty.
ResultsFile ReadResultsFile(const std::string& run_dir,
                            const std::function<bool(std::string_view)>& keep = nullptr);

// Parses results.jsonl's "2026-11-23T17:39:35.123Z" (UTC) into unix milliseconds.
std::optional<std::int64_t> ParseIsoTime(std::string_view text);
// The other way round.
std::string FormatIsoTime(std::int64_t unix_ms);

// Why an attempt or a skipped task did not succeed, in a few words: "exit status 3",
// "signal 9 (SIGKILL)", "timed out", "could not start: ...", "dependency prep failed". Empty for
// a success.
std::string FailureReason(const AttemptLine& line);

// Whether `outcome` (as results.jsonl names it) is a failure of the task's own: not a success,
// not an interruption of the run.
bool IsFailureOutcome(std::string_view outcome);

}  // namespace jobrunner
