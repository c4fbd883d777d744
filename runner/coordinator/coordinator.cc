#include "coordinator/coordinator.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "coordinator/interrupted.h"
#include "kinds/kind_binding.h"
#include "manifest/units.h"
#include "posix/default_shell.h"
#include "posix/file.h"
#include "posix/output_capture.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace {
using std::chrono::milliseconds;

constexpr milliseconds kMaxIdleWait{5};
// After telling workers to kill their tasks, how long to wait for the reports of those kills.
constexpr milliseconds kStopWait{5000};
// How often the workers are looked over for one that has been silent for --worker-timeout.
constexpr milliseconds kSilenceCheckInterval{1000};
// Failed tasks named one by one on the console; the rest are only in results.jsonl.
constexpr std::uint64_t kFailuresToReport = 20;
constexpr std::size_t kFailedInSummary = 20;
// Lines of a failed attempt's stderr shown in its warning, and how wide each may be.
constexpr std::size_t kStderrLinesShown = 3;
constexpr std::size_t kStderrLineWidth = 200;
// The most result and data path bytes one TaskOutput record carries (the rest of it is 21 bytes).
constexpr std::size_t kMaxJournaledOutput = kMaxRecordLength - 1024;

// The stderr lines and the log of a failure, indented under the line that names it.
std::string Details(const FailureNote& note) {
  std::string text;
  for (const std::string& line : note.lines) text += "\n    | " + line;
  if (!note.log.empty()) text += "\n    log: " + note.log;
  return text;
}

// The last lines of the stderr log an earlier run's attempt left in `logs`, if it left one.
void ReadEarlierLog(const Dir& logs, FailureNote& note) {
  const std::optional<AttemptLogFile> file =
      FindAttemptLog(logs, AttemptLogName(note.task, note.attempt, "err"));
  if (!file) return;
  StatusOr<UniqueFd> log = logs.OpenForRead(file->name);
  if (!log.ok()) return;
  std::optional<std::string> tail = ReadFileTail(log->get(), OutputCapture::kTailBytes);
  if (!tail) return;
  const bool cut = tail->size() == OutputCapture::kTailBytes;
  note.lines = LastLines(*tail, cut, kStderrLinesShown, kStderrLineWidth);
  note.log = logs.PathOf(file->name);
}

}  // namespace

Coordinator::Coordinator(const Parts& parts, RunOptions options, Scheduler scheduler)
    : transport_(parts.transport),
      source_(parts.source),
      kinds_(parts.kinds),
      ledger_(parts.ledger),
      results_(parts.results),
      records_(parts.records),
      reporter_(parts.reporter),
      clock_(parts.clock),
      options_(std::move(options)),
      scheduler_(std::move(scheduler)),
      workers_(static_cast<std::size_t>(transport_.size())),
      batches_(workers_.size()),
      started_(clock_.Now()),
      idle_(kMaxIdleWait, clock_),
      start_commands_(source_.PerWorkerCommands(/*start=*/true)),
      stop_commands_(source_.PerWorkerCommands(/*start=*/false)),
      node_commands_(source_.NodeCommandSpec(/*setup=*/true),
                     source_.NodeCommandSpec(/*setup=*/false), options_.run_number) {
  if (options_.max_failures) failure_limit_ = options_.max_failures->Of(source_.size());
}

std::int64_t Coordinator::ElapsedMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.Now() - started_).count();
}

std::int64_t Coordinator::SteadyMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.Now().time_since_epoch()).count();
}

void Coordinator::Record(const JournalRecord& record) {
  records_.Add(record);
  ledger_.Apply(record);
}

void Coordinator::SendDurable() {
  // Asked even with nothing held back: Durable() also clears the writer's wake, which a sync of
  // other records signals too, and a wake left readable turns the loop's wait into a spin.
  const RecordWriter::Ticket durable = records_.Durable();
  for (; !unsynced_.empty() && unsynced_.front().ticket <= durable; unsynced_.pop_front()) {
    transport_.Send(unsynced_.front().worker, unsynced_.front().batch);
    KeepForReuse(unsynced_.front().batch);
  }
}

void Coordinator::KeepForReuse(TaskBatch& sent) {
  // A few hundred thousand tasks a second go out in batches of a few: a vector grown afresh for
  // each batch cost an allocation per task. Bounded, and only small ones: spares are memory.
  constexpr std::size_t kMaxSpare = 4096, kMaxCapacity = 64;
  if (spare_task_vectors_.size() >= kMaxSpare || sent.tasks.capacity() > kMaxCapacity) return;
  sent.tasks.clear();
  spare_task_vectors_.push_back(std::move(sent.tasks));
}

void Coordinator::TakeBackUnsynced() {
  std::deque<UnsyncedBatch> dropped = std::exchange(unsynced_, {});
  for (const UnsyncedBatch& held : dropped) {
    for (const TaskSpec& task : held.batch.tasks) {
      AttemptResult r;
      r.index = task.index;
      r.attempt = task.attempt;
      r.outcome = Outcome::kInterrupted;  // never started: no start time, no output
      Accept(held.worker, r);
    }
  }
}

