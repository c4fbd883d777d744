#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/coordinator.h"
#include "manifest/task_input.h"
#include "manifest/units.h"

namespace jobrunner {

// What a worker rank says of itself beyond what it finds on its node (every rank parses the same
// command line, or its own part of an MPMD one).
struct WorkerSettings {
  std::vector<std::string> tags;  // --worker-tags
  int gpus_per_worker = 0;        // --gpus-per-worker; 0: the node's CUDA_VISIBLE_DEVICES
};

// Everything rank 0 needs to start or resume a run, from the command line.
struct RunSettings {
  std::string manifest;    // a YAML manifest, or a command list ("-": stdin)
  InputOptions input;      // --format, and a command list's defaults from flags
  std::string out;         // --out, or empty for jobrunner-out/<name>/
  std::string name;        // --name
  std::string resume_dir;  // --resume, or empty for a new run
  bool force = false;      // --force: resume with a changed manifest
  bool retry_failed = false;
  bool journal = true;                        // --no-journal turns it off
  std::optional<std::int64_t> time_limit_ms;  // --time-limit
  std::vector<std::string> plugins;           // --plugin, as given
  std::optional<FailureLimit> max_failures;   // --max-failures
  WorkerSettings worker;
  RunOptions options;
};

}  // namespace jobrunner
