#pragma once

#include <jobrunner/task_kind.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "schedule/outcome.h"

namespace jobrunner {

// One in-process task to run.
struct KindRequest {
  std::uint64_t key = 0;  // the caller's handle; comes back in KindExit
  const TaskKind* kind = nullptr;
  std::string args;  // encoded by the kind's EncodeArgs
  std::string task_id;
  int attempt = 1;
  std::string cwd;       // absolute; empty: the worker's working directory
  std::string data_dir;  // where OutputFile puts bulk output
  std::int64_t timeout_ms = 0;
};

struct KindExit {
  std::uint64_t key = 0;
  Outcome outcome = Outcome::kSucceeded;  // kFailed when Run threw, kTimedOut past the timeout
  std::int64_t start_ms = 0;              // unix time
  std::int64_t end_ms = 0;
  std::string result;  // encoded by the kind, when it succeeded
  std::string data_path;
  std::string error;       // what Run threw
  bool disk_full = false;  // it threw DiskFullError: outcome kInterrupted
  // The CPU time of the thread while it ran the kind; not measured for one reported at its
  // timeout, whose thread has not returned.
  bool cpu_measured = false;
  std::int64_t cpu_user_us = 0;
  std::int64_t cpu_system_us = 0;
};

// A task that a thread has begun.
struct KindStart {
  std::uint64_t key = 0;
  int attempt = 1;
  std::int64_t start_ms = 0;  // unix time
};

// Runs task kinds on a pool of threads, one task per thread, so that the worker's own thread keeps
// talking to the coordinator. The worker learns of ended tasks through wake_fd() (an eventfd it
// polls beside its children) and Collect().
//
// A task past its timeout is reported kTimedOut at once and told to stop (Cancelled()); a thread
// cannot be killed, so its slot stays busy until the kind returns, and what it returns is
// dropped. Kinds that may never return belong in a helper process (`isolate: true`). The threads
// are detached and share the runner's state, so that one stuck in a kind cannot keep the worker
// from exiting: the runner waits a moment for them, then leaves them to the process's end.
class KindRunner {
 public:
  // `clock` gives tasks their start and end times and deadlines; it must outlive the threads,
  // which may outlive the runner (the system clock does).
  explicit KindRunner(const Clock& clock = SystemClock());
  ~KindRunner();  // cancels every task and waits up to kExitWait for the threads to return
  KindRunner(const KindRunner&) = delete;
  KindRunner& operator=(const KindRunner&) = delete;

  // Queues a task; it starts as soon as fewer than Concurrency() tasks run. Queued tasks start
  // one after another on the same threads, without a round trip through the caller's loop.
  void Start(std::vector<KindRequest> requests);
  // How many tasks may run at once (the worker's free slots); 0 holds queued tasks back.
  void SetConcurrency(std::size_t concurrency);
  // Tasks running: started, and their threads not returned yet (including timed-out ones).
  std::size_t Busy() const;
  // Takes the tasks that have not started out of the queue; returns their keys.
  std::vector<std::uint64_t> DropQueued();
  // Readable while ended tasks wait for Collect.
  int wake_fd() const { return wake_fd_; }
  // Ended tasks, and tasks that passed their timeout since the last call.
  std::vector<KindExit> Collect();
  // Tasks that began since the last call (while any task is unreported; a start left over from
  // a task already collected may come back later, and names its attempt to be told apart).
  std::vector<KindStart> TakeStarts();
  // When the next running task times out, on the clock's Now(); nullopt when none has a timeout.
  std::optional<std::chrono::steady_clock::time_point> NextDeadline() const;
  // Tells every running task to stop; they come back from Collect as they return (as kFailed
  // when they throw on cancellation: the caller decides what a drain makes of them).
  void CancelAll();

  // Tasks of every runner still inside their kind, counting those of destroyed runners. A kind
  // that returns after the process has begun to exit would use static objects already destroyed
  // (the serializers that encode its result), so while this is not 0 the process must end
  // without destroying them: std::_Exit rather than a return from main.
  static std::size_t StillRunningAnywhere();

 private:
  struct Task;
  struct State;
  static void Loop(std::shared_ptr<State> state);
  static void Wake(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
  int wake_fd_ = -1;  // owned by state_
  // Tasks started and not yet returned by Collect or DropQueued. Only the owner's thread, which
  // alone calls Start, Collect and DropQueued, touches it.
  std::size_t unreported_ = 0;
};

}  // namespace jobrunner