void Coordinator::OnHello(int from, const std::string& payload) {
  // The version alone first: a Hello of another version need not decode as this one's.
  int version = 0;
  MessageReader(payload) & version;
  if (version != kProtocolVersion) {
    Finish(kExitInternal,
           fmt::format("worker rank {} speaks protocol version {}, the coordinator {}: run the "
                       "same jobrunner build on every node",
                       from, version, kProtocolVersion));
    return;
  }
  Hello hello = DecodeMessage<Hello>(payload);
  const int rank = hello.rank;
  const std::string host = hello.host;
  const int cores = std::max(1, hello.cores);
  WorkerInfo& w = Worker(from);
  if (!w.greeted) ++greeted_;
  w.greeted = true;
  w.hello = std::move(hello);
  w.rank = rank;
  w.host = host;
  w.cores = cores;
  w.gpu_ids.clear();
}

void Coordinator::WelcomeWorkers() {
  // A node's cores, memory and GPUs are shared among the worker ranks on it.
  std::map<std::string, int> per_host;
  std::vector<GpuReport> gpu_reports;
  for (const WorkerInfo& w : workers_) {
    if (!w.greeted) continue;
    per_host[w.host]++;
    gpu_reports.push_back(GpuReport{w.host, w.hello.gpus, w.hello.gpus_per_worker});
  }
  const std::vector<std::vector<std::string>> gpus = GpusPerWorker(gpu_reports);
  Record(RunStartedRecord{static_cast<std::uint64_t>(clock_.UnixMs()), options_.run_number,
                          static_cast<std::uint32_t>(greeted_)});
  std::size_t i = 0;
  for (int from = 0; from < static_cast<int>(workers_.size()); ++from) {
    WorkerInfo& w = Worker(from);
    if (!w.greeted) continue;
    w.gpu_ids = gpus[i++];
    Welcome welcome;
    welcome.slots = options_.slots > 0 ? options_.slots : std::max(1, w.cores / per_host[w.host]);
    welcome.run_dir = options_.run_dir;
    welcome.max_output = options_.max_output;
    welcome.kill_grace_ms = options_.kill_grace_ms;
    welcome.plugins = options_.plugins;
    welcome.python = options_.python;
    welcome.start_commands = start_commands_;
    welcome.stop_commands = stop_commands_;
    const bool runs_node_commands = node_commands_.AddToWelcome(w.host, welcome);
    WorkerCapacity capacity;
    capacity.cores = welcome.slots;
    capacity.gpus = static_cast<int>(w.gpu_ids.size());
    capacity.memory = w.hello.memory / static_cast<std::uint64_t>(per_host[w.host]);
    capacity.tags = w.hello.tags;
    capacity.tags.push_back(NodeTag(w.host));
    Record(
        WorkerJoinedRecord{w.rank, w.host, w.hello.pid, static_cast<std::uint32_t>(welcome.slots)});
    NodeCommands::Waiting worker{from, std::move(welcome), std::move(capacity), false};
    if (!node_commands_.has_setup()) {
      Admit(std::move(worker));
      continue;
    }
    // The host's first worker runs its set-up at once; the others hear nothing more until it
    // has succeeded, and none of them is given a task before.
    if (runs_node_commands) {
      transport_.Send(from, worker.welcome);
      worker.welcomed = true;
      ++welcomed_;
    }
    node_commands_.Wait(w.host, std::move(worker));
  }
  phase_ = Phase::kRunning;
  SayWhereMemoryIsNotEnforced();
  // With node_setup, once every host's has ended (AcceptNodeCommand).
  if (!node_commands_.AnyWaiting()) CheckEveryTaskFits();
}

void Coordinator::Admit(NodeCommands::Waiting worker) {
  if (!worker.welcomed) {
    transport_.Send(worker.from, worker.welcome);
    ++welcomed_;
  }
  scheduler_.AddWorker(worker.from, worker.capacity);
  const WorkerInfo& w = Worker(worker.from);
  reporter_.Verbose(fmt::format("worker rank {} on {}: {} slots; {}; memory limits {}", w.rank,
                                w.host, worker.welcome.slots, DescribeCapacity(worker.capacity),
                                w.hello.memory_note));
}

void Coordinator::SayWhereMemoryIsNotEnforced() {
  const auto& entries = source_.manifest().entries;
  if (std::none_of(entries.begin(), entries.end(),
                   [](const TaskEntry& e) { return e.needs.memory > 0; })) {
    return;
  }
  for (const WorkerInfo& w : workers_) {
    if (!w.greeted || w.hello.memory_enforced) continue;
    reporter_.Info(fmt::format(
        "memory: counts for placement but is not enforced on rank {} ({}): {} (see README, "
        "Resources)",
        w.rank, w.host, w.hello.memory_note));
    return;  // once: the workers of one run mostly share the reason
  }
}

