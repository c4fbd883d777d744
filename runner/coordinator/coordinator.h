#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/exit_status.h"
#include "coordinator/failure_note.h"
#include "coordinator/node_commands.h"
#include "coordinator/record_writer.h"
#include "coordinator/reporter.h"
#include "coordinator/results.h"
#include "coordinator/summary.h"
#include "journal/run_ledger.h"
#include "kinds/kind_registry.h"
#include "manifest/task_source.h"
#include "schedule/scheduler.h"
#include "transport/idle_backoff.h"
#include "transport/protocol.h"
#include "transport/transport.h"

namespace jobrunner {

struct RunOptions {
  std::string run_dir;  // absolute; exists
  int slots = 0;        // per worker; 0: the cores of its node shared among the workers there
  std::uint64_t max_output = 100ull << 20;
  std::int64_t kill_grace_ms = 5000;
  std::int64_t drain_grace_ms = 60'000;     // how long running tasks may finish once a drain starts
  std::optional<std::int64_t> drain_at_ms;  // run time at which to drain on our own (--time-limit)
  std::uint32_t run_number = 1;             // 1, or 1 + the runs a resumed journal records
  // A worker rank from which nothing (not even a heartbeat) came for this long is taken for
  // stopped, and the run ends; 0: never.
  std::int64_t worker_timeout_ms = 30'000;
  std::vector<std::string> plugins;  // absolute; every worker loads them
  PythonSetup python;                // for `kind: python` tasks
  Scheduler::Options scheduler;
  std::optional<FailureLimit> max_failures;  // --max-failures, or the manifest's max_failures
  // Tasks that failed for good in earlier runs and are not run again (--resume without
  // --retry-failed): the first few, in task order, and how many in all. The summary names them.
  std::vector<std::uint64_t> failed_earlier;
  std::uint64_t failed_earlier_total = 0;
};

// Rank 0: waits for every worker's Hello, tells each how many slots to run, then hands out tasks
// as the scheduler decides, records every dispatch and every attempt in the journal and
// results.jsonl, and ends the run with a Shutdown carrying the run's exit status. Driven by Step
// from a loop that never spins.
//
// Ordering (the RecordWriter keeps it, on its own thread): a task's TaskBatch is sent only once
// the journal record of its dispatch is synced, so a resume after any crash knows every attempt
// number that was used and never reuses one (which would overwrite its logs); and a record
// reaches results.jsonl only after the journal holding it is synced, so every results line is
// backed by the journal and --resume can restore lines a crash lost.
//
// A run may also stop early on purpose, with exit status 1 and the reason in the summary: once
// `max_failures` tasks have failed for good, or when a command list's BARRIER CHECK finds a
// failure (the task graph stops). Either drains: no new task starts, the running ones may end.
// When every task has ended, workers run command lists' per-worker STOP commands before the
// Shutdown.
class Coordinator {
 public:
  // What a coordinator works with and does not own; each part outlives it.
  struct Parts {
    Transport& transport;
    const TaskSource& source;
    const KindRegistry& kinds;  // encodes task kinds' arguments and reads their results
    RunLedger& ledger;          // holds what earlier runs recorded, if any
    ResultsWriter& results;     // formats results.jsonl lines; `records` writes them
    RecordWriter& records;      // writes the journal and results.jsonl
    Reporter& reporter;
    const Clock& clock = SystemClock();
  };

  Coordinator(const Parts& parts, RunOptions options, Scheduler scheduler);

  // Handles what has arrived and sends what is due. Returns how long the caller may wait for
  // messages before the next Step (0: call again at once); the wait should also end when the
  // RecordWriter's wake_fd() becomes readable, since held work may then be sent. Throws
  // JournalError or ResultsError when the journal or results cannot be written.
  std::chrono::milliseconds Step();

  // Stops handing out work; running tasks may finish for drain_grace_ms, then are killed. The
  // run ends with kExitInterrupted unless every task was done anyway.
  void BeginDrain(const std::string& reason);
  // Ends the run now: in-flight attempts are recorded as interrupted, every worker is told to
  // kill its tasks, and the journal and results are flushed.
  void StopNow(const std::string& reason);

