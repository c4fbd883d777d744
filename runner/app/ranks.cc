#include "app/ranks.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "coordinator/gather.h"
#include "coordinator/resume.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "kinds/kind_binding.h"
#include "manifest/task_graph_builder.h"
#include "posix/node_info.h"
#include "posix/orphan_guard.h"
#include "posix/process_set.h"
#include "posix/signals.h"
#include "rundir/run_dir.h"
#include "worker/worker.h"

namespace jobrunner {
namespace {

using std::chrono::milliseconds;

// Stops this long before --time-limit beyond the drain grace: time to kill, record and exit.
constexpr std::int64_t kTimeLimitMarginMs = 10'000;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

Hello LocalHello(int rank, const WorkerSettings& settings) {
  Hello hello;
  hello.rank = rank;
  hello.host = HostName();
  hello.pid = static_cast<int>(getpid());
  hello.cores = UsableCores();
  hello.memory = UsableMemory();
  if (settings.gpus_per_worker == 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    if (visible != nullptr) hello.gpus = ParseVisibleDevices(visible);
  }
  hello.gpus_per_worker = settings.gpus_per_worker;
  hello.tags = settings.tags;
  return hello;
}

// What each manifest entry (a TaskGraph group) asks of the worker that runs it.
std::vector<ResourceNeeds> NeedsOf(const TaskSource& source) {
  std::vector<ResourceNeeds> needs;
  for (const TaskEntry& entry : source.manifest().entries) needs.push_back(entry.needs);
  return needs;
}

// Drives the coordinator through signals: the first asks for a drain, a stop ends it at once.
void ApplyInterrupts(Coordinator& coordinator) {
  switch (PendingInterrupt()) {
    case InterruptRequest::kNone:
      break;
    case InterruptRequest::kDrain:
      coordinator.BeginDrain("signal " + std::to_string(InterruptSignal()));
      break;
    case InterruptRequest::kStop:
      coordinator.StopNow("signal " + std::to_string(InterruptSignal()));
      break;
  }
}

void PrintResumeHint(const Transport& transport, const RunSettings& settings,
                     const std::string& run_dir, Reporter& reporter) {
  // mpirun sets OMPI_COMM_WORLD_SIZE; ranks that srun started through PMIx see only Slurm's
  // and PMIx's variables, and are continued with srun.
  std::string launcher;
  if (transport.size() > 1) {
    bool by_srun =
        std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("SLURM_STEP_ID") != nullptr;
    launcher =
        (by_srun ? "srun --mpi=pmix -n " : "mpirun -n ") + std::to_string(transport.size()) + " ";
  }
  reporter.Error("the run stopped before every task finished; continue it with:\n  " + launcher +
                 "jobrunner --resume " + run_dir + " " + settings.manifest);
}

// Starts the guard that kills this process's tasks should it die abruptly (see orphan_guard.h).
std::unique_ptr<OrphanGuard> StartOrphanGuard(int rank) {
  std::string error;
  std::unique_ptr<OrphanGuard> guard = OrphanGuard::Start("/proc/self/exe", error);
  if (!guard) {
    std::fprintf(stderr, "jobrunner: rank %d: %s; its tasks may outlive it if it crashes\n", rank,
                 error.c_str());
  }
  return guard;
}

// Coordinates the other ranks of the world until the run ends.
int CoordinateWorkers(Transport& transport, const TaskSource& source, const KindRegistry& kinds,
                      ResultsWriter& results, Reporter& reporter, JournalWriter* journal,
                      RunLedger& ledger, RunOptions options, Scheduler scheduler) {
  Coordinator coordinator({transport, source, kinds, ledger, results, journal, reporter},
                          std::move(options), std::move(scheduler));
  while (!coordinator.Finished()) {
    milliseconds wait = coordinator.Step();
    ApplyInterrupts(coordinator);
    if (wait.count() > 0 && !coordinator.Finished()) std::this_thread::sleep_for(wait);
  }
  while (!transport.Flush()) std::this_thread::sleep_for(milliseconds(1));
  return coordinator.exit_status();
}

// One rank: the coordinator and a worker share this process, joined in memory; the worker's
// wait for its children is the loop's only wait.
int RunLocally(const TaskSource& source, const KindRegistry& kinds, ResultsWriter& results,
               Reporter& reporter, JournalWriter* journal, RunLedger& ledger, RunOptions options,
               Scheduler scheduler, const WorkerSettings& worker_settings) {
  auto [coordinator_end, worker_end] = MakeLoopbackPair();
  std::unique_ptr<OrphanGuard> guard = StartOrphanGuard(0);
  std::unique_ptr<ProcessSet> processes =
      MakePosixProcessSet(milliseconds(options.kill_grace_ms), guard.get());
  Coordinator coordinator({*coordinator_end, source, kinds, ledger, results, journal, reporter},
                          std::move(options), std::move(scheduler));
  Worker worker(*worker_end, *processes, LocalHello(0, worker_settings), ReceivedSignal);
  bool worker_done = false;
  while (!worker_done) {
    milliseconds wait = coordinator.Step();
    ApplyInterrupts(coordinator);
    worker_done = worker.Step(coordinator.Finished() ? milliseconds(0) : wait);
  }
  return coordinator.exit_status();
}

}  // namespace

KindRegistry LoadKinds(const std::vector<std::string>& flag_plugins, const TaskSource& source,
                       std::vector<std::string>& plugins) {
  KindRegistry kinds;
  namespace fs = std::filesystem;
  for (const std::string& path : flag_plugins) {
    kinds.LoadPlugin(fs::absolute(path).lexically_normal().string());
  }
  const fs::path manifest_dir = fs::absolute(source.manifest().path).parent_path();
  for (const PluginRef& plugin : source.manifest().plugins) {
    fs::path path = plugin.path;
    if (path.is_relative()) path = manifest_dir / path;
    try {
      kinds.LoadPlugin(path.lexically_normal().string());
    } catch (const PluginError& e) {
      throw ManifestError(plugin.pos, e.what());
    }
  }
  CheckKinds(source, kinds);
  plugins = kinds.plugins();
  return kinds;
}

int RunCoordinatorRank(Transport& transport, const RunSettings& settings, Reporter& reporter) {
  auto shutdown_all = [&](int status, const std::string& message) {
    reporter.Error(message);
    for (int r = 1; r < transport.size(); ++r) transport.Send(r, Shutdown{status, message});
    while (!transport.Flush()) std::this_thread::sleep_for(milliseconds(1));
    return status;
  };

  RunOptions options = settings.options;
  std::optional<TaskSource> source;
  std::optional<ResultsWriter> results;
  std::optional<JournalWriter> journal;
  std::optional<RunLedger> ledger;
  std::optional<RunDirLock> lock;
  std::optional<KindRegistry> kinds;
  Scheduler scheduler(0, options.scheduler);
  try {
    std::string text = ReadManifestFile(settings.manifest);
    source.emplace(ParseManifest(text, settings.manifest),
                   std::filesystem::current_path().string());
    source->CheckUniqueIds();
    kinds.emplace(LoadKinds(settings.plugins, *source, options.plugins));
    ledger.emplace(source->size());
    scheduler = Scheduler(BuildTaskGraph(*source), options.scheduler);
    scheduler.SetNeeds(NeedsOf(*source));
    if (settings.resume_dir.empty()) {
      options.run_dir = CreateRunDir(settings.out, settings.name, settings.manifest);
      lock.emplace(options.run_dir);
      WriteFile(options.run_dir + "/manifest.yaml", text);
      results.emplace(options.run_dir, /*append=*/false);
      if (settings.journal) {
        journal.emplace(JournalWriter::Create(options.run_dir + "/journal", ManifestHash(text),
                                              source->size()));
      }
    } else {
      options.run_dir = std::filesystem::absolute(settings.resume_dir).lexically_normal().string();
      if (!std::filesystem::exists(options.run_dir + "/journal")) {
        throw ResumeError(options.run_dir +
                          " has no journal: it is not a run directory, or "
                          "the run was started with --no-journal");
      }
      lock.emplace(options.run_dir);  // before anything of the run is read or repaired
      results.emplace(options.run_dir, /*append=*/true);
      journal.emplace(PrepareResume({options.run_dir, text, settings.force}, *source, *ledger,
                                    *results, reporter));
      scheduler.Resume(ledger->ResumeState(settings.retry_failed));
      options.run_number = ledger->runs() + 1;
    }
  } catch (const std::exception& e) {
    // A bad manifest, a run directory that cannot be made or resumed: nothing has run yet.
    return shutdown_all(kExitUsage, e.what());
  }
  if (settings.time_limit_ms) {
    // The drain must fit before the limit however short it is: a grace of at most a quarter of
    // the limit, and a margin for killing, recording and exiting of at most a fifth.
    const std::int64_t limit = *settings.time_limit_ms;
    options.drain_grace_ms = std::min(options.drain_grace_ms, limit / 4);
    const std::int64_t margin = std::min(kTimeLimitMarginMs, limit / 5);
    options.drain_at_ms = std::max<std::int64_t>(0, limit - options.drain_grace_ms - margin);
  }
  reporter.Info(std::string(settings.resume_dir.empty() ? "running " : "resuming: ") +
                std::to_string(source->size() - scheduler.Settled()) + " of " +
                std::to_string(source->size()) + " tasks from " + settings.manifest + " on " +
                std::to_string(std::max(1, transport.size() - 1)) + " worker rank(s); output in " +
                options.run_dir);

  JournalWriter* journal_ptr = journal ? &*journal : nullptr;
  const std::string run_dir = options.run_dir;
  int status = 0;
  try {
    status = transport.size() > 1
                 ? CoordinateWorkers(transport, *source, *kinds, *results, reporter, journal_ptr,
                                     *ledger, std::move(options), std::move(scheduler))
                 : RunLocally(*source, *kinds, *results, reporter, journal_ptr, *ledger,
                              std::move(options), std::move(scheduler), settings.worker);
  } catch (const JournalError& e) {
    // The journal is intact up to its last good record, so the run can go on once the disk
    // has room again.
    status = shutdown_all(kExitInterrupted, e.what());
  } catch (const ResultsError& e) {
    status = shutdown_all(kExitInterrupted, e.what());
  }
  if (status == kExitInterrupted) PrintResumeHint(transport, settings, run_dir, reporter);
  if (status == 0 || status == 1) {
    for (const GatherOutcome& g : GatherOutputs(*source, run_dir)) {
      if (g.path.empty()) {
        reporter.Warn("gather " + g.label + ": " + g.note);
      } else {
        reporter.Info("gathered " + g.label + " into " + g.path + " (" + g.note + ")");
      }
    }
  }
  return status;
}

int RunWorkerRank(Transport& transport, int rank, std::int64_t kill_grace_ms,
                  const WorkerSettings& settings) {
  ReleaseCpuBinding();
  std::unique_ptr<OrphanGuard> guard = StartOrphanGuard(rank);
  // The set exists before the Welcome arrives, so it takes the grace from the command line,
  // which every rank parses alike.
  std::unique_ptr<ProcessSet> processes =
      MakePosixProcessSet(milliseconds(kill_grace_ms), guard.get());
  Worker worker(transport, *processes, LocalHello(rank, settings), ReceivedSignal);
  while (!worker.Step(milliseconds(10))) {
    // A drain is the coordinator's to run; a stop (mpirun is killing the job) cannot wait for it.
    if (PendingInterrupt() == InterruptRequest::kStop) {
      processes->KillAll();
      _exit(ExitStatusOfSignal(InterruptSignal()));
    }
  }
  return worker.exit_code();
}

}  // namespace jobrunner