void Coordinator::CheckEveryTaskFits() {
  const std::optional<std::size_t> group = scheduler_.GroupFittingNowhere();
  if (!group || *group >= source_.groups().size()) return;
  const TaskEntry& entry = source_.manifest().entries[source_.groups()[*group].entry];
  const std::string id = source_.Id(source_.groups()[*group].first);
  std::optional<std::string> why =
      WhyNoWorkerFits(scheduler_.NeedsOf(*group), scheduler_.Capacities());
  const SourcePos& pos = entry.pos;
  Finish(kExitUsage,
         fmt::format("{}:{}:{}: task {}{} can never run: {}", pos.file, pos.line, pos.column, id,
                     entry.size() > 1 ? " (and the rest of its entry)" : "",
                     why.value_or("no worker can hold it")));
}

void Coordinator::OnResults(int from, const std::string& payload) {
  DecodeMessageInto(payload, incoming_);
  const ResultBatch& batch = incoming_;
  std::size_t& sent = Worker(from).sent;
  sent -= std::min(sent, batch.results.size());
  for (const TaskStart& start : batch.started) OnStarted(start);
  for (const AttemptResult& r : batch.results) Accept(from, r);
  if (batch.stop_commands_done) ++stop_commands_done_;
}

void Coordinator::OnStarted(const TaskStart& start) {
  if (start.index >= source_.size() || start.attempt <= 0) return;
  const auto attempt = static_cast<std::uint32_t>(start.attempt);
  // The start of an attempt no longer in flight (StopNow recorded it as interrupted) says nothing
  // the journal needs.
  if (!ledger_.IsInFlight(start.index, attempt)) return;
  Record(TaskStartedRecord{start.index, attempt, start.start_ms, start.task_id});
}

std::string Coordinator::ResultJson(const AttemptResult& r) const {
  if (r.kind_result.empty()) return "";
  const std::string& kind_name = source_.EntryOf(r.index).kind;
  if (kind_name == kPythonKind) return r.kind_result;  // JSON already, from the interpreter
  const TaskKind* kind = kinds_.Find(kind_name);
  if (kind == nullptr) return "";
  try {
    return kind->ResultJson(r.kind_result);
  } catch (const std::exception& e) {
    return JsonQuote(std::string("cannot read the result: ") + e.what());
  }
}

void Coordinator::AcceptNodeCommand(const WorkerInfo& w, const AttemptResult& r) {
  const bool setup = r.per_worker == kNodeSetup;
  if (!(setup ? node_commands_.has_setup() : node_commands_.has_teardown())) return;
  const TaskSpec command = node_commands_.For(setup, w.host);
  results_.PerWorker(command.id, r, w.rank, w.host, CommandLine(command, w.hello.shell));
  const bool succeeded = r.outcome == Outcome::kSucceeded;
  const bool shell = command.argv.size() == 3 && command.argv[1] == "-c";
  const std::string log = !r.stderr_path.empty()   ? r.stderr_path
                          : !r.stdout_path.empty() ? r.stdout_path
                                                   : AttemptLogPath(options_.run_dir, command.id,
                                                                    command.attempt, "err");
  if (!succeeded && r.outcome != Outcome::kInterrupted) {
    ++per_worker_failures_;
    reporter_.Error(fmt::format("node {} on host {} {}{}; see {}", setup ? "set-up" : "teardown",
                                w.host, DescribeEnd(r, CommandShape{shell, command.timeout_ms}),
                                setup ? ": its workers take no tasks" : "", log));
  }
  if (!setup) return;
  std::vector<NodeCommands::Waiting> workers = node_commands_.TakeWaiting(w.host);
  if (succeeded) {
    ++hosts_ready_;
    reporter_.Verbose(
        fmt::format("node set-up on host {} succeeded: its {} worker rank(s) take tasks", w.host,
                    workers.size()));
    for (NodeCommands::Waiting& worker : workers) Admit(std::move(worker));
  }
  if (node_commands_.AnyWaiting() || phase_ != Phase::kRunning) return;
  if (hosts_ready_ > 0) {
    CheckEveryTaskFits();
    return;
  }
  reporter_.Error(
      "node set-up failed on every host: no worker can run a task; fix node_setup, then continue "
      "the run with --resume");
  WindDown(/*run_stop_commands=*/false);
}

void Coordinator::AcceptPerWorker(const WorkerInfo& w, const AttemptResult& r) {
  if (r.per_worker == kNodeSetup || r.per_worker == kNodeTeardown) {
    AcceptNodeCommand(w, r);
    return;
  }
  const std::vector<TaskSpec>& commands =
      r.per_worker == kPerWorkerStart ? start_commands_ : stop_commands_;
  if (r.index >= commands.size()) return;
  const TaskSpec& spec = commands[r.index];
  const std::string id = spec.id + "-rank" + std::to_string(w.rank);
  results_.PerWorker(id, r, w.rank, w.host, CommandLine(spec, w.hello.shell));
  if (r.outcome == Outcome::kSucceeded || r.outcome == Outcome::kInterrupted) return;
  ++per_worker_failures_;
  ReportTrouble("per-worker command " + id + " on rank " + std::to_string(w.rank) + " (" + w.host +
                ") " + DescribeEnd(r, CommandShape{/*shell=*/true, spec.timeout_ms}));
}

