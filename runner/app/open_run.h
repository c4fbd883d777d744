#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/run_settings.h"
#include "coordinator/reporter.h"
#include "coordinator/results.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "kinds/kind_registry.h"
#include "manifest/task_source.h"
#include "rundir/run_dir.h"
#include "schedule/scheduler.h"

namespace jobrunner {

// The task kinds a run may use: the built-in ones, the --plugin libraries and the manifest's
// `plugins:` (relative to the manifest's directory), checked against the manifest's `kind:`
// entries. Throws PluginError or ManifestError. `plugins` receives the libraries' absolute paths.
KindRegistry LoadKinds(const std::vector<std::string>& flag_plugins, const TaskSource& source,
                       std::vector<std::string>& plugins);

// What the command line and the manifest (or command list) say a run is, before any run
// directory is touched: the same for a new run and a resumed one.
struct RunPlan {
  std::string manifest_text;  // a YAML manifest's; empty for a command list
  TaskSource source;
  KindRegistry kinds;
  Scheduler scheduler;  // the task graph and each entry's needs
  RunOptions options;   // with the plugins' absolute paths and --time-limit's drain times
};

// Reads the manifest or command list (see LoadInput), its task ids, kinds and dependencies.
// Throws ManifestError or PluginError.
RunPlan PlanRun(const RunSettings& settings);

// A run rank 0 can coordinate: its plan and what it holds open in its run directory, owned
// together so that each part outlives the coordinator that uses it.
struct OpenRun {
  // `journal` is empty with --no-journal. The plan's manifest text stays with the caller.
  OpenRun(RunPlan&& plan, RunDir&& dir, RunLedger&& ledger, std::optional<JournalWriter>&& journal,
          ResultsWriter&& results);

  // Null with --no-journal.
  JournalWriter* journal_or_null() { return journal ? &*journal : nullptr; }

  TaskSource source;
  KindRegistry kinds;
  Scheduler scheduler;
  RunOptions options;  // run_dir and run_number filled in
  RunLedger ledger;
  RunDir dir;  // holds the lock
  std::optional<JournalWriter> journal;
  ResultsWriter results;
};

// Starts a new run: makes its run directory (see CreateRunDir), takes it (RunDir::ForNewRun), and
// creates, in this order, the journal (unless --no-journal), manifest.yaml (a YAML manifest's)
// with a copy of each command list (tasks are read from those copies), and results.jsonl, so
// that a crash at any point leaves a directory that holds no run or one that --resume continues
// (see rundir/run_dir.h). A command list on stdin ("-") is read first. Returns null when there
// is no task to run. Throws what PlanRun throws, RunDirError, JournalError and ResultsError.
//
// For tests of those crashes, JOBRUNNER_TEST_CRASH_AT or JOBRUNNER_TEST_STOP_AT (see
// TestCrashPoint) may name these points, in the order reached: "run-dir-made" (the directory
// exists, its lock not yet taken), "run-dir-locked" (taken, nothing looked at yet),
// "journal-header-synced" (the journal's temporary file is whole), "journal-created",
// "manifest-copied", "results-created"; and, on the thread that copies a command list,
// "list-partly-copied" (its first block copied, the copy not yet named: see CopyListIntoRunDir).
std::unique_ptr<OpenRun> OpenNewRun(const RunSettings& settings);

// Continues the run in settings.resume_dir: takes it (RunDir::ForResume) and replays its journal
// (see PrepareResume) so that the scheduler holds only what is left to do; a command list whose
// copy never became whole (the run was killed while it copied it) is copied again from the list
// given, and a resume given that unfinished copy of a list read from stdin is refused, naming
// the way on. Throws what PlanRun throws, RunDirError and ResumeError.
std::unique_ptr<OpenRun> ResumeRun(const RunSettings& settings, Reporter& reporter);

}  // namespace jobrunner
