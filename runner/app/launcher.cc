#include "app/launcher.h"

#include <charconv>
#include <string_view>

namespace jobrunner {
namespace {

// The job's size from whichever variable the launcher set; 0 when none says.
int RankCount(const std::function<const char*(const char*)>& lookup) {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    const char* value = lookup(variable);
    if (value == nullptr) continue;
    // Only a whole number counts: "4x" or a number beyond int says nothing reliable.
    const std::string_view text(value);
    int ranks = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ranks);
    if (error == std::errc() && end == text.data() + text.size() && ranks > 0) return ranks;
  }
  return 0;
}

}  // namespace

LaunchEnvironment DetectLaunch(bool local_flag,
                               const std::function<const char*(const char*)>& lookup) {
  LaunchEnvironment launch;
  launch.ranks = RankCount(lookup);
  if (local_flag) {
    launch.reason = "--local";
    return launch;
  }
  const char* forced = lookup("JOBRUNNER_MPI");
  if (forced != nullptr && std::string(forced) == "1") {
    launch.mpi = true;
    launch.reason = "JOBRUNNER_MPI=1";
    return launch;
  }
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (lookup(variable) != nullptr) {
      launch.mpi = true;
      launch.reason = variable;
      return launch;
    }
  }
  launch.reason = "no MPI launcher in the environment";
  return launch;
}

}  // namespace jobrunner