void Coordinator::Accept(int from, const AttemptResult& r) {
  const WorkerInfo& w = Worker(from);
  if (r.per_worker != 0) {
    AcceptPerWorker(w, r);
    return;
  }
  if (r.index >= source_.size()) return;
  if (w.alone == r.index) Worker(from).alone.reset();
  std::int64_t duration = r.end_ms - r.start_ms;
  Scheduler::AttemptEnded ended;
  ended.worker = from;
  ended.index = r.index;
  ended.attempt = r.attempt;
  ended.outcome = r.outcome;
  ended.retries_allowed = source_.EntryOf(r.index).retries;
  ended.duration_ms = static_cast<double>(duration);
  Scheduler::Verdict verdict = scheduler_.OnResult(ended, SteadyMs());
  if (verdict == Scheduler::Verdict::kIgnored) return;
  bool retrying = verdict == Scheduler::Verdict::kRetrying;
  std::string result_json = ResultJson(r);
  if (r.outcome == Outcome::kSucceeded && (!result_json.empty() || !r.data_path.empty())) {
    RecordOutput(r, result_json);
  }
  TaskFinishedRecord record;
  record.index = r.index;
  record.attempt = static_cast<std::uint32_t>(r.attempt);
  record.worker_rank = w.rank;
  record.outcome = ToJournalOutcome(r.outcome);
  record.exit_code = r.exit_code;
  record.signal = r.signal;
  record.start_ms = r.start_ms;
  record.end_ms = r.end_ms;
  record.will_retry = retrying;
  Record(record);
  // A task dropped from a worker's queue by a drain never started: the journal knows it is
  // unfinished, and results.jsonl lists only attempts that ran.
  if (r.outcome == Outcome::kInterrupted && r.start_ms == 0) return;
  // The worker names the attempt it ran; a result made here names it too, else it is rendered.
  const std::string rendered = r.task_id.empty() ? source_.Id(r.index) : std::string();
  const std::string& id = r.task_id.empty() ? rendered : r.task_id;
  results_.Attempt(id, r, w.rank, w.host, retrying, result_json, r.command);
  ++attempts_;
  slowest_.Offer(id, r.attempt, duration);
  Report(id, r, w, retrying);
  ReportRunTrouble(id, r, w);
  RecordSkipped();
  if (verdict == Scheduler::Verdict::kFinal && r.outcome != Outcome::kSucceeded &&
      ++failed_for_good_ == failure_limit_) {
    const FailureLimit& limit = *options_.max_failures;
    StopEarly(std::string(source_.manifest().max_failures &&
                                  source_.manifest().max_failures->text == limit.text
                              ? "max_failures "
                              : "--max-failures ") +
              limit.text +
              (limit.percent >= 0 ? " (" + std::to_string(failure_limit_) + " tasks)" : "") +
              " reached: " + std::to_string(failed_for_good_) + " tasks failed for good");
  }
}

void Coordinator::StopEarly(const std::string& reason) {
  if (!stop_reason_.empty() || phase_ == Phase::kFinished) return;
  stop_reason_ = reason;
  if (phase_ == Phase::kRunning && scheduler_.Running() == 0) {
    reporter_.Warn(reason + ": the run ends here");
    Finish(ExitStatus(), "");
    return;
  }
  BeginDrain(reason);
}

void Coordinator::CheckStopped() {
  const std::optional<TaskGraph::Stop>& stop = scheduler_.Stopped();
  if (!stop || !stop_reason_.empty()) return;
  const TaskGroup& group = source_.groups()[stop->group];
  const TaskEntry& entry = source_.manifest().entries[group.entry];
  std::string where = entry.list->name();
  std::string key;
  if (group.barrier) {
    const CommandList::Barrier& barrier = entry.list->barriers()[*group.barrier];
    where += ":" + std::to_string(barrier.line);
    if (!barrier.key.empty()) key = " " + barrier.key;
  }
  StopEarly("BARRIER CHECK" + key + " at " + where + ": task " + source_.Id(stop->failed_task) +
            " did not succeed since the barrier before it; the tasks after it do not run");
}

// What an attempt says about the run rather than the task: processes it left behind, and a disk
// too full to hold its output, which stops the run (the attempt runs again on --resume).
void Coordinator::ReportRunTrouble(const std::string& id, const AttemptResult& r,
                                   const WorkerInfo& w) {
  if (r.left_running > 0) {
    ReportTrouble(
        fmt::format("task {} attempt {} left {} process(es) running when it ended; "
                    "they were killed",
                    id, r.attempt, r.left_running));
  }
  if (r.disk_full && !Draining()) {
    reporter_.Error(
        fmt::format("disk full on rank {} ({}): {}; stopping the run: free some "
                    "space, then continue it with --resume",
                    w.rank, w.host, r.error));
    BeginDrain("disk full");
  }
}

void Coordinator::RecordOutput(const AttemptResult& r, const std::string& result_json) {
  TaskOutputRecord output{r.index, static_cast<std::uint32_t>(r.attempt), result_json,
                          PathInRunDir(options_.run_dir, r.data_path)};
  // A result too large for one record stays in results.jsonl only; a crash before that line is
  // written then costs the result of that one attempt, and the run says so.
  if (output.result.size() + output.data.size() > kMaxJournaledOutput) {
    output.result.clear();
    ReportTrouble(fmt::format(
        "task {}: its result ({} bytes) is too large for the journal; only results.jsonl has it",
        source_.Id(r.index), result_json.size()));
  }
  Record(output);
}

