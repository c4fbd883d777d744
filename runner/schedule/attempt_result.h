#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "schedule/outcome.h"

namespace jobrunner {

inline constexpr int kPerWorkerStart = 1;
inline constexpr int kPerWorkerStop = 2;
// The manifest's node_setup and node_teardown, which the lowest worker rank of each host runs.
inline constexpr int kNodeSetup = 3;
inline constexpr int kNodeTeardown = 4;

// How one attempt ended, as the worker saw it: the domain value that the scheduler judges, the
// journal and results.jsonl record, and the protocol carries back to the coordinator.
struct AttemptResult {
  std::uint64_t index = 0;
  int attempt = 1;
  Outcome outcome = Outcome::kSucceeded;
  int exit_code = 0;
  int signal = 0;
  std::int64_t start_ms = 0;  // unix time
  std::int64_t end_ms = 0;
  std::string stdout_path;  // empty when the attempt wrote nothing there
  std::string stderr_path;
  std::uint64_t stdout_bytes = 0;
  std::uint64_t stderr_bytes = 0;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string error;
  std::string kind_result;  // a task kind's result, encoded by the kind
  std::string data_path;    // a task kind's bulk output file, if it wrote one
  // Processes the task left running when it ended, which the worker killed.
  std::uint32_t left_running = 0;
  // The attempt's output (or a kind's data) could not be written for want of space: outcome
  // kInterrupted, `error` naming the path and reason. The run stops, and the attempt runs again
  // on --resume.
  bool disk_full = false;
  // Not a task of the run but a command each worker runs itself: kPerWorkerStart or
  // kPerWorkerStop (a command list's PERENGINE START or STOP), `index` its place in its list;
  // or one a host's first worker runs for the host: kNodeSetup or kNodeTeardown, `index` 0.
  int per_worker = 0;
  // Provenance. `pid`: the task's process (0 for an in-process kind or a Python call). CPU time,
  // when `cpu_measured`: of the process and the descendants it waited for (wait4's), or of the
  // thread that ran an in-process kind; a Python call's, which runs in a helper shared by many
  // calls, and a kind's reported at its timeout are not measured. `max_rss_kb`: the largest
  // resident set among those processes (0: not measured, as for in-process kinds).
  int pid = 0;
  bool cpu_measured = false;
  std::int64_t cpu_user_us = 0;
  std::int64_t cpu_system_us = 0;
  std::int64_t max_rss_kb = 0;
  std::uint64_t memory_limit = 0;  // bytes its cgroup enforced; 0: none
  std::uint64_t oom_kills = 0;     // processes the OOM killer killed in its cgroup
  // The last bytes of its stderr, sent only for an attempt that did not succeed: why it failed,
  // for the coordinator to show without reading a file that may be on another host.
  std::string stderr_tail;
  // What results.jsonl says the attempt was: the task's id, and its command line as the worker
  // ran it (CommandLine with the worker's shell; empty for a kind). The worker has both at hand,
  // so rank 0 keeps nothing per task in flight for them: at 10^5 results a second that was a map
  // entry and a rendered line each. Empty in a result nothing started (no results.jsonl line).
  std::string task_id;
  std::string command;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& index& attempt& outcome& exit_code& signal& start_ms& end_ms& stdout_path& stderr_path&
        stdout_bytes& stderr_bytes& stdout_truncated& stderr_truncated& error& kind_result&
            data_path& left_running& disk_full& per_worker& pid& cpu_measured& cpu_user_us&
                cpu_system_us& max_rss_kb& memory_limit& oom_kills& stderr_tail& task_id& command;
    // An outcome read from bytes indexes per-outcome counts: anything else is not a result.
    if constexpr (Archive::is_loading::value) {
      if (static_cast<int>(outcome) >= kOutcomeCount) {
        throw std::out_of_range("outcome " + std::to_string(static_cast<int>(outcome)) +
                                " is unknown");
      }
    }
  }
};

}  // namespace jobrunner