  // Worker rank `from` died (or stopped answering): its attempts in flight are recorded as
  // lost with it (the evidence against a task that kills its worker), the rest as interrupted,
  // and the run ends with kExitInterrupted. Open MPI cannot go on without a rank, so the caller
  // then ends the job rather than wait for that rank (lost_worker()).
  void LoseWorker(int from, const std::string& what);
  bool lost_worker() const { return lost_worker_; }
  // The Hello of rank `from`, once it has greeted; nullptr before. Whether it said it is
  // stopping because of a signal (then its end is no task's doing).
  const Hello* WorkerHello(int from) const;
  bool WorkerStopping(int from) const;

  bool Finished() const { return phase_ == Phase::kFinished; }
  bool Draining() const { return phase_ == Phase::kDraining || phase_ == Phase::kStopping; }
  int exit_status() const { return exit_status_; }

 private:
  // kWindingDown: every task has ended (or a drain has); workers run their per-worker STOP
  // commands, and each host's first worker its node_teardown.
  enum class Phase { kGreeting, kRunning, kWindingDown, kDraining, kStopping, kFinished };
  struct WorkerInfo {
    bool greeted = false;  // it said Hello
    Hello hello;
    int rank = 0;
    std::string host;
    int cores = 1;
    std::vector<std::string> gpu_ids;  // the GPUs its tasks may be given (see GpusPerWorker)
    std::chrono::steady_clock::time_point last_heard;  // any message; the run's start before
    bool stopping = false;                             // it said Stopping
    std::size_t sent = 0;                              // attempts sent to it and not yet reported
    std::optional<std::uint64_t> alone;                // the suspect it runs alone (see held_)
  };

  // A TaskBatch waiting for the journal records of its dispatches to be synced.
  struct UnsyncedBatch {
    RecordWriter::Ticket ticket;
    int worker;
    TaskBatch batch;
  };

  void OnHello(int from, const std::string& payload);
  void OnResults(int from, const std::string& payload);
  // Journals the start of an attempt in flight (TaskStartedRecord): how the ledger, and a reader
  // of the journal, know what really runs.
  void OnStarted(const TaskStart& start);
  void Accept(int from, const AttemptResult& r);
  // A per-worker command's end: recorded and reported, not a task.
  void AcceptPerWorker(const WorkerInfo& w, const AttemptResult& r);
  // A node_setup's or node_teardown's end. A set-up that succeeded lets its host's workers take
  // tasks; one that failed leaves them out of the run, which ends (exit 4) when no host is left.
  void AcceptNodeCommand(const WorkerInfo& w, const AttemptResult& r);
  // Sends `from` its Welcome, unless it had it, and gives it to the scheduler.
  void Admit(NodeCommands::Waiting worker);
  // Every task has ended, or the drain is over: the STOP commands (when `run_stop_commands`)
  // and each host's node_teardown run before the run finishes; without either it finishes now.
  void WindDown(bool run_stop_commands);
  // Stops the run early on purpose (fail fast, a BARRIER CHECK): a drain, then exit 1.
  void StopEarly(const std::string& reason);
  void CheckStopped();
  // Every task has ended: Finish, after the workers have run their STOP commands.
  void EndRun();
  std::string ResultJson(const AttemptResult& r) const;
  // How the task's command runs, for the words that describe how an attempt ended.
  CommandShape ShapeOf(std::uint64_t index) const;
  void Report(const std::string& id, const AttemptResult& r, const WorkerInfo& w, bool retrying);
  // What the summary says of the tasks earlier runs left failed (RunOptions::failed_earlier).
  std::vector<FailureNote> EarlierFailures() const;
  void ReportTrouble(const std::string& what);
  void ReportRunTrouble(const std::string& id, const AttemptResult& r, const WorkerInfo& w);
  void WelcomeWorkers();
  // Tells the user, once, when a task asks for memory that some worker cannot enforce.
  void SayWhereMemoryIsNotEnforced();
  // Ends the run (exit 2) when a task fits on no worker at all, rather than let it wait forever.
  void CheckEveryTaskFits();
  void Dispatch(std::int64_t now_ms);
  // Batches `a` for its worker, or holds it back (see held_).
  void Give(const Scheduler::Assignment& a,
            std::vector<std::pair<int, AttemptResult>>& unstartable);
  void Batch(const Scheduler::Assignment& a,
             std::vector<std::pair<int, AttemptResult>>& unstartable);
  // Batches what worker `worker` holds back, as far as its suspects allow.
  void ReleaseHeld(int worker, std::vector<std::pair<int, AttemptResult>>& unstartable);
  // Returns the held assignments to the scheduler as never started: the run is stopping.
  void DropHeld();
  bool IsSuspect(std::uint64_t index) const { return ledger_.WorkerDeaths(index) > 0; }
  void CheckSilentWorkers();
  // Journals what a kind's successful attempt produced (TaskOutputRecord).
  void RecordOutput(const AttemptResult& r, const std::string& result_json);
  void RecordSkipped();
  void AdvanceDrain();
  void Record(const JournalRecord& record);
  // Sends the unsynced batches whose dispatches are now in the journal, in the order dispatched.
  void SendDurable();
  // Takes back every unsynced batch (a drain or stop starts): its tasks never reached a worker,
  // so each attempt ends interrupted without having started, as one dropped from a worker's
  // queue.
  void TakeBackUnsynced();
  // Keeps the memory of a batch that has been sent, for a later batch (spare_task_vectors_).
  void KeepForReuse(TaskBatch& sent);
  void Finish(int exit_status, const std::string& message);
  // Sends `message` to every worker that said Hello.
  template <class Message>
  void SendToWorkers(const Message& message);
  WorkerInfo& Worker(int rank) { return workers_[static_cast<std::size_t>(rank)]; }
  int ExitStatus() const;
  Progress CurrentProgress() const;
  std::int64_t ElapsedMs() const;
  // The clock's steady time in milliseconds: the scheduler's time.
  std::int64_t SteadyMs() const;

