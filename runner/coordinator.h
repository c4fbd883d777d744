#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "protocol.h"
#include "reporter.h"
#include "results.h"
#include "scheduler.h"
#include "summary.h"
#include "task_source.h"
#include "transport.h"

namespace jobrunner {

struct RunOptions {
  std::string run_dir;  // absolute; exists
  int slots = 0;        // per worker; 0: the cores of its node shared among the workers there
  std::uint64_t max_output = 100ull << 20;
  std::int64_t kill_grace_ms = 5000;
  RetryPolicy retry;
};

// Rank 0: waits for every worker's Hello, tells each how many slots to run, then hands out tasks
// as the scheduler decides, records every attempt in results.jsonl, and ends the run with a
// Shutdown carrying the run's exit status. Driven by Step from a loop that never spins.
class Coordinator {
 public:
  Coordinator(Transport& transport, const TaskSource& source, ResultsWriter& results,
              Reporter& reporter, RunOptions options);

  // Handles what has arrived and sends what is due. Returns how long the caller may wait for
  // messages before the next Step (0: call again at once).
  std::chrono::milliseconds Step();

  bool Finished() const { return finished_; }
  int exit_status() const { return exit_status_; }

 private:
  struct WorkerInfo {
    int rank = 0;
    std::string host;
    int cores = 1;
  };

  void OnHello(int from, const std::string& payload);
  void OnResults(int from, const std::string& payload);
  void WelcomeWorkers();
  void Dispatch(std::int64_t now_ms);
  void Finish(int exit_status, const std::string& message);
  Progress CurrentProgress() const;
  std::int64_t ElapsedMs() const;

  Transport& transport_;
  const TaskSource& source_;
  ResultsWriter& results_;
  Reporter& reporter_;
  RunOptions options_;
  Scheduler scheduler_;
  std::map<int, WorkerInfo> workers_;  // by transport rank
  bool welcomed_ = false;
  bool finished_ = false;
  int exit_status_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_flush_;
  std::chrono::milliseconds idle_wait_{0};
  std::uint64_t attempts_ = 0;
  std::uint64_t failures_reported_ = 0;
  SlowestTasks slowest_{5};
  std::vector<std::string> failed_;
};

}  // namespace jobrunner
