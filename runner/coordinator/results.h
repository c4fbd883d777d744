#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "coordinator/summary.h"
#include "journal/journal_record.h"
#include "posix/dir.h"
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
// Lines are formatted into a buffer (Attempt, FromJournal, Skipped, Summary) and reach the file
// only through Write, which a run's RecordWriter calls on its own thread right after the journal
// is synced: every line in results.jsonl is then backed by a journal record, and --resume can
// restore any line a crash kept from being written (see Recovered). Formatting and writing touch
// separate state, so one thread may format (and TakeLines) while another writes.
class ResultsWriter {
 public:
  // Creates results.jsonl in `run_dir`, failing if anything is there, or with `append` continues
  // it (creating it when a start cut short left none), first dropping a partial last line that a
  // crash may have left. Never through a link. Throws ResultsError when the file cannot be opened.
  ResultsWriter(const Dir& run_dir, bool append);
  // The same, with the run directory given by its path (tests, the simulation).
  ResultsWriter(const std::string& run_dir, bool append);
  ResultsWriter(ResultsWriter&&) = default;
  ResultsWriter& operator=(ResultsWriter&&) = default;

  // `result_json`: a task kind's result as JSON text, or empty. `command`: the command as it ran
  // (see CommandLine), or empty for a kind.
  void Attempt(const std::string& task_id, const AttemptResult& result, int worker_rank,
               const std::string& host, bool will_retry, const std::string& result_json = "",
               const std::string& command = "");
  // A per-worker command's end (a command list's PERENGINE START or STOP, or a host's
  // node_setup or node_teardown: result.per_worker): a line like an attempt's, with
  // "index": null and "per_worker": "start", "stop", "node_setup" or "node_teardown".
  void PerWorker(const std::string& id, const AttemptResult& result, int worker_rank,
                 const std::string& host, const std::string& command);
  // An attempt known only from its journal record: one the run was killed under, or one a crash
  // kept out of results.jsonl (`recovered`, marked "recovered": true). No host; output files
  // are those found in logs/ under the attempt's names (or the copy names a worker writes to
  // when those are taken), and a kind's result and data file come from its TaskOutput record
  // (`output`, when there is one).
  void FromJournal(const std::string& task_id, const TaskFinishedRecord& record, bool recovered,
                   const TaskOutputRecord* output = nullptr, const std::string& command = "");
  // A task that never ran because a dependency failed for good: attempt 0, outcome "skipped",
  // and the `reason`.
  void Skipped(const std::string& task_id, std::uint64_t index, const std::string& reason,
               bool recovered);
  void Summary(const RunSummary& summary);

  bool has_lines() const { return !buffer_.empty(); }
  // Moves the lines formatted since the last call to the end of `into`, leaving none here. When
  // `into` is empty the two are swapped, so that the buffers' memory is used again rather than
  // allocated for every batch of lines.
  void TakeLines(std::string& into);
  // Appends whole lines to the file. Throws ResultsError when a write fails (disk full, ...):
  // results must not be lost silently.
  void Write(std::string_view lines);
  // Writes what is formatted, for a caller that formats and writes on one thread.
  void Flush();

  // The (task index, attempt) pairs the file holds, for --resume; attempt 0 for a skipped task.
  std::set<std::pair<std::uint64_t, std::uint32_t>> RecordedAttempts() const;

 private:
  void Line(const std::string& json);
  void AttemptLine(const std::string& task_id, const AttemptResult& r, int worker_rank,
                   const std::string& host, bool will_retry, const std::string& result_json,
                   const std::string& command);

  std::string run_dir_;
  std::string path_;
  std::optional<Dir> logs_;  // where FromJournal looks for output files; none before any ran
  UniqueFd file_;
  std::string buffer_;
};

// `path` relative to `run_dir` when it lies inside it, as results.jsonl names files; else as given.
std::string PathInRunDir(const std::string& run_dir, const std::string& path);

}  // namespace jobrunner
