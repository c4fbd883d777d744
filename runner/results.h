#pragma once

#include <fstream>
#include <string>

#include "protocol.h"
#include "summary.h"

namespace jobrunner {

// results.jsonl in the run directory: one JSON object per attempt, in the order attempts end,
// then one {"summary": ...} line. Paths in it are relative to the run directory.
class ResultsWriter {
 public:
  // Throws std::runtime_error when the file cannot be created.
  ResultsWriter(const std::string& run_dir);

  void Attempt(const std::string& task_id, const AttemptResult& result, int worker_rank,
               const std::string& host, bool will_retry);
  void Summary(const RunSummary& summary);
  // Throws std::runtime_error when a write failed (disk full, ...): results must not be lost
  // silently.
  void Flush();

 private:
  std::string run_dir_;
  std::string path_;
  std::ofstream out_;
};

}  // namespace jobrunner