void Coordinator::RecordSkipped() {
  for (const TaskGraph::Skip& skip : scheduler_.TakeSkipped()) {
    const std::string root = source_.Id(skip.root);
    const std::string reason = skip.cause == skip.root ? "dependency " + root + " failed"
                                                       : "dependency " + source_.Id(skip.cause) +
                                                             " was skipped: " + root + " failed";
    Record(TaskSkippedRecord{skip.task, reason});
    const std::string id = source_.Id(skip.task);
    results_.Skipped(id, skip.task, reason, /*recovered=*/false);
    if (failed_.size() < kFailedInSummary)
      failed_.push_back(FailureNote{id, 0, "was skipped: " + reason, {}, ""});
    ReportTrouble("task " + id + " skipped: " + reason);
  }
}

CommandShape Coordinator::ShapeOf(std::uint64_t index) const {
  const TaskEntry& entry = source_.EntryOf(index);
  return CommandShape{entry.shell || entry.list != nullptr, entry.timeout_ms};
}

void Coordinator::Report(const std::string& id, const AttemptResult& r, const WorkerInfo& w,
                         bool retrying) {
  const bool trouble = r.outcome != Outcome::kSucceeded && r.outcome != Outcome::kInterrupted;
  // Formatted for every attempt, the line cost as much as the scheduler's work on it.
  if (!trouble && reporter_.verbosity() != Verbosity::kVerbose) return;
  FailureNote note;
  note.task = id;
  note.attempt = r.attempt;
  note.what = DescribeEnd(r, ShapeOf(r.index));
  std::string what = fmt::format("task {} attempt {} on rank {} ({}) {}", id, r.attempt, w.rank,
                                 w.host, note.what);
  if (!trouble) {
    reporter_.Verbose(what);
    return;
  }
  const bool cut = r.stderr_bytes > r.stderr_tail.size();
  note.lines = LastLines(r.stderr_tail, cut, kStderrLinesShown, kStderrLineWidth);
  note.log = !r.stderr_path.empty() ? r.stderr_path : r.stdout_path;
  what += retrying ? "; retrying" : r.attempt > 1 ? " (no retries left)" : "";
  ReportTrouble(what + Details(note));
  if (!retrying && failed_.size() < kFailedInSummary) failed_.push_back(std::move(note));
}

// Failures and skips are named on the console up to a limit; the rest only with --verbose.
void Coordinator::ReportTrouble(const std::string& what) {
  if (failures_reported_++ < kFailuresToReport) {
    reporter_.Warn(what);
  } else {
    if (failures_reported_ == kFailuresToReport + 1) {
      reporter_.Warn("further failures are recorded in results.jsonl only");
    }
    reporter_.Verbose(what);
  }
}

void Coordinator::Dispatch(std::int64_t now_ms) {
  RecordSkipped();  // those --resume found, whose dependencies failed in an earlier run
  std::vector<std::pair<int, AttemptResult>> unstartable;
  for (auto it = held_.begin(); it != held_.end();) {
    ReleaseHeld(it->first, unstartable);
    it = it->second.empty() ? held_.erase(it) : std::next(it);
  }
  scheduler_.Assign(now_ms, assigned_);
  for (const Scheduler::Assignment& a : assigned_) Give(a, unstartable);
  if (!batched_.empty()) {
    // Committed now, so that the sync starts while this Step goes on; the batches wait for it.
    const RecordWriter::Ticket ticket = records_.Commit();
    for (int worker : batched_) {
      // Taken, then given back: a batch kept between Steps would keep its capacity too.
      TaskBatch batch = std::exchange(batches_[static_cast<std::size_t>(worker)], {});
      if (records_.journaled()) {
        unsynced_.push_back(UnsyncedBatch{ticket, worker, std::move(batch)});
      } else {
        transport_.Send(worker, batch);
        KeepForReuse(batch);
      }
    }
    batched_.clear();
  }
  for (const auto& [worker, r] : unstartable) Accept(worker, r);
  const std::vector<int>& retired = scheduler_.RetiredWorkers();
  for (; retired_reported_ < retired.size(); ++retired_reported_) {
    const WorkerInfo& w = Worker(retired[retired_reported_]);
    const std::string why = fmt::format("{} tasks failed there and then succeeded elsewhere",
                                        options_.scheduler.max_worker_failures);
    Record(WorkerRetiredRecord{w.rank, why});
    reporter_.Warn(fmt::format("worker rank {} on {} gets no more tasks: {}", w.rank, w.host, why));
  }
}

template <class Message>
void Coordinator::SendToWorkers(const Message& message) {
  for (int from = 0; from < static_cast<int>(workers_.size()); ++from) {
    if (Worker(from).greeted) transport_.Send(from, message);
  }
}

