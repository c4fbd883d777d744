#pragma once

#include <functional>
#include <string>

namespace jobrunner {

// Whether an MPI launcher started this process as a rank of a job, as its environment says.
// jobrunner initialises MPI only then; started on its own (`jobrunner m.yaml`), it runs in local
// mode: the coordinator and one worker in this process, joined in memory, with no MPI at all.
//
// The rule, in order:
// - `--local` (the caller's): local mode, whatever the environment says;
// - JOBRUNNER_MPI=1: MPI, for a launcher the rule below does not know;
// - OMPI_COMM_WORLD_SIZE (mpirun, orterun), PMIX_RANK (PMIx: srun --mpi=pmix, prterun) or
//   PMI_RANK / PMI_SIZE (PMI-1 and PMI-2: srun --mpi=pmi2, Hydra) set: MPI;
// - otherwise local mode.
// Those are the variables by which a launcher hands a process its rank; Open MPI cannot join a job
// without one of them, and a process that has none would start as an MPI singleton, a world of
// one rank: local mode runs that same world, without MPI's start-up. Tasks never inherit them
// (ChildEnvironment drops OMPI_ and PMIX_ variables), so a jobrunner started by a task runs in
// local mode unless told otherwise.
struct LaunchEnvironment {
  bool mpi = false;    // initialise MPI
  std::string reason;  // the variable or setting that decided it, for messages
  int ranks = 0;       // the job's rank count when the environment tells it; 0: unknown
};

// `lookup` returns a variable's value, or null when it is unset (getenv does).
LaunchEnvironment DetectLaunch(bool local_flag,
                               const std::function<const char*(const char*)>& lookup);

}  // namespace jobrunner
