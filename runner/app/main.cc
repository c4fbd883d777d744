// jobrunner: a job farm over MPI. Rank 0 coordinates, the other ranks run tasks; with one rank,
// rank 0 does both, and started without an MPI launcher it does so without MPI (launcher.h). This
// file owns the command line, the exit statuses and the only catch of unexpected exceptions.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <boost/mpi/environment.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "app/check.h"
#include "app/help_formatter.h"
#include "app/launcher.h"
#include "app/open_run.h"
#include "app/ranks.h"
#include "coordinator/reporter.h"
#include "inspect/commands.h"
#include "kinds/kind_registry.h"
#include "launch/launch.h"
#include "manifest/units.h"
#include "posix/orphan_guard.h"
#include "posix/signals.h"
#include "posix/this_process.h"
#include "schedule/resources.h"
#include "transport/transport.h"
#include "worker/kind_helper.h"
#include "worker/kind_runner.h"

namespace jobrunner {
namespace {

constexpr const char* kDescription =
    "jobrunner: run the tasks of a YAML manifest, or a list of commands, across MPI ranks.\n"
    "  mpirun -n N jobrunner [OPTIONS] MANIFEST   (rank 0 coordinates, ranks 1..N-1 run tasks)\n"
    "  jobrunner [OPTIONS] MANIFEST               (one process does both, without MPI)\n"
    "  jobrunner COMMAND ...                      (a command below; jobrunner COMMAND --help)\n"
    "MANIFEST ending in .yaml or .yml is a manifest; any other file, or - for stdin, is a command\n"
    "list: one shell command a line, with disBatch's #DISBATCH directives.\n"
    "Exit status: 0 all tasks succeeded, 1 some task failed after its retries,\n"
    "2 manifest or usage error, 3 internal error, 4 stopped early (continue with --resume).\n"
    "SIGUSR1 (mpirun forwards it) or a first Ctrl-C drains the run; SIGTERM stops it at once.";

struct Flags {
  RunSettings settings;
  std::string max_output = "100M";
  std::string kill_grace = "5s";
  std::string retry_backoff = "200ms";
  std::string drain_grace = "60s";
  std::string worker_timeout = "30s";
  std::string time_limit;
  std::string worker_tags;
  std::string progress = "auto";
  std::string format = "auto";
  std::string timeout;
  std::vector<std::string> env;
  std::string max_failures;
  bool no_journal = false;
  bool quiet = false;
  bool verbose = false;
  bool check = false;
  bool dry_run = false;
  std::uint64_t dry_run_tasks = 10;
  bool list_kinds = false;
  bool local = false;
};

// Ranks other than 0 stay silent about usage, so mpirun -n 8 prints one message, not eight.
bool IsRankZero() {
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (rank == nullptr) rank = std::getenv("PMIX_RANK");
  return rank == nullptr || std::string(rank) == "0";
}

void UsageError(const std::string& message) {
  if (IsRankZero()) std::fprintf(stderr, "jobrunner: %s (see jobrunner --help)\n", message.c_str());
}

bool ParseDurationFlag(const char* flag, const std::string& text, std::int64_t& out) {
  std::optional<std::int64_t> ms = ParseDurationMs(text);
  if (std::optional<std::string> over = DurationOverLimit(text)) {
    UsageError(std::string(flag) + ": " + *over);
    return false;
  }
  if (!ms) {
    UsageError(std::string(flag) + ": expected a duration like 500ms, 30s, 10m or 2h, got '" +
               text + "'");
    return false;
  }
  out = *ms;
  return true;
}

// The flags that say how to read MANIFEST: --format, and a command list's defaults. Also for
// --check and --dry-run, which need nothing else.
bool CompleteInput(Flags& flags) {
  InputOptions& input = flags.settings.input;
  input.format = flags.format == "yaml"   ? InputFormat::kYaml
                 : flags.format == "list" ? InputFormat::kList
                                          : InputFormat::kAuto;
  if (!flags.timeout.empty() &&
      !ParseDurationFlag("--timeout", flags.timeout, input.list.timeout_ms)) {
    return false;
  }
  for (const std::string& assignment : flags.env) {
    const std::size_t equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      UsageError("--env: expected NAME=value, got '" + assignment + "'");
      return false;
    }
    input.list.env.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
  }
  const std::string& shell = input.list.shell_program;
  if (shell.find_first_of(" \t") != std::string::npos) {
    UsageError("--shell: expected one program, run as PROGRAM -c COMMAND, got '" + shell + "'");
    return false;
  }
  const bool list_defaults = !flags.timeout.empty() || input.list.retries > 0 ||
                             !input.list.cwd.empty() || !input.list.env.empty();
  if (list_defaults && IsYamlInput(flags.settings.manifest, input.format)) {
    UsageError(
        "--timeout, --retries, --cwd and --env set what a command list's tasks get; a manifest "
        "says it in its defaults:");
    return false;
  }
  if (!flags.max_failures.empty()) {
    flags.settings.max_failures = ParseFailureLimit(flags.max_failures);
    if (!flags.settings.max_failures) {
      UsageError(
          "--max-failures: expected a count of at least 1, like 10, or a share of the "
          "tasks up to 100%, like 5%, got '" +
          flags.max_failures + "'");
      return false;
    }
  }
  return true;
}

// Turns the flags' text into settings; false (after a message) when one does not parse.
bool Complete(Flags& flags) {
  RunOptions& options = flags.settings.options;
  std::optional<std::uint64_t> max_output = ParseByteSize(flags.max_output);
  if (std::optional<std::string> over = ByteSizeOverLimit(flags.max_output)) {
    UsageError("--max-output: " + *over);
    return false;
  }
  if (!max_output || *max_output == 0) {
    UsageError("--max-output: expected a size like 64K, 100M or 2G, got '" + flags.max_output +
               "'");
    return false;
  }
  options.max_output = *max_output;
  if (!ParseDurationFlag("--kill-grace", flags.kill_grace, options.kill_grace_ms) ||
      !ParseDurationFlag("--retry-backoff", flags.retry_backoff,
                         options.scheduler.retry.backoff_ms) ||
      !ParseDurationFlag("--drain-grace", flags.drain_grace, options.drain_grace_ms) ||
      !ParseDurationFlag("--worker-timeout", flags.worker_timeout, options.worker_timeout_ms)) {
    return false;
  }
  if (!flags.time_limit.empty()) {
    std::int64_t limit = 0;
    if (!ParseDurationFlag("--time-limit", flags.time_limit, limit)) return false;
    flags.settings.time_limit_ms = limit;
  }
  if (!flags.worker_tags.empty()) {
    std::string error;
    std::optional<std::vector<std::string>> tags = ParseTagList(flags.worker_tags, error);
    if (!tags) {
      UsageError("--worker-tags: " + error);
      return false;
    }
    flags.settings.worker.tags = std::move(*tags);
  }
  flags.settings.journal = !flags.no_journal;
  if (!flags.settings.resume_dir.empty() && (flags.no_journal || !flags.settings.out.empty())) {
    UsageError(
        "--resume continues the run in its own directory, with its journal: it does not "
        "go with --out or --no-journal");
    return false;
  }
  return true;
}

ProgressMode ToProgressMode(const std::string& text) {
  if (text == "bar") return ProgressMode::kBar;
  if (text == "log") return ProgressMode::kLog;
  if (text == "none") return ProgressMode::kNone;
  return DetectProgressMode();
}

int ListKinds(const std::vector<std::string>& flag_plugins) {
  try {
    KindRegistry kinds;
    for (const std::string& path : flag_plugins) kinds.LoadPlugin(path);
    std::printf("%-16s %s (%s)\n", "python",
                "calls a Python function in a warm interpreter: args {function, kwargs, args}",
                "built-in");
    for (const auto& [kind, origin] : kinds.List()) {
      std::printf("%-16s %s (%s)\n", kind->Name(), kind->Description(), origin.c_str());
    }
    return kExitSucceeded;
  } catch (const PluginError& e) {
    std::fprintf(stderr, "jobrunner: %s\n", e.what());
    return kExitUsage;
  }
}

// Local mode: the coordinator and one worker in this process, and no MPI (see launcher.h).
int RunLocal(const Flags& flags, Verbosity verbosity) {
  std::unique_ptr<Transport> world = MakeWorldOfOne();
  InstallInterruptHandlers();
  try {
    Reporter reporter(ToProgressMode(flags.progress), verbosity);
    return RunCoordinatorRank(*world, flags.settings, reporter);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobrunner: internal error: %s\n", e.what());
    return kExitInternal;
  }
}

int Run(const Flags& flags) {
  Verbosity verbosity = flags.quiet     ? Verbosity::kQuiet
                        : flags.verbose ? Verbosity::kVerbose
                                        : Verbosity::kNormal;
  const LaunchEnvironment launch =
      DetectLaunch(flags.local, [](const char* name) { return std::getenv(name); });
  if (!launch.mpi) {
    if (launch.ranks > 1) {
      UsageError(fmt::format(
          "--local: this process is one of {} ranks a launcher started, and each would run "
          "every task; run jobrunner --local without a launcher, or without --local under one",
          launch.ranks));
      return kExitUsage;
    }
    return RunLocal(flags, verbosity);
  }
  // Ranks never wait inside MPI (they sleep in ppoll and poll with iprobe), so Open MPI's yield
  // when idle, which --oversubscribe turns on, only adds a sched_yield to every poll: about 3% of
  // the rate of /bin/true tasks. Read by MPI_Init; a user's own setting wins.
  setenv("OMPI_MCA_mpi_yield_when_idle", "0", /*overwrite=*/0);
  // Before MPI_Init, which takes a moment: a drain or stop signal that comes meanwhile is kept
  // for the loop to act on, rather than ending the rank with the signal's default action.
  InstallInterruptHandlers();
  boost::mpi::environment environment(boost::mpi::threading::single, false);
  if (!InterruptHandlersKept()) InstallInterruptHandlers();  // should MPI_Init have replaced them
  std::unique_ptr<Transport> transport = MakeMpiTransport();
  int rank = transport->rank();
  try {
    if (rank == 0) {
      Reporter reporter(ToProgressMode(flags.progress), verbosity);
      return RunCoordinatorRank(*transport, flags.settings, reporter);
    }
    return RunWorkerRank(*transport, rank, flags.settings.options.kill_grace_ms,
                         flags.settings.worker);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobrunner: internal error on rank %d: %s\n", rank, e.what());
    (void)std::fflush(stderr);  // the job is aborted next, whether or not this line got out
    environment.abort(kExitInternal);
  }
  return kExitInternal;
}

}  // namespace
}  // namespace jobrunner

