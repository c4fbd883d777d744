#include "app/ranks.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "app/open_run.h"
#include "app/resume_command.h"
#include "coordinator/gather.h"
#include "posix/event_fd.h"
#include "posix/node_info.h"
#include "posix/orphan_guard.h"
#include "posix/process_set.h"
#include "posix/process_watch.h"
#include "posix/signals.h"
#include "posix/this_process.h"
#include "worker/worker.h"

namespace jobrunner {
namespace {

using std::chrono::milliseconds;

Hello LocalHello(int rank, const WorkerSettings& settings, const ProcessSet& processes) {
  Hello hello;
  hello.rank = rank;
  hello.host = HostName();
  hello.pid = ProcessId();
  hello.cores = UsableCores();
  hello.memory = UsableMemory();
  if (settings.gpus_per_worker == 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    if (visible != nullptr) hello.gpus = ParseVisibleDevices(visible);
  }
  hello.gpus_per_worker = settings.gpus_per_worker;
  hello.tags = settings.tags;
  const ProcessSet::MemoryLimits limits = processes.memory_limits();
  hello.memory_enforced = limits.enforced;
  hello.memory_note = limits.note;
  return hello;
}

// A signal sent by one of this process's tasks (to its parent, the worker) asks for nothing:
// said on stderr, and left out of the interrupts (see FromOwnTask).
struct OwnTasks {
  const ProcessSet* processes;
  int rank;
};

bool SentByOwnTask(int signal, pid_t sender, void* context) {
  const auto* own = static_cast<const OwnTasks*>(context);
  if (own == nullptr || own->processes == nullptr) return false;
  std::optional<std::uint64_t> key = own->processes->ChildOf(sender);
  if (!key) return false;
  std::fprintf(stderr,
               "jobrunner: rank %d: ignored signal %d from process %d, a process of the task "
               "of index %llu it runs: a task does not stop its worker\n",
               own->rank, signal, static_cast<int>(sender), static_cast<unsigned long long>(*key));
  return true;
}

// Drives the coordinator through signals: the first asks for a drain, a stop ends it at once.
// `own` (with -n 1, where this process runs the tasks) tells signals from its tasks apart.
void ApplyInterrupts(Coordinator& coordinator, OwnTasks* own = nullptr) {
  switch (PendingInterrupt(SentByOwnTask, own)) {
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

// Ends the run from outside the coordinator (it could not open, or its records can no longer be
// written): every worker is told, so that none waits for work forever.
int ShutdownWorkers(Transport& transport, Reporter& reporter, int status,
                    const std::string& message) {
  reporter.Error(message);
  for (int r = 1; r < transport.size(); ++r) transport.Send(r, Shutdown{status, message});
  while (!transport.Flush()) std::this_thread::sleep_for(milliseconds(1));
  return status;
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

// The parts of `run` a coordinator works with; it takes over the scheduler when constructed.
Coordinator::Parts PartsOf(OpenRun& run, Transport& transport, Reporter& reporter,
                           RecordWriter& records) {
  return {transport, run.source, run.kinds, run.ledger, run.results, records, reporter};
}

// The worker ranks on this host, watched through their pids: a worker that dies (a task may
// kill its worker with SIGKILL) is noticed at once, before mpirun ends the job for it, so that
// the attempts it had in flight are recorded as lost with it. Workers on other hosts cannot be
// watched: their deaths end the run as a stop does.
class LocalWorkerWatch {
 public:
  // Starts watching the workers that greeted since the last call; tells the coordinator of any
  // that died without saying it was stopping (mpirun stopping the job signals every rank, and
  // a worker says so before it goes). Looked at before this process's own signals: when a
  // worker dies, mpirun signals the other ranks within milliseconds.
  void Check(Coordinator& coordinator, const Transport& transport) {
    if (coordinator.Finished()) return;
    for (int rank = 1; rank < transport.size(); ++rank) {
      if (watches_.count(rank) != 0) continue;
      const Hello* hello = coordinator.WorkerHello(rank);
      if (hello == nullptr) continue;
      watches_[rank] = hello->host == host_ ? ProcessWatch::Open(hello->pid) : nullptr;
    }
    for (auto& [rank, watch] : watches_) {
      if (watch == nullptr || !watch->Ended()) continue;
      watch.reset();
      coordinator.Step();  // reads what the worker sent before it ended, a Stopping above all
      if (coordinator.Finished() || coordinator.WorkerStopping(rank)) continue;
      coordinator.LoseWorker(rank, "died");
      return;
    }
  }

 private:
  const std::string host_ = HostName();
  std::map<int, std::unique_ptr<ProcessWatch>> watches_;
};

// Coordinates the other ranks of the world until the run ends. `lost_worker`: a worker rank
// died or stopped answering, so the job cannot end in order.
// The loop's wait also ends when a journal sync does, so that the tasks it made durable are sent
// at once.
int CoordinateWorkers(Transport& transport, OpenRun& run, Reporter& reporter, bool& lost_worker) {
  RecordWriter records(run.journal_or_null(), run.results);
  Coordinator coordinator(PartsOf(run, transport, reporter, records), run.options,
                          std::move(run.scheduler));
  LocalWorkerWatch watch;
  while (!coordinator.Finished()) {
    milliseconds wait = coordinator.Step();
    watch.Check(coordinator, transport);
    ApplyInterrupts(coordinator);
    if (wait.count() > 0 && !coordinator.Finished()) WaitUntilReadable(records.wake_fd(), wait);
  }
  lost_worker = coordinator.lost_worker();
  if (lost_worker) return coordinator.exit_status();  // that rank cannot take its Shutdown
  while (!transport.Flush()) std::this_thread::sleep_for(milliseconds(1));
  return coordinator.exit_status();
}

// One rank: the coordinator and a worker share this process, joined in memory; the worker's
// wait for its children (and for journal syncs) is the loop's only wait.
int RunLocally(OpenRun& run, Reporter& reporter, const WorkerSettings& worker_settings) {
  auto [coordinator_end, worker_end] = MakeLoopbackPair();
  std::unique_ptr<OrphanGuard> guard = StartOrphanGuard(0);
  std::unique_ptr<ProcessSet> processes =
      MakePosixProcessSet(milliseconds(run.options.kill_grace_ms), guard.get());
  RecordWriter records(run.journal_or_null(), run.results);
  Coordinator coordinator(PartsOf(run, *coordinator_end, reporter, records), run.options,
                          std::move(run.scheduler));
  Worker worker(*worker_end, *processes, LocalHello(0, worker_settings, *processes), ReceivedSignal,
                SystemClock(), guard.get());
  OwnTasks own{processes.get(), 0};
  worker.AlsoWakeOn(records.wake_fd());
  bool worker_done = false;
  while (!worker_done) {
    milliseconds wait = coordinator.Step();
    ApplyInterrupts(coordinator, &own);
    worker_done = worker.Step(coordinator.Finished() ? milliseconds(0) : wait);
  }
  return coordinator.exit_status();
}

// Coordinates `run` to its end and returns its exit status. A journal or results.jsonl that can
// no longer be written ends it as interrupted: the journal is intact up to its last good record,
// so the run can go on once the disk has room again. So does a command list that changed under
// the run (while its copy was made, or the copy since): a resume says what changed.
int Coordinate(Transport& transport, OpenRun& run, const WorkerSettings& worker_settings,
               Reporter& reporter, bool& lost_worker) {
  try {
    return transport.size() > 1 ? CoordinateWorkers(transport, run, reporter, lost_worker)
                                : RunLocally(run, reporter, worker_settings);
  } catch (const JournalError& e) {
    return ShutdownWorkers(transport, reporter, kExitInterrupted, e.what());
  } catch (const ResultsError& e) {
    return ShutdownWorkers(transport, reporter, kExitInterrupted, e.what());
  } catch (const ManifestError& e) {
    return ShutdownWorkers(transport, reporter, kExitInterrupted, e.what());
  }
}

// A run with nothing to do (an empty command list, sweeps that are all empty): said once, and
// every worker told to exit 0.
int EndWithoutTasks(Transport& transport, const RunSettings& settings, Reporter& reporter) {
  reporter.Info(fmt::format("no tasks to run: {} has none",
                            settings.manifest == "-" ? "the list on stdin" : settings.manifest));
  for (int r = 1; r < transport.size(); ++r) transport.Send(r, Shutdown{kExitSucceeded, ""});
  while (!transport.Flush()) std::this_thread::sleep_for(milliseconds(1));
  return kExitSucceeded;
}

void ReportStart(const Transport& transport, const RunSettings& settings, const OpenRun& run,
                 Reporter& reporter) {
  for (const TaskEntry& entry : run.source.manifest().entries) {
    if (entry.list == nullptr) continue;
    for (const CommandList::Warning& w : entry.list->warnings()) {
      reporter.Warn(fmt::format("{}:{}: {}", entry.list->name(), w.line, w.message));
    }
  }
  reporter.Info(fmt::format("{}{} of {} tasks from {} on {} worker rank(s); output in {}",
                            settings.resume_dir.empty() ? "running " : "resuming: ",
                            run.source.size() - run.scheduler.Settled(), run.source.size(),
                            settings.manifest, std::max(1, transport.size() - 1),
                            run.options.run_dir));
}

void PrintResumeHint(const Transport& transport, const RunSettings& settings,
                     const std::string& run_dir, Reporter& reporter) {
  ResumeCommandInput input{OwnCommandLine(), ParentCommandLine(), {},
                           ExecutablePath(), WorkingDirectory(),  run_dir,
                           settings.manifest};
  // When mpirun's own command line cannot be read: mpirun sets OMPI_COMM_WORLD_SIZE; ranks that
  // srun started through PMIx see only Slurm's and PMIx's variables, and are continued with srun.
  if (transport.size() > 1) {
    const bool by_srun =
        std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("SLURM_STEP_ID") != nullptr;
    input.fallback_launcher = by_srun ? std::vector<std::string>{"srun", "--mpi=pmix"}
                                      : std::vector<std::string>{"mpirun"};
    input.fallback_launcher.push_back("-n");
    input.fallback_launcher.push_back(std::to_string(transport.size()));
  }
  if (input.binary.empty()) input.binary = "jobrunner";
  reporter.Error("the run stopped before every task finished; continue it with:\n  " +
                 ResumeCommand(input));
}

// When the ranks exit non-zero, mpirun adds a banner of its own to stderr ("Primary job
// terminated normally, but 1 process returned a non-zero exit code. Per user-direction, the job
// has been aborted.", and "mpirun detected that one or more processes exited with non-zero
// status"), which reads like a crash. A rank cannot silence it (mpirun prints it, after the
// ranks have gone; its -q would also hide its reports of real failures), so the last line of the
// summary says what it is.
void ExplainMpirunBanner(int status, Reporter& reporter) {
  if (status == kExitSucceeded || std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) return;
  reporter.Summary(fmt::format(
      "  exit status {} ({}): mpirun's note that the job was aborted only passes it on; every "
      "rank finished\n",
      status, status == kExitTasksFailed ? "some task did not succeed" : "stopped early"));
}

// What is left to say once the run has ended with `status`: how to continue an interrupted run,
// where the outputs of a finished one were gathered, and what mpirun will add.
void FinishRun(const Transport& transport, const RunSettings& settings, const OpenRun& run,
               int status, Reporter& reporter) {
  const std::string& run_dir = run.options.run_dir;
  if (status == kExitInterrupted) PrintResumeHint(transport, settings, run_dir, reporter);
  if (status == kExitSucceeded || status == kExitTasksFailed) {
    for (const GatherOutcome& g : GatherOutputs(run.source, run.dir.dir())) {
      if (g.path.empty()) {
        reporter.Warn(fmt::format("gather {}: {}", g.label, g.note));
      } else {
        reporter.Info(fmt::format("gathered {} into {} ({})", g.label, g.path, g.note));
      }
    }
  }
  if (status == kExitTasksFailed || status == kExitInterrupted)
    ExplainMpirunBanner(status, reporter);
}

}  // namespace

int RunCoordinatorRank(Transport& transport, const RunSettings& settings, Reporter& reporter) {
  std::unique_ptr<OpenRun> run;
  try {
    run = settings.resume_dir.empty() ? OpenNewRun(settings) : ResumeRun(settings, reporter);
  } catch (const std::exception& e) {
    // A bad manifest, a run directory that cannot be made or resumed: nothing has run yet.
    return ShutdownWorkers(transport, reporter, kExitUsage, e.what());
  }
  if (!run) return EndWithoutTasks(transport, settings, reporter);
  ReportStart(transport, settings, *run, reporter);
  bool lost_worker = false;
  const int status = Coordinate(transport, *run, settings.worker, reporter, lost_worker);
  FinishRun(transport, settings, *run, status, reporter);
  if (lost_worker) {
    // The journal and results are synced; MPI_Finalize would wait for the lost rank for ever.
    (void)std::fflush(nullptr);  // aborting anyway: a flush that fails changes nothing
    transport.Abort(status);
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
  Worker worker(transport, *processes, LocalHello(rank, settings, *processes), ReceivedSignal,
                SystemClock(), guard.get());
  OwnTasks own{processes.get(), rank};
  while (!worker.Step(milliseconds(10))) {
    // A drain is the coordinator's to run; a stop (mpirun is killing the job) cannot wait for it.
    if (PendingInterrupt(SentByOwnTask, &own) == InterruptRequest::kStop) {
      worker.SayStopping(InterruptSignal());
      processes->KillAll();
      ExitNow(ExitStatusOfSignal(InterruptSignal()));
    }
  }
  return worker.exit_code();
}

}  // namespace jobrunner