  Transport& transport_;
  const TaskSource& source_;
  const KindRegistry& kinds_;
  RunLedger& ledger_;
  ResultsWriter& results_;
  RecordWriter& records_;
  Reporter& reporter_;
  const Clock& clock_;
  RunOptions options_;
  Scheduler scheduler_;
  // By transport rank, so that a result finds its worker without a search among 10^5 of them.
  std::vector<WorkerInfo> workers_;
  int greeted_ = 0;  // workers that said Hello
  // What Dispatch sends each worker in one Step (by transport rank), and who gets one.
  std::vector<TaskBatch> batches_;
  std::vector<Scheduler::Assignment> assigned_;  // by the scheduler in this Step's Dispatch
  // The message last received and the ResultBatch last decoded, received and decoded into
  // again: their buffers, vectors and strings keep their memory.
  Envelope received_;
  ResultBatch incoming_;
  std::vector<int> batched_;
  std::vector<std::vector<TaskSpec>> spare_task_vectors_;  // empty, with their capacity
  bool lost_worker_ = false;
  std::chrono::steady_clock::time_point last_silence_check_;
  // A suspect (a task that was in flight at a death of its worker) runs alone on its worker: it
  // is sent only when the worker has nothing in flight, and nothing else is sent there until it
  // ends, so that a death meanwhile is evidence against it alone. Assignments that must wait
  // for that are held here, by worker, in order (WorkerInfo keeps what is in flight there).
  std::map<int, std::deque<Scheduler::Assignment>> held_;
  Phase phase_ = Phase::kGreeting;
  int exit_status_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::deque<UnsyncedBatch> unsynced_;                    // in the order dispatched
  std::chrono::steady_clock::time_point phase_deadline_;  // of kDraining and kStopping
  IdleBackoff idle_;
  std::uint64_t attempts_ = 0;
  std::uint64_t failures_reported_ = 0;
  std::size_t retired_reported_ = 0;
  SlowestTasks slowest_{5};
  std::vector<FailureNote> failed_;       // the first tasks of this run that did not succeed
  std::vector<TaskSpec> start_commands_;  // per worker, before its first task
  std::vector<TaskSpec> stop_commands_;   // per worker, once every task has ended
  std::size_t stop_commands_done_ = 0;    // workers that have run them (and node_teardown)
  NodeCommands node_commands_;            // the manifest's node_setup and node_teardown
  std::size_t welcomed_ = 0;              // workers sent their Welcome
  std::size_t hosts_ready_ = 0;           // hosts whose node_setup succeeded
  std::uint64_t per_worker_failures_ = 0;
  std::uint64_t failed_for_good_ = 0;  // in this run
  std::uint64_t failure_limit_ = 0;    // max_failures as a count; 0: none
  std::string stop_reason_;            // why the run stopped early on purpose, if it did
};

}  // namespace jobrunner