void Coordinator::Give(const Scheduler::Assignment& a,
                       std::vector<std::pair<int, AttemptResult>>& unstartable) {
  if (!ledger_.any_worker_deaths()) {  // no suspects: nothing waits
    Batch(a, unstartable);
    return;
  }
  held_[a.worker].push_back(a);
  ReleaseHeld(a.worker, unstartable);
}

void Coordinator::ReleaseHeld(int worker, std::vector<std::pair<int, AttemptResult>>& unstartable) {
  std::deque<Scheduler::Assignment>& held = held_[worker];
  WorkerInfo& w = Worker(worker);
  while (!held.empty() && !w.alone) {
    const Scheduler::Assignment& next = held.front();
    if (IsSuspect(next.index)) {
      if (w.sent > 0) break;
      w.alone = next.index;
    }
    Batch(next, unstartable);
    held.pop_front();
  }
}

void Coordinator::Batch(const Scheduler::Assignment& a,
                        std::vector<std::pair<int, AttemptResult>>& unstartable) {
  WorkerInfo& w = Worker(a.worker);
  Record(TaskDispatchedRecord{a.index, static_cast<std::uint32_t>(a.attempt), w.rank});
  TaskSpec task = source_.Render(a.index, a.attempt);
  for (int g : a.gpus) task.gpus.push_back(w.gpu_ids[static_cast<std::size_t>(g)]);
  if (!task.kind.empty() && task.kind != kPythonKind) {
    if (std::optional<std::string> error = EncodeKindArgs(kinds_, task)) {
      // Arguments this kind cannot take (a matrix value that is not a number, say): the
      // attempt fails here, as a command that cannot be started does on a worker.
      AttemptResult r;
      r.index = a.index;
      r.attempt = a.attempt;
      r.outcome = Outcome::kSpawnError;
      r.start_ms = r.end_ms = clock_.UnixMs();
      r.error = *error;
      r.task_id = task.id;  // a kind's: no command line
      unstartable.emplace_back(a.worker, std::move(r));
      return;
    }
  }
  ++w.sent;
  std::vector<TaskSpec>& batch = batches_[static_cast<std::size_t>(a.worker)].tasks;
  if (batch.empty()) {
    batched_.push_back(a.worker);
    if (!spare_task_vectors_.empty()) {
      batch.swap(spare_task_vectors_.back());
      spare_task_vectors_.pop_back();
    }
  }
  batch.push_back(std::move(task));
}

void Coordinator::DropHeld() {
  for (auto& [worker, held] : held_) {
    for (const Scheduler::Assignment& a : held) {
      Scheduler::AttemptEnded ended;
      ended.worker = worker;
      ended.index = a.index;
      ended.attempt = a.attempt;
      ended.outcome = Outcome::kInterrupted;  // never sent: nothing to journal
      scheduler_.OnResult(ended, SteadyMs());
    }
  }
  held_.clear();
}

const Hello* Coordinator::WorkerHello(int from) const {
  if (from < 0 || from >= static_cast<int>(workers_.size())) return nullptr;
  const WorkerInfo& w = workers_[static_cast<std::size_t>(from)];
  return w.greeted ? &w.hello : nullptr;
}

bool Coordinator::WorkerStopping(int from) const {
  return from >= 0 && from < static_cast<int>(workers_.size()) &&
         workers_[static_cast<std::size_t>(from)].stopping;
}

void Coordinator::CheckSilentWorkers() {
  if (options_.worker_timeout_ms <= 0 || phase_ == Phase::kFinished) return;
  const auto now = clock_.Now();
  // A look over every worker costs a walk over 10^5 of them: once a second is enough for a
  // bound counted in tens of seconds.
  if (now - last_silence_check_ < kSilenceCheckInterval) return;
  last_silence_check_ = now;
  const auto timeout = milliseconds(options_.worker_timeout_ms);
  for (int rank = 1; rank < transport_.size(); ++rank) {
    const WorkerInfo& w = Worker(rank);
    if (w.greeted && w.rank == 0) continue;  // in this process
    const auto last = std::max(w.last_heard, started_);
    if (now - last < timeout || w.stopping) continue;
    LoseWorker(rank, fmt::format("sent nothing for {} (stopped?)",
                                 FormatDurationMs(options_.worker_timeout_ms)));
    return;
  }
}

void Coordinator::LoseWorker(int from, const std::string& what) {
  if (phase_ == Phase::kFinished) return;
  const WorkerInfo& w = Worker(from);
  const std::string name =
      w.greeted ? fmt::format("worker rank {} on {} (pid {})", w.rank, w.host, w.hello.pid)
                : fmt::format("worker rank {} (before its Hello)", from);
  reporter_.Error(
      fmt::format("{} {}; ending the run: Open MPI cannot go on without a rank", name, what));
  lost_worker_ = true;
  // Batches still waiting for their dispatches' sync never reached it: taken back first, so
  // that their tasks are not among those lost with it.
  TakeBackUnsynced();
  if (w.greeted) {
    for (const std::string& id : RecordInFlightAsLost(source_, clock_, /*recovered=*/false, w.rank,
                                                      ledger_, records_, results_)) {
      if (failed_.size() < kFailedInSummary) {
        failed_.push_back(
            FailureNote{id, 0, "was lost with its worker: " + name + " " + what, {}, ""});
      }
      ReportTrouble("task " + id +
                    " failed: it killed or stopped its worker (the worker's only "
                    "task at " +
                    std::to_string(kWorkerDeathsToFail) + " of its deaths)");
    }
  }
  StopNow(name + " lost");
}

