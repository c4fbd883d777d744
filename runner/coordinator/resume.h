#pragma once

#include <cstdint>
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

// FNV-1a over the manifest's bytes: the journal's header keeps it to recognise its manifest.
std::uint64_t ManifestHash(const std::string& text);

// What changed between the manifest a run started with and the one given now, in a line: the
// task counts and the first line that differs.
std::string DescribeManifestChange(const std::string& before, const std::string& now,
                                   std::uint64_t tasks_before, std::uint64_t tasks_now);

struct ResumeOptions {
  std::string manifest_text;
  bool force = false;  // go on with a changed manifest
};

// Brings a run directory back to a consistent state and tells what is left to do:
//  - replays the journal into `ledger` (a torn last record is dropped with a warning; damage in
//    the middle is a ResumeError naming its offset),
//  - refuses a manifest whose hash differs from the journal's unless `force`,
//  - writes to results.jsonl every attempt the journal records and the file lacks (marked
//    recovered), and records each attempt the run was stopped under as interrupted,
//  - writes manifest.yaml if a start cut short left none (and the manifest is the run's).
// `run_dir` is the run directory, its lock held. Returns the journal, open for appending.
JournalWriter PrepareResume(const ResumeOptions& options, const Dir& run_dir,
                            const TaskSource& source, RunLedger& ledger, ResultsWriter& results,
                            Reporter& reporter);

}  // namespace jobrunner
