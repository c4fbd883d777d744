#pragma once

// `jobrunner launch`: a supervisor that runs a manifest under mpirun across several hosts and
// turns the loss of a host into seconds of lost time. Open MPI 4.1 ends the whole job when a
// host dies (and, without keepalive settings, hangs when a link goes down); the launch runs
// mpirun with settings that make it notice quickly, finds the lost host when mpirun ends early,
// leaves it out and continues the run with --resume on the others, until the run ends, no host
// is left or --max-launches is reached.

#include <string>

#include "launch/launch_command.h"

namespace jobrunner {

// `options` as ParseCommandLine filled them in. Returns the process's exit status: the last
// launch's (jobrunner's summary status when it wrote one, else mpirun's), or 2 for a usage error.
int RunLaunch(const LaunchOptions& options);

// Says what is wrong with launch's command line, on stderr; returns the exit status for it.
int LaunchUsageError(const std::string& message);

}  // namespace jobrunner
