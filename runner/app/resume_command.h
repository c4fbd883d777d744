#pragma once

// The command that continues a stopped run, printed for the user to paste as is, from any
// directory.

#include <string>
#include <vector>

namespace jobrunner {

struct ResumeCommandInput {
  // This process's command line (/proc/self/cmdline) and its parent's: when the parent is
  // mpirun (mpiexec, orterun) and its command line ends with this process's, mpirun's options
  // before the program come back as they were (-n, --oversubscribe, --allow-run-as-root,
  // --hostfile, ...). Otherwise (srun, an orted on another host, a wrapper in between)
  // `fallback_launcher` stands in: "mpirun -n 4", "srun --mpi=pmix -n 4", or none for local mode.
  std::vector<std::string> own_command_line;
  std::vector<std::string> parent_command_line;
  std::vector<std::string> fallback_launcher;
  std::string binary;    // absolute: the binary that ran
  std::string cwd;       // the run's working directory: relative paths and cwd: resolve in it
  std::string run_dir;   // as the run names it
  std::string manifest;  // as given on the command line
};

// `cd CWD && [LAUNCHER] BINARY --resume RUN_DIR MANIFEST FLAGS`, where FLAGS are this run's own
// flags but --out, --name and --resume (a command list's --timeout, --slots, ... are kept: they
// make its tasks what they were). Words with characters a shell would act on are quoted.
std::string ResumeCommand(const ResumeCommandInput& input);

}  // namespace jobrunner