int main(int argc, char** argv) try {
  // A worker's sidecar (see orphan_guard.h), started from this same binary; not for users.
  if (argc == 3 && std::string(argv[1]) == "--orphan-guard") {
    return jobrunner::RunOrphanGuard(argv[2]);
  }
  // An isolated task kind's helper (see kind_helper.h), started by a worker; not for users.
  if (argc == 4 && std::string(argv[1]) == "--run-kind") {
    return jobrunner::RunKindHelper(argv[2], argv[3]);
  }
  using jobrunner::Flags;
  Flags flags;
  jobrunner::RunSettings& s = flags.settings;
  CLI::App app{jobrunner::kDescription, "jobrunner"};
  auto* manifest = app.add_option(
      "manifest", s.manifest,
      "The manifest (.yaml, .yml) or command list (any other file; - for stdin) to run");
  app.add_option("--format", flags.format,
                 "Read MANIFEST as yaml or as a command list, whatever its name (default: auto)")
      ->check(CLI::IsMember({"auto", "yaml", "list"}));
  app.add_option("--timeout", flags.timeout,
                 "A command list's tasks: wall-time limit per attempt (e.g. 30s, 10m)");
  app.add_option("--retries", s.input.list.retries,
                 "A command list's tasks: further attempts after a failed one (default: 0)")
      ->check(CLI::Range(0, 100));
  app.add_option("--cwd", s.input.list.cwd,
                 "A command list's tasks: their working directory (default: jobrunner's)");
  app.add_option("--env", flags.env,
                 "A command list's tasks: set NAME=value in their environment (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--shell", s.input.list.shell_program,
                 "The program that runs string commands and command lists' lines, as PROGRAM -c "
                 "COMMAND (default: /bin/bash where a worker has it, else /bin/sh); a manifest's "
                 "shell: wins");
  app.add_option("--max-failures", flags.max_failures,
                 "Once N tasks (or P% of them) failed for good, start no new task and end the "
                 "run when the running ones have (exit 1); overrides the manifest's "
                 "max_failures");
  app.add_option("--out", s.out,
                 "Run directory for results.jsonl, journal and logs/ (default: "
                 "jobrunner-out/<name>/)");
  app.add_option("--name", s.name,
                 "Run name under jobrunner-out/ (default: manifest name and start time)");
  app.add_option("--resume", s.resume_dir,
                 "Continue the run in this directory: tasks that succeeded are not run again")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--retry-failed", s.retry_failed,
               "With --resume: give tasks that failed for good their retries again");
  app.add_flag("--force", s.force, "With --resume: go on although the manifest changed");
  app.add_option("--slots", s.options.slots,
                 "Tasks each worker rank runs at once (default: cores of its node divided by the "
                 "worker ranks on it)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--worker-tags", flags.worker_tags,
                 "Tags of this process's workers, comma-separated, which tasks' tags: must "
                 "match (each worker also has node:<its host name>)");
  app.add_option("--gpus-per-worker", s.worker.gpus_per_worker,
                 "GPUs each worker rank has, instead of its node's CUDA_VISIBLE_DEVICES: the "
                 "workers of a host get ids 0..N-1, N..2N-1, ...")
      ->check(CLI::Range(0, 1024));
  app.add_option("--max-output", flags.max_output,
                 "Cap on each task's stdout and on its stderr, per attempt (default: 100M)");
  app.add_option("--kill-grace", flags.kill_grace,
                 "After a timeout's SIGTERM, wait this long before SIGKILL (default: 5s)");
  app.add_option("--retry-backoff", flags.retry_backoff,
                 "Delay before a first retry; doubles with each further one, up to 60s "
                 "(default: 200ms)");
  app.add_option("--max-worker-failures", s.options.scheduler.max_worker_failures,
                 "Retire a worker after this many tasks in a row failed on it and then succeeded "
                 "elsewhere; 0: never (default: 5)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--drain-grace", flags.drain_grace,
                 "When draining, how long running tasks may finish before they are killed "
                 "(default: 60s)");
  app.add_option("--worker-timeout", flags.worker_timeout,
                 "End the run (exit 4, resumable) when a worker rank sends nothing, not even its "
                 "heartbeat, for this long: it was stopped; 0 never (default: 30s)");
  app.add_option("--time-limit", flags.time_limit,
                 "Drain on our own so that the run ends before this much time has passed "
                 "(e.g. the batch job's limit)");
  app.add_flag("--no-journal", flags.no_journal,
               "Write no journal (the run cannot be resumed); for measuring its cost");
  app.add_option("--progress", flags.progress,
                 "auto: a live line on a terminal, a log line every 5s otherwise (default: auto)")
      ->check(CLI::IsMember({"auto", "bar", "log", "none"}));
  auto* quiet = app.add_flag("-q,--quiet", flags.quiet, "Print only errors");
  app.add_flag("-v,--verbose", flags.verbose, "Log every attempt and worker")->excludes(quiet);
  app.add_flag("--check", flags.check,
               "Validate the manifest, print the task count and exit (no MPI needed)");
  app.add_flag("--dry-run", flags.dry_run,
               "Check as --check does, then print the first tasks as they would run: id, "
               "file:line, command with its shell, cwd, environment, needs (no MPI needed)");
  app.add_option("--dry-run-tasks", flags.dry_run_tasks,
                 "How many tasks --dry-run prints (default: 10)");
  app.add_option("--plugin", s.plugins,
                 "Load task kinds from this shared library (repeatable; see "
                 "jobrunner/task_kind.h)")
      ->allow_extra_args(false);
  app.add_flag("--local", flags.local,
               "Run in this process without MPI, even where a launcher's variables are set "
               "(default: without MPI unless an MPI launcher started this process)");
  app.add_flag("--list-kinds", flags.list_kinds,
               "List the task kinds (built-in and from --plugin) and exit");
  app.set_version_flag("--version", std::string("jobrunner ") + JOBRUNNER_VERSION);
  // The multi-host supervisor (see launch.h), which runs mpirun itself.
  jobrunner::LaunchOptions launch_options;
  CLI::App* launch = jobrunner::AddLaunchCommand(app, launch_options);
  // `jobrunner status`, `logs`, `failed` and `report`: they look at a run, without MPI.
  jobrunner::InspectCommands inspect(app);
  for (CLI::App* command : app.get_subcommands({})) command->group("Commands");
  app.formatter(std::make_shared<jobrunner::CommandsFirstFormatter>());
  try {
    const jobrunner::Status launch_error =
        jobrunner::ParseCommandLine(app, {argv + 1, argv + argc}, launch_options);
    if (!launch_error.ok()) return jobrunner::LaunchUsageError(launch_error.message());
  } catch (const CLI::Success& e) {  // --help or --version
    return jobrunner::IsRankZero() ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    jobrunner::UsageError(e.what());
    return jobrunner::kExitUsage;
  }
  if (launch->parsed()) return jobrunner::RunLaunch(launch_options);
  if (std::optional<int> status = inspect.RunChosen()) return *status;
  if (flags.list_kinds) return jobrunner::ListKinds(s.plugins);
  if (manifest->count() == 0) {
    jobrunner::UsageError("a manifest is required");
    return jobrunner::kExitUsage;
  }
  if (!jobrunner::CompleteInput(flags)) return jobrunner::kExitUsage;
  if (flags.check) return jobrunner::Check(s.manifest, s.input, s.plugins);
  if (flags.dry_run) return jobrunner::DryRun(s.manifest, s.input, s.plugins, flags.dry_run_tasks);
  if (!jobrunner::Complete(flags)) return jobrunner::kExitUsage;
  const int status = jobrunner::Run(flags);
  // A kind that ignored its timeout may still be running on its thread, and may return any
  // moment: ending now without static destructors keeps it from using what they destroy.
  if (jobrunner::KindRunner::StillRunningAnywhere() > 0) {
    (void)std::fflush(nullptr);  // nothing better to do if it fails
    jobrunner::ExitNow(status);
  }
  return status;
} catch (const std::exception& e) {
  // Run has its own catch, which also ends the other ranks; this one is for the rest (building
  // the command line, --check, launch), where an exception would otherwise abort the process.
  std::fprintf(stderr, "jobrunner: internal error: %s\n", e.what());
  return jobrunner::kExitInternal;
}
