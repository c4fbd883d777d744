#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "coordinator/reporter.h"
#include "coordinator/results.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "manifest/task_source.h"
#include "posix/dir.h"

namespace jobrunner {

// A resume that cannot go ahead: no journal, a damaged one, or a manifest that changed. Exit 2.
class ResumeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What changed between the manifest a run started with and the one given now, in a line: the
// task counts and the first line that differs.
std::string DescribeManifestChange(const std::string& before, const std::string& now,
                                   std::uint64_t tasks_before, std::uint64_t tasks_now);

// The first line that differs between a command list's copy `copy_name` in the run directory
// and the list at `now_path`, read a line at a time: "tasks.txt:12 was 'exit 1', is 'echo
// fixed'" (`name` names the list), or empty when they are the same (or the copy cannot be read).
// A copy that is missing (the run was killed while it copied the list, and a copy is named only
// once whole) has no line to compare: the answer says so, and names no line.
std::string DescribeListChange(const Dir& run_dir, const std::string& copy_name,
                               const std::string& now_path, const std::string& name);

struct ResumeOptions {
  // The manifest's text (empty for a command list alone), for manifest.yaml if it is missing.
  std::string manifest_text;
  std::uint64_t input_hash = 0;  // of what the tasks come from now (InputHash)
  // Says what changed since the run started, when the hash differs (called only then).
  std::function<std::string(std::uint64_t tasks_before)> describe_change;
  bool force = false;  // go on with a changed manifest
};

// Brings a run directory back to a consistent state and tells what is left to do:
//  - replays the journal into `ledger` (a torn last record is dropped with a warning; damage in
//    the middle is a ResumeError naming its offset),
//  - refuses a manifest (or command list) whose hash differs from the journal's unless `force`,
//  - writes to results.jsonl every attempt the journal records and the file lacks (marked
//    recovered), and records each attempt the run was stopped under as interrupted,
//  - writes manifest.yaml if a start cut short left none (and the manifest is the run's).
// `run_dir` is the run directory, its lock held. Returns the journal, open for appending.
JournalWriter PrepareResume(const ResumeOptions& options, const Dir& run_dir,
                            const TaskSource& source, RunLedger& ledger, ResultsWriter& results,
                            Reporter& reporter);

}  // namespace jobrunner
