// jobrunner: a job farm over MPI. Rank 0 coordinates, the other ranks run tasks; with one rank,
// rank 0 does both. This file owns the command line, the exit statuses and the only catch of
// unexpected exceptions.
//
// Exit status: 0 every task succeeded, 1 some task failed after its retries, 2 manifest or usage
// error, 3 internal error, 128+N interrupted by signal N.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/mpi/environment.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "coordinator.h"
#include "interrupt.h"
#include "node_info.h"
#include "process.h"
#include "reporter.h"
#include "results.h"
#include "run_dir.h"
#include "task_source.h"
#include "transport.h"
#include "units.h"
#include "worker.h"

namespace jobrunner {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitInternal = 3;

struct Flags {
  std::string manifest;
  std::string out;
  std::string name;
  int slots = 0;
  std::string max_output = "100M";
  std::string kill_grace = "5s";
  std::string retry_backoff = "200ms";
  std::string progress = "auto";
  bool quiet = false;
  bool verbose = false;
  bool check = false;
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

std::optional<RunOptions> ToRunOptions(const Flags& flags) {
  RunOptions options;
  options.slots = flags.slots;
  std::optional<std::uint64_t> max_output = ParseByteSize(flags.max_output);
  std::optional<std::int64_t> grace = ParseDurationMs(flags.kill_grace);
  std::optional<std::int64_t> backoff = ParseDurationMs(flags.retry_backoff);
  if (!max_output || *max_output == 0) {
    UsageError("--max-output: expected a size like 64K, 100M or 2G, got '" + flags.max_output +
               "'");
    return std::nullopt;
  }
  if (!grace) {
    UsageError("--kill-grace: expected a duration like 500ms, 5s or 1m, got '" + flags.kill_grace +
               "'");
    return std::nullopt;
  }
  if (!backoff) {
    UsageError("--retry-backoff: expected a duration like 200ms or 2s, got '" +
               flags.retry_backoff + "'");
    return std::nullopt;
  }
  options.max_output = *max_output;
  options.kill_grace_ms = *grace;
  options.retry.backoff_ms = *backoff;
  return options;
}

ProgressMode ToProgressMode(const std::string& text) {
  if (text == "bar") return ProgressMode::kBar;
  if (text == "log") return ProgressMode::kLog;
  if (text == "none") return ProgressMode::kNone;
  return DetectProgressMode();
}

// Loads the manifest and checks every task id, so that no task runs from a manifest with an error.
TaskSource LoadTasks(const std::string& path) {
  TaskSource source(LoadManifest(path), std::filesystem::current_path().string());
  source.CheckUniqueIds();
  return source;
}

int Check(const Flags& flags) {
  try {
    TaskSource source = LoadTasks(flags.manifest);
    std::printf("%s: ok, %llu tasks from %zu entries\n", flags.manifest.c_str(),
                static_cast<unsigned long long>(source.size()), source.manifest().entries.size());
    return 0;
  } catch (const ManifestError& e) {
    std::fprintf(stderr, "jobrunner: %s\n", e.what());
    return kExitUsage;
  }
}

[[noreturn]] void ExitOnInterrupt(Reporter& reporter) {
  int signal = PendingInterrupt();
  reporter.Error("interrupted by signal " + std::to_string(signal) +
                 "; results so far are in results.jsonl");
  std::fflush(nullptr);
  _exit(128 + signal);
}

int RunWorker(Transport& transport, int rank, ProcessSet& processes) {
  Hello hello;
  hello.rank = rank;
  hello.host = HostName();
  hello.pid = static_cast<int>(getpid());
  hello.cores = UsableCores();
  Worker worker(transport, processes, hello);
  while (!worker.Step(std::chrono::milliseconds(10))) {
    if (PendingInterrupt() != 0) {
      processes.KillAll();
      _exit(128 + PendingInterrupt());
    }
  }
  return worker.exit_code();
}

// Rank 0. Every early failure still sends a Shutdown, so no worker waits for work forever.
int RunCoordinator(Transport& transport, const Flags& flags, RunOptions options,
                   Reporter& reporter) {
  auto shutdown_all = [&](int status, const std::string& message) {
    reporter.Error(message);
    for (int r = 1; r < transport.size(); ++r) transport.Send(r, Shutdown{status, message});
    while (!transport.Flush()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return status;
  };
  std::optional<TaskSource> source;
  std::optional<ResultsWriter> results_writer;
  try {
    source.emplace(LoadTasks(flags.manifest));
    options.run_dir = CreateRunDir(flags.out, flags.name, flags.manifest);
    results_writer.emplace(options.run_dir);
  } catch (const ManifestError& e) {
    return shutdown_all(kExitUsage, e.what());
  } catch (const std::exception& e) {
    return shutdown_all(kExitUsage, e.what());
  }
  ResultsWriter& results = *results_writer;
  reporter.Info("running " + std::to_string(source->size()) + " tasks from " + flags.manifest +
                " on " + std::to_string(std::max(1, transport.size() - 1)) +
                " worker rank(s); output in " + options.run_dir);

  if (transport.size() > 1) {
    Coordinator coordinator(transport, *source, results, reporter, options);
    while (!coordinator.Finished()) {
      std::chrono::milliseconds wait = coordinator.Step();
      if (PendingInterrupt() != 0) {
        results.Flush();
        ExitOnInterrupt(reporter);
      }
      if (wait.count() > 0) std::this_thread::sleep_for(wait);
    }
    while (!transport.Flush()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return coordinator.exit_status();
  }

  // One rank: the coordinator and a worker share this process, joined in memory.
  auto [coordinator_end, worker_end] = MakeLoopbackPair();
  Coordinator coordinator(*coordinator_end, *source, results, reporter, options);
  std::unique_ptr<ProcessSet> processes =
      MakePosixProcessSet(std::chrono::milliseconds(options.kill_grace_ms));
  Hello hello;
  hello.host = HostName();
  hello.pid = static_cast<int>(getpid());
  hello.cores = UsableCores();
  Worker worker(*worker_end, *processes, hello);
  bool worker_done = false;
  while (!worker_done) {
    std::chrono::milliseconds wait = coordinator.Step();
    if (PendingInterrupt() != 0) {
      processes->KillAll();
      results.Flush();
      ExitOnInterrupt(reporter);
    }
    worker_done = worker.Step(wait);
  }
  return coordinator.exit_status();
}

int Run(const Flags& flags) {
  std::optional<RunOptions> options = ToRunOptions(flags);
  if (!options) return kExitUsage;
  Verbosity verbosity = flags.quiet     ? Verbosity::kQuiet
                        : flags.verbose ? Verbosity::kVerbose
                                        : Verbosity::kNormal;

  boost::mpi::environment environment(boost::mpi::threading::single, false);
  std::unique_ptr<Transport> transport = MakeMpiTransport();
  InstallInterruptHandlers();
  int rank = transport->rank();
  try {
    if (rank == 0) {
      Reporter reporter(ToProgressMode(flags.progress), verbosity);
      return RunCoordinator(*transport, flags, *options, reporter);
    }
    ReleaseCpuBinding();
    // A worker's children are killed after this grace period once their timeout has passed; the
    // Welcome carries the same value, but the set exists before the Welcome arrives.
    std::unique_ptr<ProcessSet> processes =
        MakePosixProcessSet(std::chrono::milliseconds(options->kill_grace_ms));
    return RunWorker(*transport, rank, *processes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobrunner: internal error on rank %d: %s\n", rank, e.what());
    std::fflush(stderr);
    environment.abort(kExitInternal);
  }
  return kExitInternal;
}

}  // namespace
}  // namespace jobrunner

int main(int argc, char** argv) {
  using jobrunner::Flags;
  Flags flags;
  CLI::App app{
      "jobrunner: run the tasks of a YAML manifest across MPI ranks.\n"
      "  mpirun -n N jobrunner [OPTIONS] MANIFEST   (rank 0 coordinates, ranks 1..N-1 run tasks)\n"
      "  jobrunner [OPTIONS] MANIFEST               (one process does both)\n"
      "Exit status: 0 all tasks succeeded, 1 some task failed after its retries,\n"
      "2 manifest or usage error, 3 internal error, 128+N interrupted by signal N.",
      "jobrunner"};
  app.add_option("manifest", flags.manifest, "The manifest (YAML) to run")->required();
  app.add_option("--out", flags.out,
                 "Run directory for results.jsonl and logs/ (default: jobrunner-out/<name>/)");
  app.add_option("--name", flags.name,
                 "Run name under jobrunner-out/ (default: manifest name and start time)");
  app.add_option("--slots", flags.slots,
                 "Tasks each worker rank runs at once (default: cores of its node divided by the "
                 "worker ranks on it)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-output", flags.max_output,
                 "Cap on each task's stdout and on its stderr, per attempt (default: 100M)");
  app.add_option("--kill-grace", flags.kill_grace,
                 "After a timeout's SIGTERM, wait this long before SIGKILL (default: 5s)");
  app.add_option("--retry-backoff", flags.retry_backoff,
                 "Delay before a first retry; doubles with each further one, up to 60s "
                 "(default: 200ms)");
  app.add_option("--progress", flags.progress,
                 "auto: a live line on a terminal, a log line every 5s otherwise (default: auto)")
      ->check(CLI::IsMember({"auto", "bar", "log", "none"}));
  auto* quiet = app.add_flag("-q,--quiet", flags.quiet, "Print only errors");
  app.add_flag("-v,--verbose", flags.verbose, "Log every attempt and worker")->excludes(quiet);
  app.add_flag("--check", flags.check,
               "Validate the manifest, print the task count and exit (no MPI needed)");
  app.set_version_flag("--version", std::string("jobrunner ") + JOBRUNNER_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return jobrunner::IsRankZero() ? app.exit(e) : 0;
  } catch (const CLI::CallForVersion& e) {
    return jobrunner::IsRankZero() ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    jobrunner::UsageError(e.what());
    return jobrunner::kExitUsage;
  }
  if (flags.check) return jobrunner::Check(flags);
  return jobrunner::Run(flags);
}
