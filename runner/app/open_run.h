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

// What the command line and the manifest say a run is, before any run directory is touched: the
// same for a new run and a resumed one.
struct RunPlan {
  std::string manifest_text;
  TaskSource source;
  KindRegistry kinds;
  Scheduler scheduler;  // the task graph and each entry's needs
  RunOptions options;   // with the plugins' absolute paths and --time-limit's drain times
};

// Reads the manifest, its task ids, kinds and dependencies. Throws ManifestError or PluginError.
RunPlan PlanRun(const RunSettings& settings);

// A run rank 0 can coordinate: its plan and what it holds open in its run directory, owned
// together so that each part outlives the coordinator that uses it.
struct OpenRun {
  // Takes the run directory's lock, then opens results.jsonl (for appending when `resuming`).
  // The plan's manifest text stays with the caller.
  OpenRun(RunPlan&& plan, const std::string& run_dir, bool resuming);

  // Null with --no-journal.
  JournalWriter* journal_or_null() { return journal ? &*journal : nullptr; }

  TaskSource source;
  KindRegistry kinds;
  Scheduler scheduler;
  RunOptions options;  // run_dir and run_number filled in
  RunLedger ledger;
  RunDirLock lock;
  ResultsWriter results;
  std::optional<JournalWriter> journal;  // empty with --no-journal
};

// Starts a new run: creates its run directory (see CreateRunDir) with a copy of the manifest,
// results.jsonl and, unless --no-journal, the journal. Throws what PlanRun and CreateRunDir throw,
// and JournalError.
std::unique_ptr<OpenRun> OpenNewRun(const RunSettings& settings);

// Continues the run in settings.resume_dir: replays its journal (see PrepareResume) so that the
// scheduler holds only what is left to do. Throws what PlanRun throws, and ResumeError.
std::unique_ptr<OpenRun> ResumeRun(const RunSettings& settings, Reporter& reporter);

}  // namespace jobrunner
