#pragma once

// The exit statuses of every jobrunner process, in one place. Every rank of a run exits with the
// same one (the coordinator sends it in its Shutdown), so mpirun, srun and `jobrunner launch`
// report it unchanged; the README's "Exit status" table documents them.

namespace jobrunner {

inline constexpr int kExitSucceeded = 0;    // every task succeeded
inline constexpr int kExitTasksFailed = 1;  // some task did not succeed after its retries
inline constexpr int kExitUsage = 2;        // a manifest or usage error (or a task too big for
                                            // every worker): nothing ran
inline constexpr int kExitInternal = 3;     // a bug, an unexpected system failure, or ranks of
                                            // different builds
inline constexpr int kExitInterrupted = 4;  // stopped early (drain, signal, full disk): --resume

// A rank that a signal stops before the coordinator can end the run exits as shells report a
// process the signal killed.
inline constexpr int ExitStatusOfSignal(int signal) { return 128 + signal; }

// `jobrunner launch` when mpirun cannot be started, as shells report a command they cannot run.
inline constexpr int kExitCannotStart = 127;

}  // namespace jobrunner
