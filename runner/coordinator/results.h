#pragma once

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "coordinator/summary.h"
#include "journal/journal_record.h"
#include "posix/unique_fd.h"
#include "schedule/attempt_result.h"

namespace jobrunner {

// results.jsonl cannot be opened or written (a full disk, a vanished directory).
class ResultsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// results.jsonl in the run directory: one JSON object per attempt, in the order attempts end,
// then one {"summary": ...} line per run (a resumed run appends its own). Paths in it are
// relative to the run directory.
//
// Lines are buffered and reach the file only at Flush, which the coordinator calls right after
// the journal is synced: every line in results.jsonl is then backed by a journal record, and
// --resume can restore any line a crash kept from being written (see Recovered).
class ResultsWriter {
 public:
  // Creates results.jsonl, or with `append` continues it, first dropping a partial last line
  // that a crash may have left. Throws ResultsError when the file cannot be opened.
  ResultsWriter(const std::string& run_dir, bool append);
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // `result_json`: a task kind's result as JSON text, or empty.
  void Attempt(const std::string& task_id, const AttemptResult& result, int worker_rank,
               const std::string& host, bool will_retry, const std::string& result_json = "");
  // An attempt known only from its journal record: one the run was killed under, or one a crash
  // kept out of results.jsonl (`recovered`, marked "recovered": true). No host; output files
  // are those found in logs/ under the attempt's names, and a kind's result and data file come
  // from its TaskOutput record (`output`, when there is one).
  void FromJournal(const std::string& task_id, const TaskFinishedRecord& record, bool recovered,
                   const TaskOutputRecord* output = nullptr);
  // A task that never ran because a dependency failed for good: attempt 0, outcome "skipped",
  // and the `reason`.
  void Skipped(const std::string& task_id, std::uint64_t index, const std::string& reason,
               bool recovered);
  void Summary(const RunSummary& summary);

  // Writes what is buffered. Throws ResultsError when a write fails (disk full, ...):
  // results must not be lost silently.
  void Flush();

 private:
  void Line(const std::string& json);

  std::string run_dir_;
  std::string path_;
  UniqueFd file_;
  std::string buffer_;
};

// `path` relative to `run_dir` when it lies inside it, as results.jsonl names files; else as given.
std::string PathInRunDir(const std::string& run_dir, const std::string& path);

// The (task index, attempt) pairs an existing results.jsonl holds, for --resume; attempt 0 for a
// skipped task.
std::set<std::pair<std::uint64_t, std::uint32_t>> RecordedAttempts(const std::string& run_dir);

}  // namespace jobrunner
