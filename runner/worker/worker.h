#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "kinds/kind_registry.h"
#include "posix/dir.h"
#include "posix/process_set.h"
#include "transport/idle_backoff.h"
#include "transport/protocol.h"
#include "transport/transport.h"
#include "worker/kind_runner.h"
#include "worker/python_pool.h"

namespace jobrunner {

class OrphanGuard;

// A worker rank: says Hello, takes TaskBatches into a local queue, keeps up to `slots` children
// running, and sends their results back in batches. It never blocks on the coordinator: it waits
// on its children and checks for messages between waits, backing off only while it has nothing
// to do, so that an idle worker costs next to no CPU.
class Worker {
 public:
  // `received_signal`, if given, says whether this process has received a signal (see
  // interrupt.h). A task killed by a signal this process received too was stopped with the run
  // (mpirun forwards SIGUSR1 to each rank's group, which briefly holds a task being started;
  // Slurm signals every process of a job): it is reported interrupted, not signaled. Since the
  // task's death may be seen before the signal reaches this process, such a result is held back
  // a moment (kHoldSignaled) before it is sent. `clock` times batches, held results and kinds.
  // `guard`, if given, watches the Python interpreters this worker starts, as `processes` has
  // it watch its children.
  Worker(Transport& transport, ProcessSet& processes, Hello hello,
         bool (*received_signal)(int) = nullptr, const Clock& clock = SystemClock(),
         OrphanGuard* guard = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // One round: messages in, tasks started, children waited for (at most `max_wait`), results
  // out. Returns true once the coordinator has said Shutdown and every result has been sent.
  bool Step(std::chrono::milliseconds max_wait);

  // The exit status the coordinator asked for in its Shutdown.
  int exit_code() const { return exit_code_; }

  // Tells the coordinator that this worker ends because of `signal`, and sends it at once.
  void SayStopping(int signal);

  // Also ends Step's wait early when `fd` becomes readable: a coordinator sharing this thread
  // (one rank) passes its RecordWriter's wake_fd(), so that tasks go out the moment their
  // dispatches are in the journal.
  void AlsoWakeOn(int fd);

 private:
  static constexpr int kCoordinator = 0;

  struct Running {
    int attempt = 1;
    std::string stdout_path;
    std::string stderr_path;
    bool killed_by_drain = false;
    std::string helper_output;  // an isolated kind's KindHelperOutput file
    int cores = 1;              // slots it takes
    std::string task_id;
    std::string command;          // as it runs (CommandLine); empty for a kind or Python call
    std::int64_t start_ms = 0;    // unix time, once started (a kind waits for a thread)
    bool start_reported = false;  // its TaskStart went to the coordinator
    int cylinder = -1;            // a command list's task: its DISBATCH_CYLINDER_RANK
    int per_worker = 0;           // kPerWorkerStart ... kNodeTeardown: not a task of the run
    std::uint64_t ordinal = 0;    // a per-worker command's place in its Welcome list
  };

  bool HandleMessages();
  void OnDrain(const Drain& drain);
  void OnWelcome(Welcome welcome);
  void OpenRunDirectories();
  // Ends `task`'s attempt as a spawn error without starting it.
  void CannotStart(const TaskSpec& task, std::string error);
  void StartQueued();
  void StartCommand(TaskSpec task, std::string helper_output = "", int per_worker = 0,
                    std::uint64_t ordinal = 0);
  // Runs the per-worker commands one after another. Tasks start only once every START command
  // has ended (false until then).
  bool RunPerWorkerCommands();
  // The variables of disBatch that only the worker knows.
  void AddDisbatchEnv(const Running& running,
                      std::vector<std::pair<std::string, std::string>>& env) const;
  void StartKind(TaskSpec task, std::vector<KindRequest>& in_process);
  void StartPython(TaskSpec task, std::vector<PythonCall>& calls);
  void Collect(std::vector<ProcessExit> exits);
  void CollectKinds(std::vector<KindExit> exits);
  void CollectPython(std::vector<PythonExit> exits);
  // Sends a result, or holds it a moment when an interrupt signal may have killed the task.
  void Report(AttemptResult result);
  void Queue(AttemptResult result);
  // Records that the task `index` in running_ began at `start_ms`, to be reported if it still
  // runs when the next batch leaves.
  void NoteStart(std::uint64_t index, std::int64_t start_ms);
  void NoteKindStarts();
  // The TaskStarts of attempts still running that the coordinator has not heard of.
  std::vector<TaskStart> TakeStarts();
  // The result of `running`'s attempt, which takes its texts: it is erased once this returns.
  static AttemptResult Ended(std::uint64_t index, Running& running, Outcome outcome,
                             std::int64_t start_ms, std::int64_t end_ms, std::string error);
  void ReleaseHeld(bool all);
  bool StoppedWithRun(const AttemptResult& result) const;
  void FlushResults(bool force);
  std::chrono::milliseconds NextWait(std::chrono::milliseconds max_wait) const;
  std::string OutputPath(const TaskSpec& task, const char* stream) const;
  // Where a command's `stream` goes: OutputPath, or, when something is at that name already, the
  // first free of its copies (LogCopyName, up to kMaxLogCopies; past that the process set
  // refuses the taken name). A run whose journal is whole never gives an attempt number out
  // twice, so a taken name means the journal lost records (cut, or restored from a copy) or
  // something else put a file or link there: the attempt still runs, nothing is overwritten or
  // written through, and its results line names the file it wrote.
  std::string FreeLogPath(const TaskSpec& task, const char* stream) const;
  // Slots taken: the cores of running children, one per kind running on the kind runner's
  // threads (including timed-out ones whose threads have not returned), one per Python
  // interpreter at work or call waiting for one, and the cores beyond the first of the larger
  // kinds and Python calls.
  int BusyCores() const {
    return child_cores_ + static_cast<int>(kind_runner_.Busy()) + PythonBusy() + kind_extra_cores_;
  }
  int PythonBusy() const { return python_ ? static_cast<int>(python_->Busy()) : 0; }

  Transport& transport_;
  ProcessSet& processes_;
  const Clock& clock_;
  int rank_;
  bool (*received_signal_)(int);
  // Results of tasks killed by an interrupt signal, held until the time given.
  std::vector<std::pair<std::chrono::steady_clock::time_point, AttemptResult>> held_;
  std::optional<Welcome> welcome_;
  std::shared_ptr<const Dir> logs_;  // the run directory's logs/, where output files go
  std::string run_dir_error_;        // why logs/ or data/ cannot be used; every task fails so
  KindRegistry kinds_;
  std::string plugin_errors_;  // plugins named in the Welcome that did not load here
  KindRunner kind_runner_;
  OrphanGuard* guard_;
  std::unique_ptr<PythonPool> python_;  // started by the first `kind: python` task
  std::deque<TaskSpec> queue_;
  std::unordered_map<std::uint64_t, Running> running_;  // by task index
  int child_cores_ = 0;                                 // of the children in running_
  int kind_extra_cores_ = 0;  // cores beyond the first of the kinds and Python calls in running_
  std::vector<AttemptResult> unsent_;
  std::chrono::steady_clock::time_point oldest_unsent_;
  std::vector<std::uint64_t> unsent_starts_;  // indices in running_ started since the last batch
  std::chrono::steady_clock::time_point oldest_unsent_start_;
  IdleBackoff idle_;
  std::chrono::steady_clock::time_point last_heartbeat_;  // or the last other message sent
  bool shutting_down_ = false;
  int exit_code_ = 0;
  // Per-worker commands waiting (kPerWorkerStart or kPerWorkerStop, and the place in its list).
  std::deque<std::pair<int, std::uint64_t>> per_worker_queue_;
  bool per_worker_running_ = false;
  bool started_ = false;         // every START command has ended: tasks may start
  bool stop_requested_ = false;  // Drain::run_stop_commands or run_node_teardown
  bool stop_done_sent_ = false;
  std::vector<bool> cylinders_;  // DISBATCH_CYLINDER_RANK numbers in use
};

}  // namespace jobrunner