void Coordinator::BeginDrain(const std::string& reason) {
  if (phase_ == Phase::kFinished || Draining()) return;
  reporter_.Warn(fmt::format("{}: draining; no new tasks start, {} running may finish within {}",
                             reason, ledger_.running(), FormatDurationMs(options_.drain_grace_ms)));
  if (phase_ == Phase::kGreeting) {
    Finish(ExitStatus(), "");
    return;
  }
  phase_ = Phase::kDraining;
  phase_deadline_ = clock_.Now() + milliseconds(options_.drain_grace_ms);
  DropHeld();
  TakeBackUnsynced();
  SendToWorkers(Drain{false});
}

void Coordinator::AdvanceDrain() {
  if (scheduler_.Running() == 0) {
    WindDown(/*run_stop_commands=*/false);
    return;
  }
  if (clock_.Now() < phase_deadline_) return;
  if (phase_ == Phase::kDraining) {
    reporter_.Warn("drain grace over: killing " + std::to_string(scheduler_.Running()) +
                   " running tasks");
    phase_ = Phase::kStopping;
    phase_deadline_ = clock_.Now() + kStopWait;
    SendToWorkers(Drain{true});
    return;
  }
  StopNow("workers did not report their killed tasks in time");
}

void Coordinator::StopNow(const std::string& reason) {
  if (phase_ == Phase::kFinished) return;
  reporter_.Warn(reason + ": stopping now");
  DropHeld();
  TakeBackUnsynced();
  // The attempts still in flight are closed with their commands rendered again as they were
  // dispatched: their workers never reported them. Each with its worker's shell, found by the rank
  // its Hello gave (the journal's), which is not its place in workers_ in a run without mpirun.
  std::map<std::int32_t, const std::string*> shells;
  for (const WorkerInfo& w : workers_) {
    if (w.greeted && !w.hello.shell.empty()) shells[w.rank] = &w.hello.shell;
  }
  RecordInFlightAsInterrupted(
      source_, clock_, /*recovered=*/false, ledger_, records_, results_,
      [this, &shells](const RunLedger::Unfinished& u) {
        const auto shell = shells.find(u.worker_rank);
        try {
          return CommandLine(source_.Render(u.index, static_cast<int>(u.attempt)),
                             shell != shells.end() ? *shell->second : DefaultShell());
        } catch (const ManifestError&) {
          return std::string();  // its command list changed under the run: no command to show
        }
      });
  Finish(ExitStatus(), "");
}

int Coordinator::ExitStatus() const {
  std::uint64_t settled = ledger_.succeeded() + ledger_.failed() + ledger_.skipped();
  if (ledger_.succeeded() == source_.size()) {
    return per_worker_failures_ > 0 ? kExitTasksFailed : kExitSucceeded;
  }
  if (!stop_reason_.empty()) return kExitTasksFailed;  // stopped on purpose, for failures
  return settled < source_.size() ? kExitInterrupted : kExitTasksFailed;
}

void Coordinator::EndRun() {
  // A run that stopped early does not run STOP commands, as disBatch does not.
  WindDown(!stop_commands_.empty() && stop_reason_.empty());
}

void Coordinator::WindDown(bool run_stop_commands) {
  const bool teardown = node_commands_.has_teardown();
  if ((!run_stop_commands && !teardown) || welcomed_ == 0) {
    Finish(ExitStatus(), "");
    return;
  }
  phase_ = Phase::kWindingDown;
  phase_deadline_ = clock_.Now() + milliseconds(options_.drain_grace_ms);
  SendToWorkers(Drain{false, run_stop_commands, teardown});
}

Progress Coordinator::CurrentProgress() const {
  Progress p;
  p.total = source_.size();
  p.succeeded = ledger_.succeeded();
  p.failed = ledger_.failed();
  p.skipped = ledger_.skipped();
  p.done_earlier = scheduler_.Settled();
  p.running = ledger_.running();
  p.retrying = scheduler_.WaitingRetries();
  p.elapsed_ms = ElapsedMs();
  return p;
}

std::vector<FailureNote> Coordinator::EarlierFailures() const {
  std::vector<FailureNote> notes;
  if (options_.failed_earlier.empty()) return notes;
  // The logs are read here, on rank 0, when the run directory shows them (a worker on another
  // host without a shared file system keeps them to itself), through the directory, never
  // through a link in it.
  std::optional<Dir> logs;
  if (StatusOr<Dir> run_dir = Dir::Open(options_.run_dir); run_dir.ok()) {
    if (StatusOr<Dir> opened = run_dir->OpenSubdirectory(kLogsDir, /*create=*/false); opened.ok()) {
      logs.emplace(std::move(*opened));
    }
  }
  for (std::uint64_t index : options_.failed_earlier) {
    if (index >= source_.size()) continue;
    const std::optional<RunLedger::Failure> failure = ledger_.LastFailure(index);
    if (!failure) continue;
    FailureNote note;
    note.task = source_.Id(index);
    note.attempt = static_cast<int>(failure->attempt);
    note.what = DescribeEnd(*failure, ShapeOf(index));
    if (logs) ReadEarlierLog(*logs, note);
    notes.push_back(std::move(note));
  }
  return notes;
}

