#pragma once

// The command lines of `jobrunner launch`: its own options (a CLI11 subcommand of jobrunner's
// command line), the jobrunner flags it passes on (and rewrites to resume), and the mpirun
// command of each launch. Pure: no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "launch/host_list.h"

namespace CLI {
class App;
}

namespace jobrunner {

struct LaunchOptions {
  std::string hostfile;    // --hostfile
  std::string hosts;       // --hosts
  int ranks_per_host = 1;  // --ranks-per-host: workers on a host that gives no count
  std::string rsh_agent = "ssh";
  std::string interface;  // --interface: the network for MPI traffic
  std::int64_t probe_timeout_ms = 5000;
  int max_launches = 10;
  std::vector<std::pair<std::string, std::string>> mca;  // --mca KEY VALUE, in order
  std::vector<std::string> mpirun_args;                  // --mpirun-arg
  std::string mpirun = "mpirun";
  std::string jobrunner;               // --jobrunner; empty: this binary
  std::string manifest;                // after --
  std::vector<std::string> run_flags;  // jobrunner flags after the manifest
};

// Adds `launch` and its options to jobrunner's command line `app`; parsing fills `options`.
CLI::App* AddLaunchCommand(CLI::App& app, LaunchOptions& options);

// Parses jobrunner's command line `words` (those after the program's name) with `app`, to which
// AddLaunchCommand added `launch`. When the words start with `launch`, those after its first --
// are not parsed: they are the manifest and jobrunner's flags, passed on to every launch. Returns
// launch's usage errors, in its own words ("--hosts needs a value"); --help, --version and the
// errors of the rest of the command line are thrown, as CLI::App::parse throws them.
Status ParseCommandLine(CLI::App& app, std::vector<std::string> words, LaunchOptions& options);

// The run directory flags among the jobrunner flags, which the launch must know and rewrite.
struct RunDirFlags {
  std::string out, resume, name;
  std::string time_limit;  // as given; every launch gets what is left of it (JobrunnerFlags)
  bool no_journal = false;
  bool retry_failed = false;
  std::vector<std::string> rest;  // every other flag, in order
};

// Splits jobrunner flags (`--out DIR` or `--out=DIR`, likewise --resume, --name and
// --time-limit).
// Returns an error message for a flag missing its value, or "".
std::string SplitRunDirFlags(const std::vector<std::string>& flags, RunDirFlags& split);

// The jobrunner flags of one launch into `run_dir`: `--out run_dir` to start the run, or
// `--resume run_dir` to continue it. --retry-failed goes only with the `first` launch: a relaunch
// continues where the aborted launch stopped and does not give tasks that failed there their
// retries again. With `time_left_ms`, `--time-limit <that>ms`: a relaunch must end with the
// allocation the first launch was given, not a whole time limit later.
std::vector<std::string> JobrunnerFlags(const RunDirFlags& flags, const std::string& run_dir,
                                        bool resume, bool first,
                                        std::optional<std::int64_t> time_left_ms = std::nullopt);

// The whole mpirun command of one launch. `hostfile` is the file holding MpirunHostfile(hosts).
// Our MCA settings come first, each left out when the user set the same key with --mca.
std::vector<std::string> MpirunCommand(const LaunchOptions& options, const std::vector<Host>& hosts,
                                       const std::string& hostfile, const std::string& jobrunner,
                                       bool as_root,
                                       const std::vector<std::string>& jobrunner_flags);

// The argv of a probe: `AGENT HOST true`, with batch-mode options when the agent is ssh, so that
// a host that asks for a password or does not answer fails instead of waiting.
std::vector<std::string> ProbeCommand(const std::string& rsh_agent, const std::string& host,
                                      std::int64_t timeout_ms);

// Splits on whitespace, as Open MPI splits plm_rsh_agent.
std::vector<std::string> SplitWords(const std::string& text);

}  // namespace jobrunner
