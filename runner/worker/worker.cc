#include "worker/worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "base/text.h"
#include "manifest/manifest.h"
#include "manifest/task_source.h"
#include "posix/default_shell.h"
#include "posix/signals.h"
#include "rundir/run_dir.h"
#include "worker/kind_helper.h"

namespace jobrunner {
namespace {
using std::chrono::milliseconds;

// Results wait at most this long for company before they are sent...
constexpr milliseconds kResultDelay{2};
// ...or until this many have gathered.
constexpr std::size_t kResultBatch = 512;
// A task killed by an interrupt signal waits this long for the same signal to reach the worker
// (see the constructor), before it is reported as a task failure.
constexpr milliseconds kHoldSignaled{200};
// Longest sleep between two looks at the coordinator: bounds how late a worker notices new work
// or a Shutdown, and keeps an idle rank's CPU use near zero.
constexpr milliseconds kMaxIdleWait{10};
// Keys of per-worker commands in the process set: above every task index (at most 2^28).
constexpr std::uint64_t kPerWorkerKey = std::uint64_t{1} << 63;

// A task that asks for cores runs that many threads unless its manifest says otherwise; a task
// given GPUs sees only those, whatever its manifest says, so that none is shared. Commands and
// Python calls alike.
void AddResourceVariables(const TaskSpec& task,
                          std::vector<std::pair<std::string, std::string>>& env) {
  if (task.cores > 0 && std::none_of(env.begin(), env.end(), [](const auto& var) {
        return var.first == "OMP_NUM_THREADS";
      })) {
    env.emplace_back("OMP_NUM_THREADS", std::to_string(task.cores));
  }
  if (!task.gpus.empty()) {
    env.erase(std::remove_if(env.begin(), env.end(),
                             [](const auto& var) { return var.first == "CUDA_VISIBLE_DEVICES"; }),
              env.end());
    env.emplace_back("CUDA_VISIBLE_DEVICES", Join(task.gpus, ","));
  }
}
}  // namespace

Worker::Worker(Transport& transport, ProcessSet& processes, Hello hello,
               bool (*received_signal)(int), const Clock& clock, OrphanGuard* guard)
    : transport_(transport),
      processes_(processes),
      clock_(clock),
      rank_(hello.rank),
      received_signal_(received_signal),
      kind_runner_(clock),
      guard_(guard),
      idle_(kMaxIdleWait, clock) {
  processes_.WakeOn(kind_runner_.wake_fd());
  if (hello.shell.empty()) hello.shell = DefaultShell();
  transport_.Send(kCoordinator, hello);
  last_heartbeat_ = clock_.Now();
}

void Worker::SayStopping(int signal) {
  transport_.Send(kCoordinator, Stopping{signal});
  // Bounded: a coordinator that is gone already must not keep this rank from ending.
  for (int i = 0; i < 100 && !transport_.Flush(); ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
}

Worker::~Worker() {
  processes_.WakeOn(-1);
  python_.reset();  // its interpreters end before the process set and the guard do
}

void Worker::AlsoWakeOn(int fd) { processes_.WakeOn(fd); }

void Worker::OpenRunDirectories() {
  // Ranks on another host than the coordinator may not share its file system: the directories
  // are made if missing. They are opened once, refusing links, and the files in them created
  // through these fds: a task that later replaces logs/ with a link cannot redirect its output.
  const std::string& path = welcome_->run_dir;
  StatusOr<Dir> run_dir = Dir::Open(path);
  if (!run_dir.ok()) {
    run_dir_error_ = "cannot open run directory " + path + ": " + run_dir.status().message();
    return;
  }
  StatusOr<Dir> logs = run_dir->OpenSubdirectory(kLogsDir, /*create=*/true);
  StatusOr<Dir> data = run_dir->OpenSubdirectory(kDataDir, /*create=*/true);
  if (!logs.ok() || !data.ok()) {
    const char* name = logs.ok() ? kDataDir : kLogsDir;
    run_dir_error_ = "cannot use " + run_dir->PathOf(name) + ": " +
                     (logs.ok() ? data.status() : logs.status()).message();
    return;
  }
  logs_ = std::make_shared<const Dir>(std::move(*logs));
}

void Worker::OnWelcome(Welcome welcome) {
  welcome_ = std::move(welcome);
  // The host's set-up comes first: the START commands may need what it stages.
  if (!welcome_->node_setup.empty()) per_worker_queue_.emplace_back(kNodeSetup, 0);
  for (std::uint64_t i = 0; i < welcome_->start_commands.size(); ++i) {
    per_worker_queue_.emplace_back(kPerWorkerStart, i);
  }
  started_ = per_worker_queue_.empty();
  OpenRunDirectories();
  for (const std::string& plugin : welcome_->plugins) {
    try {
      kinds_.LoadPlugin(plugin);
    } catch (const PluginError& e) {
      // Said in the result of each task that needs it, rather than lost in a rank's stderr.
      plugin_errors_ += std::string("; ") + e.what();
    }
  }
}

bool Worker::HandleMessages() {
  bool any = false;
  while (std::optional<Envelope> e = transport_.Receive()) {
    any = true;
    switch (e->tag) {
      case Tag::kWelcome:
        OnWelcome(DecodeMessage<Welcome>(e->payload));
        break;
      case Tag::kTaskBatch: {
        TaskBatch batch = DecodeMessage<TaskBatch>(e->payload);
        for (TaskSpec& t : batch.tasks) queue_.push_back(std::move(t));
        break;
      }
      case Tag::kDrain:
        OnDrain(DecodeMessage<Drain>(e->payload));
        break;
      case Tag::kShutdown: {
        // The coordinator reports the reason; workers stay quiet so it is said once, not N times.
        exit_code_ = DecodeMessage<Shutdown>(e->payload).exit_code;
        shutting_down_ = true;
        break;
      }
      default:
        break;  // nothing else is addressed to a worker
    }
  }
  return any;
}

void Worker::Queue(AttemptResult result) {
  if (unsent_.empty()) oldest_unsent_ = clock_.Now();
  unsent_.push_back(std::move(result));
}

void Worker::NoteStart(std::uint64_t index, std::int64_t start_ms) {
  running_[index].start_ms = start_ms;
  if (unsent_starts_.empty()) oldest_unsent_start_ = clock_.Now();
  unsent_starts_.push_back(index);
}

void Worker::NoteKindStarts() {
  for (const KindStart& start : kind_runner_.TakeStarts()) {
    auto it = running_.find(start.key);
    if (it != running_.end() && it->second.attempt == start.attempt) {
      NoteStart(start.key, start.start_ms);
    }
  }
}

std::vector<TaskStart> Worker::TakeStarts() {
  std::vector<TaskStart> starts;
  for (std::uint64_t index : unsent_starts_) {
    auto it = running_.find(index);
    // Ended already: its result, in this batch or held back, says when it started.
    if (it == running_.end() || it->second.start_reported) continue;
    it->second.start_reported = true;
    starts.push_back(TaskStart{index, it->second.attempt, it->second.start_ms, it->second.task_id});
  }
  unsent_starts_.clear();
  return starts;
}

void Worker::OnDrain(const Drain& drain) {
  if ((drain.run_stop_commands || drain.run_node_teardown) && welcome_ && !stop_requested_) {
    stop_requested_ = true;
    for (std::uint64_t i = 0; drain.run_stop_commands && i < welcome_->stop_commands.size(); ++i) {
      per_worker_queue_.emplace_back(kPerWorkerStop, i);
    }
    // Last: the STOP commands may still use what the host's set-up staged.
    for (std::uint64_t i = 0; drain.run_node_teardown && i < welcome_->node_teardown.size(); ++i) {
      per_worker_queue_.emplace_back(kNodeTeardown, i);
    }
  }
  for (const TaskSpec& task : queue_) {
    AttemptResult r;
    r.index = task.index;
    r.attempt = task.attempt;
    r.outcome = Outcome::kInterrupted;  // never started: no start time, no output
    Queue(std::move(r));
  }
  queue_.clear();
  std::vector<std::uint64_t> dropped = kind_runner_.DropQueued();
  if (python_) {
    for (std::uint64_t index : python_->DropQueued()) dropped.push_back(index);
  }
  for (std::uint64_t index : dropped) {
    auto it = running_.find(index);
    if (it == running_.end()) continue;
    AttemptResult r;
    r.index = index;
    r.attempt = it->second.attempt;
    r.outcome = Outcome::kInterrupted;
    kind_extra_cores_ -= it->second.cores - 1;
    running_.erase(it);
    Queue(std::move(r));
  }
  if (drain.kill_running) {
    for (auto& [index, running] : running_) running.killed_by_drain = true;
    processes_.KillAll();
    kind_runner_.CancelAll();
    if (python_) python_->KillRunning();
  }
}

std::string Worker::OutputPath(const TaskSpec& task, const char* stream) const {
  return AttemptLogPath(welcome_->run_dir, task.id, task.attempt, stream);
}

std::string Worker::FreeLogPath(const TaskSpec& task, const char* stream) const {
  const std::string name = AttemptLogName(task.id, task.attempt, stream);
  std::string chosen = name;
  for (int copy = 2; logs_ != nullptr && copy <= kMaxLogCopies; ++copy) {
    StatusOr<Dir::Entry> there = logs_->Look(chosen);
    if (!there.ok() || there->kind == Dir::Kind::kMissing) break;
    chosen = LogCopyName(name, copy);
  }
  return welcome_->run_dir + "/" + kLogsDir + "/" + chosen;
}

void Worker::CannotStart(const TaskSpec& task, std::string error) {
  AttemptResult r;
  r.index = task.index;
  r.attempt = task.attempt;
  r.outcome = Outcome::kSpawnError;
  r.start_ms = r.end_ms = clock_.UnixMs();
  r.error = std::move(error);
  r.task_id = task.id;
  if (task.kind.empty()) AppendCommandLine(task, DefaultShell(), r.command);
  Queue(std::move(r));
}

bool Worker::RunPerWorkerCommands() {
  if (!per_worker_running_ && !per_worker_queue_.empty()) {
    const auto [phase, ordinal] = per_worker_queue_.front();
    per_worker_queue_.pop_front();
    const std::vector<TaskSpec>& commands = phase == kPerWorkerStart  ? welcome_->start_commands
                                            : phase == kPerWorkerStop ? welcome_->stop_commands
                                            : phase == kNodeSetup     ? welcome_->node_setup
                                                                      : welcome_->node_teardown;
    TaskSpec task = commands[ordinal];
    // Every worker runs a START or STOP command: its logs are the worker's own. A node command's
    // id already names its host.
    if (phase == kPerWorkerStart || phase == kPerWorkerStop) {
      task.id += "-rank" + std::to_string(rank_);
    }
    task.index = kPerWorkerKey | (static_cast<std::uint64_t>(phase) << 32) | ordinal;
    per_worker_running_ = true;
    StartCommand(std::move(task), "", phase, ordinal);
  }
  if (!started_ && !per_worker_running_ && per_worker_queue_.empty()) started_ = true;
  return started_;
}

void Worker::AddDisbatchEnv(const Running& running,
                            std::vector<std::pair<std::string, std::string>>& env) const {
  // disBatch's engine is one per node; here each worker rank is one (with -n 1, rank 0).
  env.emplace_back("DISBATCH_JOBID", std::filesystem::path(welcome_->run_dir).filename().string());
  env.emplace_back("DISBATCH_ENGINE_RANK", std::to_string(rank_ > 0 ? rank_ - 1 : 0));
  env.emplace_back("DISBATCH_CYLINDER_RANK", std::to_string(running.cylinder));
}

void Worker::StartQueued() {
  if (!welcome_) return;
  if (!RunPerWorkerCommands()) return;
  const int slots = welcome_->slots;
  // A task takes as many slots as it asks cores (one by default). In-process kinds of one core go
  // to the kind runner's own queue at once, so that its threads go from one to the next without
  // waiting for this loop; they get the slots that children and larger kinds leave free. Any
  // other task starts when its cores are free here. The coordinator sends a task of more than
  // one core only when its cores are free, counting what it sent before, so none waits long.
  // Python calls of one core and no GPU are streamed to the interpreters the same way.
  std::vector<KindRequest> in_process;
  std::vector<PythonCall> python;
  while (!queue_.empty()) {
    const TaskSpec& next = queue_.front();
    const int cores = std::max(1, next.cores);
    const bool streamed = !next.kind.empty() && !next.isolate && cores == 1 && next.gpus.empty();
    if (!streamed) {
      const int busy = BusyCores();
      if (busy > 0 && busy + cores > slots) break;
    }
    TaskSpec task = std::move(queue_.front());
    queue_.pop_front();
    if (!run_dir_error_.empty()) {
      CannotStart(task, run_dir_error_);
    } else if (task.kind.empty()) {
      StartCommand(std::move(task));
    } else if (task.kind == kPythonKind) {
      StartPython(std::move(task), python);
    } else {
      StartKind(std::move(task), in_process);
    }
  }
  // The kind runner and the interpreters share the slots left: each may use those the other
  // does not use now. (Both take work at once only when one worker gets both sorts of task;
  // one then briefly waits for the other to give a slot back.)
  const int free = std::max(0, slots - child_cores_ - kind_extra_cores_);
  kind_runner_.SetConcurrency(static_cast<std::size_t>(std::max(0, free - PythonBusy())));
  if (python_) {
    const int kinds = static_cast<int>(kind_runner_.Busy());
    python_->SetConcurrency(static_cast<std::size_t>(std::max(0, free - kinds)));
    if (!python.empty()) python_->Start(std::move(python));
  }
  if (!in_process.empty()) kind_runner_.Start(std::move(in_process));
}

void Worker::StartPython(TaskSpec task, std::vector<PythonCall>& calls) {
  if (!python_) {
    PythonPoolSettings settings;
    settings.python = welcome_->python;
    settings.run_dir = welcome_->run_dir;
    settings.logs = logs_;
    settings.scratch_prefix = ".python-rank" + std::to_string(rank_) + "-";
    settings.max_output = welcome_->max_output;
    settings.kill_grace = milliseconds(welcome_->kill_grace_ms);
    settings.max_interpreters = static_cast<std::size_t>(std::max(1, welcome_->slots));
    python_ = std::make_unique<PythonPool>(std::move(settings), guard_);
    processes_.WakeOn(python_->wake_fd());
  }
  const int cores = std::max(1, task.cores);
  kind_extra_cores_ += cores - 1;
  // The pool does not tell when a call begins: a call's start comes with its result only.
  Running& running = running_[task.index];
  running.attempt = task.attempt;
  running.cores = cores;
  running.task_id = task.id;
  PythonCall call;
  call.key = task.index;
  call.name = task.id + "." + std::to_string(task.attempt);
  call.call = std::move(task.kind_args);
  call.timeout_ms = task.timeout_ms;
  // What the call needs set: its cwd, its env, and as for a command, OMP_NUM_THREADS and
  // CUDA_VISIBLE_DEVICES. Most calls need nothing, and pay nothing.
  call.gpus = Join(task.gpus, ",");
  AddResourceVariables(task, task.env);
  if (!task.cwd.empty() || !task.env.empty()) {
    std::string env;
    for (const auto& [name, value] : task.env) {
      env += (env.empty() ? "" : ",") + JsonQuote(name) + ":" + JsonQuote(value);
    }
    call.context = "{\"cwd\":" + JsonQuote(task.cwd) + ",\"env\":{" + env + "}}";
  }
  calls.push_back(std::move(call));
}

void Worker::StartKind(TaskSpec task, std::vector<KindRequest>& in_process) {
  const TaskKind* kind = kinds_.Find(task.kind);
  if (kind == nullptr) {
    CannotStart(task, fmt::format("unknown task kind '{}' on worker rank {}{}", task.kind, rank_,
                                  plugin_errors_));
    return;
  }
  const std::string data_dir = welcome_->run_dir + "/data";
  if (task.isolate) {
    const KindInvocation invocation{task.kind, task.kind_args, task.id,          task.attempt,
                                    task.cwd,  data_dir,       welcome_->plugins};
    std::string output = OutputPath(task, "kind");
    task.argv = KindHelperArgv(invocation, output);
    StartCommand(std::move(task), std::move(output));
    return;
  }
  // The kind runner counts each task as one of its threads; the cores beyond the first are
  // taken off its concurrency while the task is here.
  const int cores = std::max(1, task.cores);
  kind_extra_cores_ += cores - 1;
  Running& running = running_[task.index];
  running.attempt = task.attempt;
  running.cores = cores;
  running.task_id = task.id;
  in_process.push_back(KindRequest{task.index, kind, std::move(task.kind_args), task.id,
                                   task.attempt, task.cwd, data_dir, task.timeout_ms});
}

void Worker::StartCommand(TaskSpec task, std::string helper_output, int per_worker,
                          std::uint64_t ordinal) {
  {
    // The command line results.jsonl shows, made from the argv before it moves: a task's own
    // (an isolated kind's helper and a per-worker command are not shown as the task's command).
    std::string command;
    if (per_worker == 0 && helper_output.empty()) AppendCommandLine(task, DefaultShell(), command);
    ProcessRequest request;
    request.key = task.index;
    request.argv = std::move(task.argv);
    if (!request.argv.empty() && request.argv[0].empty()) request.argv[0] = DefaultShell();
    request.cwd = std::move(task.cwd);
    request.env = std::move(task.env);
    AddResourceVariables(task, request.env);
    // Where the task runs, for scripts that want to know (MPI's own variables are removed).
    request.env.emplace_back("JOBRUNNER_TASK_ID", task.id);
    request.env.emplace_back("JOBRUNNER_ATTEMPT", std::to_string(task.attempt));
    request.env.emplace_back("JOBRUNNER_WORKER_RANK", std::to_string(rank_));
    request.env.emplace_back("JOBRUNNER_RUN_DIR", welcome_->run_dir);
    request.timeout_ms = task.timeout_ms;
    request.stdout_path = FreeLogPath(task, "out");
    request.stderr_path = FreeLogPath(task, "err");
    request.output_dir = logs_;
    request.max_output = welcome_->max_output;
    request.memory_limit = task.memory;
    // A per-worker command takes no slot: tasks wait for it (START) or are done (STOP).
    const int cores = per_worker != 0 ? 0 : std::max(1, task.cores);
    child_cores_ += cores;
    Running& running = running_[task.index];
    running.attempt = task.attempt;
    running.stdout_path = request.stdout_path;
    running.stderr_path = request.stderr_path;
    running.helper_output = std::move(helper_output);
    running.cores = cores;
    running.task_id = std::move(task.id);
    running.command = std::move(command);
    running.per_worker = per_worker;
    running.ordinal = ordinal;
    if (task.disbatch) {
      if (per_worker == 0) {
        const auto free = std::find(cylinders_.begin(), cylinders_.end(), false);
        running.cylinder = static_cast<int>(free - cylinders_.begin());
        if (free == cylinders_.end()) {
          cylinders_.push_back(true);
        } else {
          *free = true;
        }
      }
      AddDisbatchEnv(running, request.env);
    }
    processes_.Start(std::move(request));
    // A per-worker command is not a task of the run: the coordinator hears of it by its result.
    if (per_worker == 0) {
      NoteStart(task.index, clock_.UnixMs());
    } else {
      running.start_ms = clock_.UnixMs();
    }
  }
}

bool Worker::StoppedWithRun(const AttemptResult& r) const {
  return r.outcome == Outcome::kSignaled && received_signal_ != nullptr &&
         received_signal_(r.signal);
}

void Worker::ReleaseHeld(bool all) {
  const auto now = clock_.Now();
  for (auto it = held_.begin(); it != held_.end();) {
    if (!all && now < it->first && !StoppedWithRun(it->second)) {
      ++it;
      continue;
    }
    if (StoppedWithRun(it->second)) it->second.outcome = Outcome::kInterrupted;
    Queue(std::move(it->second));
    it = held_.erase(it);
  }
}

AttemptResult Worker::Ended(std::uint64_t index, Running& running, Outcome outcome,
                            std::int64_t start_ms, std::int64_t end_ms, std::string error) {
  AttemptResult r;
  r.index = index;
  r.attempt = running.attempt;
  // A task the drain killed did nothing wrong: its attempt is interrupted, not failed.
  r.outcome = running.killed_by_drain ? Outcome::kInterrupted : outcome;
  r.start_ms = start_ms;
  r.end_ms = end_ms;
  r.error = std::move(error);
  r.task_id = std::move(running.task_id);
  r.command = std::move(running.command);
  return r;
}

void Worker::Collect(std::vector<ProcessExit> exits) {
  for (ProcessExit& x : exits) {
    auto it = running_.find(x.key);
    if (it == running_.end()) continue;
    AttemptResult r = Ended(x.key, it->second, x.outcome, x.start_ms, x.end_ms, std::move(x.error));
    r.exit_code = x.exit_code;
    r.signal = x.signal;
    if (x.stdout_bytes > 0) r.stdout_path = std::move(it->second.stdout_path);
    if (x.stderr_bytes > 0) r.stderr_path = std::move(it->second.stderr_path);
    r.stdout_bytes = x.stdout_bytes;
    r.stderr_bytes = x.stderr_bytes;
    r.stdout_truncated = x.stdout_truncated;
    r.stderr_truncated = x.stderr_truncated;
    r.left_running = x.left_running;
    r.disk_full = x.disk_full;
    r.pid = x.pid;
    r.cpu_measured = x.pid != 0;
    r.cpu_user_us = x.cpu_user_us;
    r.cpu_system_us = x.cpu_system_us;
    r.max_rss_kb = x.max_rss_kb;
    r.memory_limit = x.memory_limit;
    r.oom_kills = x.oom_kills;
    if (r.outcome != Outcome::kSucceeded) r.stderr_tail = std::move(x.stderr_tail);
    if (!it->second.helper_output.empty()) {
      // An isolated kind: its outcome is what the helper wrote, if it got that far.
      std::optional<KindHelperOutput> output =
          TakeKindHelperOutput(*logs_, BaseNameOf(it->second.helper_output));
      if (output && r.outcome == Outcome::kSucceeded) {
        r.kind_result = std::move(output->result);
        r.data_path = std::move(output->data_path);
      } else if (output && r.outcome == Outcome::kFailed) {
        r.error = std::move(output->error);
        if (output->disk_full) {
          r.outcome = Outcome::kInterrupted;
          r.disk_full = true;
        }
      }
    }
    child_cores_ -= it->second.cores;
    if (it->second.cylinder >= 0) cylinders_[static_cast<std::size_t>(it->second.cylinder)] = false;
    if (it->second.per_worker != 0) {
      r.index = it->second.ordinal;
      r.per_worker = it->second.per_worker;
      per_worker_running_ = false;
      // A host whose set-up failed takes no tasks (the coordinator sends none): nothing is left
      // to prepare for them.
      if (r.per_worker == kNodeSetup && r.outcome != Outcome::kSucceeded) {
        per_worker_queue_.erase(
            std::remove_if(per_worker_queue_.begin(), per_worker_queue_.end(),
                           [](const auto& queued) { return queued.first == kPerWorkerStart; }),
            per_worker_queue_.end());
      }
    }
    running_.erase(it);
    Report(std::move(r));
  }
  ReleaseHeld(/*all=*/false);
}

void Worker::Report(AttemptResult r) {
  if (r.outcome == Outcome::kSignaled && IsInterruptSignal(r.signal)) {
    held_.emplace_back(clock_.Now() + kHoldSignaled, std::move(r));
    return;
  }
  Queue(std::move(r));
}

void Worker::CollectKinds(std::vector<KindExit> exits) {
  for (KindExit& x : exits) {
    auto it = running_.find(x.key);
    if (it == running_.end()) continue;
    AttemptResult r = Ended(x.key, it->second, x.outcome, x.start_ms, x.end_ms, std::move(x.error));
    r.kind_result = std::move(x.result);
    r.data_path = std::move(x.data_path);
    r.disk_full = x.disk_full;
    r.cpu_measured = x.cpu_measured;
    r.cpu_user_us = x.cpu_user_us;
    r.cpu_system_us = x.cpu_system_us;
    kind_extra_cores_ -= it->second.cores - 1;
    running_.erase(it);
    Queue(std::move(r));
  }
}

void Worker::CollectPython(std::vector<PythonExit> exits) {
  for (PythonExit& x : exits) {
    auto it = running_.find(x.key);
    if (it == running_.end()) continue;
    AttemptResult r;
    if (!x.started) {  // dropped by a drain before it began: no start time, no output
      r.index = x.key;
      r.attempt = it->second.attempt;
      r.outcome = Outcome::kInterrupted;
    } else {
      r = Ended(x.key, it->second, x.outcome, x.start_ms, x.end_ms, std::move(x.error));
      r.exit_code = x.exit_code;
      r.signal = x.signal;
      r.kind_result = std::move(x.result);
      r.data_path = std::move(x.data_path);
      r.stdout_path = std::move(x.stdout_path);
      r.stderr_path = std::move(x.stderr_path);
      r.stdout_bytes = x.stdout_bytes;
      r.stderr_bytes = x.stderr_bytes;
      r.stdout_truncated = x.stdout_truncated;
      r.stderr_truncated = x.stderr_truncated;
    }
    kind_extra_cores_ -= it->second.cores - 1;
    running_.erase(it);
    Report(std::move(r));
  }
  ReleaseHeld(/*all=*/false);
}

void Worker::FlushResults(bool force) {
  if (unsent_.empty() && unsent_starts_.empty()) return;
  const auto now = clock_.Now();
  // A worker with an empty queue needs the coordinator to hear of free slots now; starts can
  // wait for company as results do.
  const bool results_due = !unsent_.empty() && (queue_.empty() || unsent_.size() >= kResultBatch ||
                                                now - oldest_unsent_ >= kResultDelay);
  const bool starts_due = !unsent_starts_.empty() && now - oldest_unsent_start_ >= kResultDelay;
  if (!force && !results_due && !starts_due) return;
  ResultBatch batch;
  batch.results = std::move(unsent_);
  unsent_.clear();
  batch.started = TakeStarts();
  if (batch.results.empty() && batch.started.empty()) return;
  transport_.Send(kCoordinator, batch);
  // Any message says this worker is alive: a busy one sends no heartbeat besides, so that 10^5
  // of them do not send the coordinator 10^5 messages a second for nothing.
  last_heartbeat_ = clock_.Now();
}

milliseconds Worker::NextWait(milliseconds max_wait) const {
  milliseconds wait = std::min(max_wait, idle_.current());
  if (!unsent_.empty() || !unsent_starts_.empty()) wait = std::min(wait, kResultDelay);
  std::optional<std::chrono::steady_clock::time_point> next = kind_runner_.NextDeadline();
  for (const auto& [until, result] : held_) next = next ? std::min(*next, until) : until;
  if (next) {
    const auto until = std::chrono::ceil<milliseconds>(*next - clock_.Now());
    wait = std::min(wait, std::max(milliseconds(0), until));
  }
  return wait;
}

bool Worker::Step(milliseconds max_wait) {
  bool active = HandleMessages();
  if (shutting_down_) {
    processes_.KillAll();
    kind_runner_.CancelAll();
    if (python_) python_->KillRunning();
    Collect(processes_.Wait(milliseconds(0)));
    if (python_) CollectPython(python_->Collect());
    ReleaseHeld(/*all=*/true);
    CollectKinds(kind_runner_.Collect());
    FlushResults(true);
    return transport_.Flush();
  }
  StartQueued();
  // While children run, Wait returns the moment one ends; the cap only bounds how long new
  // messages wait to be seen.
  std::vector<ProcessExit> exits = processes_.Wait(NextWait(max_wait));
  NoteKindStarts();
  std::vector<KindExit> kind_exits = kind_runner_.Collect();
  std::vector<PythonExit> python_exits;
  if (python_) python_exits = python_->Collect();
  active = active || !exits.empty() || !kind_exits.empty() || !python_exits.empty();
  Collect(std::move(exits));
  CollectKinds(std::move(kind_exits));
  CollectPython(std::move(python_exits));
  StartQueued();
  FlushResults(false);
  if (clock_.Now() - last_heartbeat_ >= milliseconds(kHeartbeatIntervalMs)) {
    transport_.Send(kCoordinator, Heartbeat{});
    last_heartbeat_ = clock_.Now();
  }
  if (stop_requested_ && !stop_done_sent_ && !per_worker_running_ && per_worker_queue_.empty()) {
    ReleaseHeld(/*all=*/true);
    ResultBatch batch;
    batch.results = std::move(unsent_);
    unsent_.clear();
    batch.stop_commands_done = true;
    transport_.Send(kCoordinator, batch);
    stop_done_sent_ = true;
  }
  transport_.Flush();
  idle_.Next(active);
  return false;
}

}  // namespace jobrunner
