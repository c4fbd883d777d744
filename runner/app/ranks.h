#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "coordinator/coordinator.h"
#include "coordinator/reporter.h"
#include "kinds/kind_registry.h"
#include "transport/transport.h"

namespace jobrunner {

// What a worker rank says of itself beyond what it finds on its node (every rank parses the same
// command line, or its own part of an MPMD one).
struct WorkerSettings {
  std::vector<std::string> tags;  // --worker-tags
  int gpus_per_worker = 0;        // --gpus-per-worker; 0: the node's CUDA_VISIBLE_DEVICES
};

// Everything rank 0 needs to start or resume a run, from the command line.
struct RunSettings {
  std::string manifest;
  std::string out;         // --out, or empty for jobrunner-out/<name>/
  std::string name;        // --name
  std::string resume_dir;  // --resume, or empty for a new run
  bool force = false;      // --force: resume with a changed manifest
  bool retry_failed = false;
  bool journal = true;                        // --no-journal turns it off
  std::optional<std::int64_t> time_limit_ms;  // --time-limit
  std::vector<std::string> plugins;           // --plugin, as given
  WorkerSettings worker;
  RunOptions options;
};

// Rank 0's life: load the manifest, set up (or resume) the run directory, coordinate until the
// run ends, and return its exit status. With a one-rank world, a worker runs in this process too.
// Every early failure still sends every worker a Shutdown, so none waits for work forever.
int RunCoordinatorRank(Transport& transport, const RunSettings& settings, Reporter& reporter);

// The task kinds a run may use: the built-in ones, the --plugin libraries and the manifest's
// `plugins:` (relative to the manifest's directory), checked against the manifest's `kind:`
// entries. Throws PluginError or ManifestError. `plugins` receives the libraries' absolute paths.
KindRegistry LoadKinds(const std::vector<std::string>& flag_plugins, const TaskSource& source,
                       std::vector<std::string>& plugins);

// A worker rank's life: run tasks until the coordinator says Shutdown; return the status it sent.
int RunWorkerRank(Transport& transport, int rank, std::int64_t kill_grace_ms,
                  const WorkerSettings& settings);

}  // namespace jobrunner
