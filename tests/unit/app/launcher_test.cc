#include "app/launcher.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

using jobrunner::DetectLaunch;
using jobrunner::LaunchEnvironment;

namespace {

LaunchEnvironment Detect(const std::map<std::string, std::string>& environment,
                         bool local_flag = false) {
  return DetectLaunch(local_flag, [&](const char* name) -> const char* {
    auto it = environment.find(name);
    return it == environment.end() ? nullptr : it->second.c_str();
  });
}

}  // namespace

TEST_CASE("A process no launcher started runs in local mode, even inside a Slurm allocation") {
  CHECK_FALSE(Detect({}).mpi);
  // An sbatch script that runs jobrunner itself, not through srun: one process.
  const LaunchEnvironment batch = Detect({{"SLURM_JOB_ID", "42"}, {"SLURM_NTASKS", "8"}});
  CHECK_FALSE(batch.mpi);
  CHECK(batch.ranks == 0);
}

TEST_CASE("mpirun, PMIx and PMI launchers each start MPI") {
  const LaunchEnvironment mpirun =
      Detect({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "0"}});
  CHECK(mpirun.mpi);
  CHECK(mpirun.reason == "OMPI_COMM_WORLD_SIZE");
  CHECK(mpirun.ranks == 4);
  const LaunchEnvironment srun =
      Detect({{"PMIX_RANK", "0"}, {"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "3"}});
  CHECK(srun.mpi);
  CHECK(srun.reason == "PMIX_RANK");
  CHECK(srun.ranks == 3);
  CHECK(Detect({{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}}).mpi);
  CHECK(Detect({{"PMI_SIZE", "2"}}).ranks == 2);
}

TEST_CASE(
    "The --local flag wins over the environment, and JOBRUNNER_MPI=1 starts MPI without a "
    "launcher") {
  const LaunchEnvironment local = Detect({{"OMPI_COMM_WORLD_SIZE", "1"}}, /*local_flag=*/true);
  CHECK_FALSE(local.mpi);
  CHECK(local.ranks == 1);
  CHECK(Detect({{"JOBRUNNER_MPI", "1"}}).mpi);
  CHECK(Detect({{"JOBRUNNER_MPI", "1"}}).reason == "JOBRUNNER_MPI=1");
  CHECK_FALSE(Detect({{"JOBRUNNER_MPI", "0"}}).mpi);
}

TEST_CASE("A job size that is not a whole number in range is taken from the next variable") {
  CHECK(Detect({{"OMPI_COMM_WORLD_SIZE", "4x"}, {"PMI_SIZE", "2"}}).ranks == 2);
  CHECK(Detect({{"OMPI_COMM_WORLD_SIZE", "99999999999"}, {"PMI_SIZE", "2"}}).ranks == 2);
  CHECK(Detect({{"OMPI_COMM_WORLD_SIZE", ""}}).ranks == 0);
  CHECK(Detect({{"OMPI_COMM_WORLD_SIZE", "-3"}}).ranks == 0);
}
