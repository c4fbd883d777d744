#pragma once

// `jobrunner logs`: one attempt's output, as its worker wrote it to logs/, optionally followed
// while the attempt runs.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"

namespace jobrunner {

struct LogsRequest {
  std::string run_dir;
  std::string task;            // its id
  std::optional<int> attempt;  // default: the latest one
  bool stderr_stream = false;  // stderr instead of stdout
  bool follow = false;         // keep printing until the attempt ends
};

// The attempt numbers of `task` known from results.jsonl, the journal's running attempts and the
// files in logs/, highest last. Empty when nothing names the task.
std::vector<int> KnownAttempts(const std::string& run_dir, const std::string& task);

// Writes the attempt's output to `out`. An attempt that wrote nothing to the stream has no file:
// nothing is printed, and `note` says so. With `follow`, waits for more output until the
// attempt's results line appears or the run is no longer live, then prints what is left. An
// error when the task (or that attempt of it) is unknown.
Status PrintTaskLog(const LogsRequest& request, std::ostream& out, std::string& note);

}  // namespace jobrunner