void Coordinator::Finish(int exit_status, const std::string& message) {
  if (phase_ == Phase::kFinished) return;
  TakeBackUnsynced();
  phase_ = Phase::kFinished;
  exit_status_ = exit_status;
  // Every rank of the world, greeted or not: one still on its way to its Hello would otherwise
  // wait for work forever, and mpirun with it.
  for (int rank = 1; rank < transport_.size(); ++rank) {
    transport_.Send(rank, Shutdown{exit_status, message});
  }
  if (!message.empty()) reporter_.Error(message);

  RunSummary s;
  s.tasks = source_.size();
  for (int i = 0; i < kOutcomeCount; ++i) s.by_outcome[i] = scheduler_.FinalCount(Outcome(i));
  s.settled_earlier = scheduler_.Settled();
  s.succeeded_total = ledger_.succeeded();
  s.not_run = s.tasks - ledger_.succeeded() - ledger_.failed() - ledger_.skipped();
  s.attempts = attempts_;
  s.retried = scheduler_.Retried();
  s.run_number = options_.run_number;
  s.wall_ms = ElapsedMs();
  s.slowest = slowest_.Sorted();
  s.failed = failed_;
  s.failed_total = ledger_.failed() + ledger_.skipped() - options_.failed_earlier_total;
  s.failed_earlier = EarlierFailures();
  s.failed_earlier_total = options_.failed_earlier_total;
  for (int worker : scheduler_.RetiredWorkers()) {
    const WorkerInfo& w = Worker(worker);
    s.retired_workers.push_back(w.rank);
    s.retired.push_back(
        fmt::format("rank {} on {}: {} tasks failed there and then succeeded elsewhere", w.rank,
                    w.host, options_.scheduler.max_worker_failures));
  }
  s.exit_status = exit_status;
  s.run_dir = options_.run_dir;
  s.stopped = stop_reason_;
  Record(RunEndedRecord{static_cast<std::uint64_t>(clock_.UnixMs()), exit_status,
                        exit_status == kExitInterrupted});
  results_.Summary(s);
  records_.Flush();
  reporter_.Finish(CurrentProgress());
  reporter_.Summary(FormatSummary(s));
}

milliseconds Coordinator::Step() {
  if (phase_ == Phase::kFinished) return milliseconds(0);
  SendDurable();
  bool active = false;
  // Bounded, so that a flood of results cannot starve dispatching and progress.
  for (int i = 0; i < 256 && phase_ != Phase::kFinished; ++i) {
    Envelope& e = received_;
    if (!transport_.ReceiveInto(e)) break;
    active = true;
    Worker(e.from).last_heard = clock_.Now();
    if (e.tag == Tag::kHello) OnHello(e.from, e.payload);
    if (e.tag == Tag::kResultBatch) OnResults(e.from, e.payload);
    if (e.tag == Tag::kStopping) Worker(e.from).stopping = true;
  }
  CheckSilentWorkers();
  if (phase_ == Phase::kFinished) return milliseconds(0);
  if (phase_ == Phase::kGreeting && greeted_ == transport_.size() - 1) {
    WelcomeWorkers();
  }
  if (phase_ == Phase::kRunning && options_.drain_at_ms && ElapsedMs() >= *options_.drain_at_ms) {
    BeginDrain("time limit near");
  }
  if (phase_ == Phase::kRunning) {
    Dispatch(SteadyMs());
    CheckStopped();
    if (phase_ == Phase::kRunning && scheduler_.Finished()) EndRun();
    if (phase_ == Phase::kFinished) return milliseconds(0);
  } else if (phase_ == Phase::kWindingDown) {
    // Only a worker that had its Welcome runs anything (one whose host's set-up failed had none).
    if (stop_commands_done_ >= welcomed_ || clock_.Now() >= phase_deadline_) {
      if (stop_commands_done_ < welcomed_) {
        reporter_.Warn(
            "per-worker STOP commands or node teardowns did not all end within the drain grace");
      }
      Finish(ExitStatus(), "");
      return milliseconds(0);
    }
  } else if (Draining()) {
    AdvanceDrain();
    if (phase_ == Phase::kFinished) return milliseconds(0);
  }
  records_.Commit();
  SendDurable();
  reporter_.Update(CurrentProgress());
  transport_.Flush();

  milliseconds wait = idle_.Next(active);
  if (std::optional<std::int64_t> due = scheduler_.NextRetryAt()) {
    wait = std::min(wait, milliseconds(std::max<std::int64_t>(1, *due - SteadyMs())));
  }
  return wait;
}

}  // namespace jobrunner
