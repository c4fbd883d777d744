#pragma once

#include <cstdint>

#include "app/run_settings.h"
#include "base/exit_status.h"
#include "coordinator/reporter.h"
#include "transport/transport.h"

namespace jobrunner {

// Rank 0's life: load the manifest, set up (or resume) the run directory, coordinate until the
// run ends, and return its exit status (base/exit_status.h). With a one-rank world, a worker runs
// in this process too. Every early failure still sends every worker a Shutdown, so none waits for
// work forever.
int RunCoordinatorRank(Transport& transport, const RunSettings& settings, Reporter& reporter);

// A worker rank's life: run tasks until the coordinator says Shutdown; return the status it sent.
int RunWorkerRank(Transport& transport, int rank, std::int64_t kill_grace_ms,
                  const WorkerSettings& settings);

}  // namespace jobrunner
