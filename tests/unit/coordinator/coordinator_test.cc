// The coordinator and a worker joined by the in-memory transport, with fake children and a clock
// moved by hand: the whole run protocol (Hello, Welcome, batches, results, retries, Shutdown)
// without MPI, processes or waiting.
#include "coordinator/coordinator.h"

#include <poll.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fake_process_set.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "manifest/task_graph_builder.h"
#include "manual_clock.h"
#include "temp_dir.h"
#include "worker/worker.h"

using namespace jobrunner;

namespace {

// Fake children that never end on their own: a drain or a lost worker has to end them.
std::optional<ProcessExit> NeverEnds(const ProcessRequest&) { return std::nullopt; }

// The worker's Hello: one host of 8 cores, as rank 0 of the loopback pair.
Hello FakeHello() {
  Hello hello;
  hello.host = "fakehost";
  hello.cores = 8;
  return hello;
}

// A coordinator and a worker joined by the in-memory transport, over the manifest `yaml` in a
// run directory of their own, with fake children that end as `decide` says and a clock moved by
// hand. The journal is synced only when the test says (records.WriteCommitted()): what a crash
// between a dispatch and its sync would find. Without a `hello` there is no worker, only its end
// of the transport (ends.second), which says nothing. `earlier`: records of earlier runs the
// ledger holds, as after a resume.
struct Rig {
  Rig(const std::string& yaml, FakeProcessSet::Decide decide, RunOptions options = {},
      std::optional<Hello> hello = FakeHello(), bool (*received_signal)(int) = nullptr,
      const std::vector<JournalRecord>& earlier = {})
      : source(ParseManifest(yaml, "test.yaml"), dir), processes(std::move(decide)) {
    for (const JournalRecord& record : earlier) ledger.Apply(record);
    options.run_dir = dir;
    options.max_failures = source.manifest().max_failures;
    coordinator = std::make_unique<Coordinator>(
        Coordinator::Parts{*ends.first, source, kinds, ledger, results, records, reporter, clock},
        options, Scheduler(BuildTaskGraph(source), options.scheduler));
    if (hello) {
      worker = std::make_unique<Worker>(*ends.second, processes, *hello, received_signal, clock);
    }
  }

  // A Step of each, with nothing synced, then a millisecond.
  void Turn() {
    coordinator->Step();
    worker->Step(std::chrono::milliseconds(0));
    clock.Advance(std::chrono::milliseconds(1));
  }
  // A Step of the coordinator, the journal synced at once (what it dispatched goes out at its
  // next Step), a Step of the worker, then `later`. Whether the worker has ended.
  bool SyncedTurn(std::chrono::milliseconds later = std::chrono::milliseconds(1)) {
    coordinator->Step();
    records.WriteCommitted();
    const bool ended = worker->Step(std::chrono::milliseconds(0));
    clock.Advance(later);
    return ended;
  }
  std::vector<JournalRecord> Journal() const { return ReadJournal(dir + "/journal").records; }
  int DispatchesOnDisk() const;

  testing::TempDir temp;
  const std::string dir = temp.str();
  TaskSource source;
  ResultsWriter results{dir, /*append=*/false};
  JournalWriter journal = JournalWriter::Create(dir + "/journal", 42, source.size());
  RunLedger ledger{source.size()};
  Reporter reporter{ProgressMode::kNone, Verbosity::kQuiet};
  KindRegistry kinds;
  ManualClock clock;
  std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> ends = MakeLoopbackPair();
  RecordWriter records{&journal, results, RecordWriter::Mode::kCallerWrites};
  std::unique_ptr<Coordinator> coordinator;
  FakeProcessSet processes;
  std::unique_ptr<Worker> worker;
};

struct Run {
  int exit_status = -1;
  std::vector<JournalRecord> journal;
  std::vector<nlohmann::json> attempts;
  nlohmann::json summary;
  std::vector<ProcessRequest> started;
  std::size_t max_running = 0;
};

// Runs `yaml` to the end with one worker of `slots` slots whose children end as `decide` says.
// `drain_after_steps` >= 0 starts a drain (with no grace) after that many steps.
// `earlier`: records of earlier runs the ledger holds, as after a resume.
Run RunManifest(const std::string& yaml, int slots, FakeProcessSet::Decide decide,
                int drain_after_steps = -1, bool (*received_signal)(int) = nullptr,
                const std::vector<JournalRecord>& earlier = {}) {
  RunOptions options;
  options.slots = slots;
  options.drain_grace_ms = 0;
  options.scheduler.retry.backoff_ms = 0;
  Rig rig(yaml, std::move(decide), options, FakeHello(), received_signal, earlier);
  // Each turn of the loop takes a millisecond: results held back for a fraction of a second
  // (kHoldSignaled) and the drain's wait for killed tasks pass within the bound.
  for (int steps = 0; steps < 100000; ++steps) {
    if (steps == drain_after_steps) rig.coordinator->BeginDrain("test");
    if (rig.SyncedTurn()) break;
  }

  Run run;
  run.exit_status = rig.coordinator->exit_status();
  REQUIRE(rig.coordinator->Finished());
  CHECK(rig.worker->exit_code() == run.exit_status);
  std::ifstream in(rig.dir + "/results.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("summary")) {
      run.summary = j["summary"];
    } else {
      run.attempts.push_back(j);
    }
  }
  run.journal = rig.Journal();
  run.started = rig.processes.started;
  run.max_running = rig.processes.max_running;
  return run;
}

ProcessExit Exit(Outcome outcome, int code = 0) {
  ProcessExit x;
  x.outcome = outcome;
  x.exit_code = code;
  x.start_ms = 1000;
  x.end_ms = 1005;
  return x;
}

std::optional<ProcessExit> AlwaysSucceed(const ProcessRequest&) {
  return Exit(Outcome::kSucceeded);
}

template <class T>
int Count(const std::vector<JournalRecord>& records) {
  int n = 0;
  for (const JournalRecord& r : records) n += std::holds_alternative<T>(r) ? 1 : 0;
  return n;
}

int Rig::DispatchesOnDisk() const { return Count<TaskDispatchedRecord>(Journal()); }

}  // namespace

TEST_CASE("Every task runs exactly once and the run exits 0 when all succeed") {
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [echo, '{n}']\n    matrix:\n"
      "      n: {range: [0, 500]}\n",
      4, AlwaysSucceed);
  CHECK(run.exit_status == 0);
  REQUIRE(run.attempts.size() == 500);
  std::map<std::string, int> runs;
  for (const auto& a : run.attempts) runs[a["task"]]++;
  CHECK(runs.size() == 500);
  for (const auto& [id, n] : runs) CHECK(n == 1);
  CHECK(run.summary["outcomes"]["succeeded"] == 500);
  CHECK(run.summary["exit_status"] == 0);
}

TEST_CASE("A worker never runs more tasks at once than its slots") {
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [true]\n    matrix:\n"
      "      n: {range: [0, 200]}\n",
      3, AlwaysSucceed);
  CHECK(run.max_running == 3);
  CHECK(run.started.size() == 200);
}

TEST_CASE("A task failing twice then succeeding with retries 2 ends succeeded") {
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: flaky\n    command: ['try-{attempt}']\n    retries: 2\n", 1,
      [](const ProcessRequest& r) -> std::optional<ProcessExit> {
        return r.argv[0] == "try-3" ? Exit(Outcome::kSucceeded) : Exit(Outcome::kFailed, 1);
      });
  CHECK(run.exit_status == 0);
  REQUIRE(run.attempts.size() == 3);
  CHECK(run.attempts[0]["outcome"] == "failed");
  CHECK(run.attempts[0]["retry"] == true);
  CHECK(run.attempts[1]["attempt"] == 2);
  CHECK(run.attempts[2]["outcome"] == "succeeded");
  CHECK(run.attempts[2]["retry"] == false);
  CHECK(run.summary["retried"] == 2);
}

TEST_CASE("A task that always fails ends the run with exit status 1 and the rest succeed") {
  Run run = RunManifest(
      "version: 1\ndefaults: {retries: 1}\ntasks:\n  - id: ok-{n}\n    command: [ok]\n"
      "    matrix: {n: [a, b, c]}\n  - id: bad\n    command: [bad]\n",
      2, [](const ProcessRequest& r) -> std::optional<ProcessExit> {
        return r.argv[0] == "bad" ? Exit(Outcome::kFailed, 7) : Exit(Outcome::kSucceeded);
      });
  CHECK(run.exit_status == 1);
  CHECK(run.summary["outcomes"]["succeeded"] == 3);
  CHECK(run.summary["outcomes"]["failed"] == 1);
  int bad_attempts = 0;
  for (const auto& a : run.attempts) {
    if (a["task"] == "bad") {
      ++bad_attempts;
      CHECK(a["exit_code"] == 7);
    }
  }
  CHECK(bad_attempts == 2);
}

TEST_CASE("Timed out, signaled and unstartable tasks are reported with their outcome") {
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: '{what}'\n    command: ['{what}']\n"
      "    matrix: {what: [slow, crash, missing]}\n",
      3, [](const ProcessRequest& r) -> std::optional<ProcessExit> {
        if (r.argv[0] == "slow") return Exit(Outcome::kTimedOut);
        ProcessExit x = Exit(r.argv[0] == "crash" ? Outcome::kSignaled : Outcome::kSpawnError);
        x.signal = r.argv[0] == "crash" ? 11 : 0;
        if (r.argv[0] == "missing") x.error = "no such file or directory: missing";
        return x;
      });
  CHECK(run.exit_status == 1);
  std::map<std::string, nlohmann::json> by_task;
  for (const auto& a : run.attempts) by_task[a["task"]] = a;
  CHECK(by_task["slow"]["outcome"] == "timed_out");
  CHECK(by_task["crash"]["outcome"] == "signaled");
  CHECK(by_task["crash"]["signal"] == 11);
  CHECK(by_task["missing"]["outcome"] == "spawn_error");
  CHECK(by_task["missing"]["error"] == "no such file or directory: missing");
}

TEST_CASE("Output paths name the task and attempt inside the run directory") {
  Run run =
      RunManifest("version: 1\ntasks:\n  - id: hello\n    command: [echo, hi]\n", 1, AlwaysSucceed);
  REQUIRE(run.started.size() == 1);
  CHECK(run.started[0].stdout_path.size() > std::string("/logs/hello.1.out").size());
  CHECK(run.started[0].stdout_path.substr(run.started[0].stdout_path.size() - 17) ==
        "/logs/hello.1.out");
  CHECK(run.started[0].stderr_path.substr(run.started[0].stderr_path.size() - 17) ==
        "/logs/hello.1.err");
}

TEST_CASE("Every dispatch and every attempt is journaled, between a start and an end record") {
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [echo]\n    retries: 1\n    matrix:\n"
      "      n: {range: [0, 20]}\n",
      2, [](const ProcessRequest& r) -> std::optional<ProcessExit> {
        return r.stdout_path.find("t-3.1.") != std::string::npos ? Exit(Outcome::kFailed, 1)
                                                                 : Exit(Outcome::kSucceeded);
      });
  REQUIRE(!run.journal.empty());
  CHECK(std::holds_alternative<RunStartedRecord>(run.journal.front()));
  CHECK(std::holds_alternative<RunEndedRecord>(run.journal.back()));
  CHECK(Count<TaskDispatchedRecord>(run.journal) == 21);
  CHECK(Count<TaskFinishedRecord>(run.journal) == 21);
  RunLedger replayed(20);
  for (const JournalRecord& r : run.journal) replayed.Apply(r);
  CHECK(replayed.succeeded() == 20);
  CHECK(replayed.InFlight().empty());
}

TEST_CASE("A drain lets running tasks end, then kills them and exits 4 with the rest unfinished") {
  // Tasks never end on their own: the drain (with no grace) has to kill them.
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [sleep]\n    matrix:\n"
      "      n: {range: [0, 50]}\n",
      2, [](const ProcessRequest&) -> std::optional<ProcessExit> { return std::nullopt; },
      /*drain_after_steps=*/5);
  CHECK(run.exit_status == kExitInterrupted);
  CHECK(run.summary["exit_status"] == kExitInterrupted);
  CHECK(run.summary["outcomes"]["not_run"] == 50);
  // The two running tasks were killed and say so; queued ones never started and are not listed.
  REQUIRE(run.attempts.size() == 2);
  for (const auto& a : run.attempts) CHECK(a["outcome"] == "interrupted");
  RunLedger replayed(50);
  for (const JournalRecord& r : run.journal) replayed.Apply(r);
  CHECK(replayed.succeeded() == 0);
  CHECK(replayed.InFlight().empty());
  const std::vector<bool> settled = replayed.ResumeState(false).settled;
  CHECK(std::count(settled.begin(), settled.end(), true) == 0);
}

namespace {
// Says no when first asked, as when the task's death is seen before the worker's own signal.
int g_asked = 0;
bool ReceivedAfterAWhile(int signal) { return signal == 15 && ++g_asked > 1; }
}  // namespace

TEST_CASE("A task killed by the signal its worker also received is interrupted, not failed") {
  // The batch system signals the whole job: the task's death is seen first, the worker's own
  // SIGTERM arrives a moment later, while the result is held back. (The run drains, as it does
  // when its rank gets the signal, so that it ends with the task unfinished.)
  g_asked = 0;
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t\n    command: [sleep, '9']\n", 1,
      [](const ProcessRequest&) -> std::optional<ProcessExit> {
        ProcessExit x = Exit(Outcome::kSignaled);
        x.signal = 15;
        return x;
      },
      /*drain_after_steps=*/2, ReceivedAfterAWhile);
  REQUIRE(run.attempts.size() == 1);
  CHECK(run.attempts[0]["outcome"] == "interrupted");
}

TEST_CASE("A task killed by an interrupt signal its worker never received has failed") {
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t\n    command: [sleep, '9']\n", 1,
      [](const ProcessRequest&) -> std::optional<ProcessExit> {
        ProcessExit x = Exit(Outcome::kSignaled);
        x.signal = 15;
        return x;
      },
      -1, [](int) { return false; });
  REQUIRE(run.attempts.size() == 1);
  CHECK(run.attempts[0]["outcome"] == "signaled");
  CHECK(run.exit_status == 1);
}

TEST_CASE("A drain before any worker said Hello still sends every rank its Shutdown") {
  Rig rig("version: 1\ntasks:\n  - id: a\n    command: [true]\n", NeverEnds, {},
          /*hello=*/std::nullopt);
  rig.coordinator->Step();
  rig.coordinator->BeginDrain("test");
  rig.coordinator->Step();
  rig.ends.first->Flush();
  REQUIRE(rig.coordinator->Finished());
  CHECK(rig.coordinator->exit_status() == kExitInterrupted);
  std::optional<Envelope> message = rig.ends.second->Receive();
  REQUIRE(message);
  CHECK(message->tag == Tag::kShutdown);
  CHECK(DecodeMessage<Shutdown>(message->payload).exit_code == kExitInterrupted);
}

TEST_CASE("A task once lost with its worker runs alone there, and the rest around it") {
  // Task 3 was in flight when its worker died in an earlier run. Every task takes three looks.
  TaskFinishedRecord lost;
  lost.index = 3;
  lost.attempt = 1;
  lost.outcome = JournalOutcome::kWorkerLost;
  lost.exit_code = 4;
  lost.will_retry = true;
  std::vector<std::pair<char, std::uint64_t>> events;  // 's'tart / 'e'nd, by task index
  std::map<std::uint64_t, int> looks;
  auto decide = [&](const ProcessRequest& r) -> std::optional<ProcessExit> {
    int& n = looks[r.key];
    if (n == 0) events.emplace_back('s', r.key);
    if (++n < 3) return std::nullopt;
    events.emplace_back('e', r.key);
    return Exit(Outcome::kSucceeded);
  };
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [true]\n    matrix:\n"
      "      n: {range: [0, 12]}\n",
      4, decide, -1, nullptr, {TaskDispatchedRecord{3, 1, 0}, lost});
  CHECK(run.exit_status == 0);
  CHECK(run.attempts.size() == 12);
  std::set<std::uint64_t> running;
  bool suspect_running = false;
  for (const auto& [what, index] : events) {
    if (what == 's') {
      CHECK_FALSE(suspect_running);  // nothing starts beside it
      if (index == 3) {
        CHECK(running.empty());  // it starts on an empty worker
        suspect_running = true;
      }
      running.insert(index);
    } else {
      running.erase(index);
      if (index == 3) suspect_running = false;
    }
  }
  CHECK(run.max_running == 4);  // the others still use every slot
}

TEST_CASE("A worker that sends nothing for the worker timeout ends the run, its tasks lost") {
  RunOptions options;
  options.slots = 2;
  options.worker_timeout_ms = 30'000;
  Hello hello = FakeHello();
  hello.rank = 1;  // a rank of its own, as under mpirun
  hello.cores = 2;
  Rig rig(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [sleep]\n"
      "    matrix:\n      n: {range: [0, 5]}\n",
      NeverEnds, options, hello);
  // The journal synced at once: what is dispatched goes out; heartbeats keep it alive meanwhile.
  for (int i = 0; i < 20; ++i) rig.SyncedTurn(std::chrono::milliseconds(100));
  REQUIRE(rig.processes.started.size() == 2);
  REQUIRE_FALSE(rig.coordinator->Finished());
  // The worker stops: no step, no heartbeat.
  for (int i = 0; i < 40 && !rig.coordinator->Finished(); ++i) {
    rig.clock.Advance(std::chrono::seconds(1));
    rig.coordinator->Step();
  }
  REQUIRE(rig.coordinator->Finished());
  CHECK(rig.coordinator->exit_status() == kExitInterrupted);
  CHECK(rig.coordinator->lost_worker());
  // Every attempt it had (its two running, and any queued behind them) is lost with it, and
  // each record says how many there were.
  std::vector<std::int32_t> counts;
  for (const JournalRecord& r : rig.Journal()) {
    const auto* f = std::get_if<TaskFinishedRecord>(&r);
    if (f == nullptr || f->outcome != JournalOutcome::kWorkerLost) continue;
    CHECK(f->will_retry);
    counts.push_back(f->exit_code);
  }
  REQUIRE(counts.size() >= 2);
  for (std::int32_t count : counts) CHECK(count == static_cast<std::int32_t>(counts.size()));
}

TEST_CASE("Each worker's rank, host, pid and slots are journaled right after the run's start") {
  Run run =
      RunManifest("version: 1\ntasks:\n  - id: hello\n    command: [echo, hi]\n", 3, AlwaysSucceed);
  REQUIRE(run.journal.size() >= 2);
  CHECK(std::holds_alternative<RunStartedRecord>(run.journal[0]));
  const auto* joined = std::get_if<WorkerJoinedRecord>(&run.journal[1]);
  REQUIRE(joined != nullptr);
  CHECK(joined->rank == 0);
  CHECK(joined->host == "fakehost");
  CHECK(joined->slots == 3);
  CHECK(Count<WorkerJoinedRecord>(run.journal) == 1);
}

TEST_CASE(
    "Attempts still running when their worker reports are journaled as started, "
    "attempts that end before it reports are not") {
  // t-0 and t-1 run until the drain kills them; the rest end the moment they start.
  Run run = RunManifest(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: [sleep]\n    matrix:\n"
      "      n: {range: [0, 6]}\n",
      2,
      [](const ProcessRequest& r) -> std::optional<ProcessExit> {
        if (r.stdout_path.find("/t-0.") != std::string::npos ||
            r.stdout_path.find("/t-1.") != std::string::npos) {
          return std::nullopt;
        }
        return Exit(Outcome::kSucceeded);
      },
      /*drain_after_steps=*/20);
  std::vector<TaskStartedRecord> starts;
  std::set<std::uint64_t> dispatched;
  for (const JournalRecord& r : run.journal) {
    if (const auto* d = std::get_if<TaskDispatchedRecord>(&r)) dispatched.insert(d->index);
    if (const auto* s = std::get_if<TaskStartedRecord>(&r)) {
      CHECK(dispatched.count(s->index) == 1);  // a start follows its dispatch
      starts.push_back(*s);
    }
  }
  REQUIRE(starts.size() == 2);
  CHECK(starts[0].task_id == "t-0");
  CHECK(starts[1].task_id == "t-1");
  CHECK(starts[0].attempt == 1);
  CHECK(starts[0].start_ms > 0);
  // While the drain had not yet killed them, the ledger counted exactly these two as running.
  RunLedger replayed(6);
  for (const JournalRecord& r : run.journal) {
    if (std::holds_alternative<RunEndedRecord>(r)) break;
    replayed.Apply(r);
    if (std::holds_alternative<TaskStartedRecord>(r)) CHECK(replayed.running() <= 2);
  }
  CHECK(replayed.running() == 0);
}

TEST_CASE("A worker sends a heartbeat only after an interval in which it sent nothing else") {
  using std::chrono::milliseconds;
  auto [coordinator_end, worker_end] = MakeLoopbackPair();
  testing::TempDir dir;
  ManualClock clock;
  FakeProcessSet processes([](const ProcessRequest&) {
    ProcessExit exit;
    exit.outcome = Outcome::kSucceeded;
    return std::optional<ProcessExit>(exit);
  });
  Hello hello;
  hello.rank = 1;
  Worker worker(*worker_end, processes, hello, nullptr, clock);
  Transport& coordinator_side = *coordinator_end;
  // The tags of what the worker sent since the last look.
  auto sent = [&coordinator_side] {
    std::vector<Tag> tags;
    while (std::optional<Envelope> e = coordinator_side.Receive()) tags.push_back(e->tag);
    return tags;
  };
  Welcome welcome;
  welcome.slots = 1;
  welcome.run_dir = dir.str();
  coordinator_side.Send(1, welcome);
  worker.Step(milliseconds(0));
  CHECK(sent() == std::vector<Tag>{Tag::kHello});
  clock.Advance(milliseconds(kHeartbeatIntervalMs - 1));
  worker.Step(milliseconds(0));
  CHECK(sent().empty());
  clock.Advance(milliseconds(1));
  worker.Step(milliseconds(0));
  CHECK(sent() == std::vector<Tag>{Tag::kHeartbeat});

  // A task ends just before the next heartbeat is due: its result says the worker is alive,
  // and the heartbeat waits a whole interval from then.
  TaskSpec task;
  task.id = "t";
  task.argv = {"/bin/true"};
  TaskBatch batch;
  batch.tasks.push_back(task);
  coordinator_side.Send(1, batch);
  clock.Advance(milliseconds(kHeartbeatIntervalMs - 1));
  worker.Step(milliseconds(0));
  REQUIRE(processes.started.size() == 1);
  CHECK(sent() == std::vector<Tag>{Tag::kResultBatch});
  clock.Advance(milliseconds(1));
  worker.Step(milliseconds(0));
  CHECK(sent().empty());
  clock.Advance(milliseconds(kHeartbeatIntervalMs - 1));
  worker.Step(milliseconds(0));
  CHECK(sent() == std::vector<Tag>{Tag::kHeartbeat});
}

namespace {

// A coordinator and one worker of one slot whose tasks never end, with the journal synced only
// when the test says: what a crash between a dispatch and its sync would find.
RunOptions OneSlotNoGrace() {
  RunOptions options;
  options.slots = 1;
  options.drain_grace_ms = 0;
  return options;
}
struct HeldRun : Rig {
  HeldRun()
      : Rig("version: 1\ntasks:\n  - id: t-{n}\n    command: [sleep]\n"
            "    matrix:\n      n: {range: [0, 3]}\n",
            NeverEnds, OneSlotNoGrace()) {}
};

}  // namespace

TEST_CASE("A task is sent to its worker only once the journal record of its dispatch is synced") {
  HeldRun run;
  for (int turn = 0; turn < 5; ++turn) run.Turn();
  // Dispatched (the ledger knows it), but neither on disk nor started.
  CHECK(run.ledger.InFlight().size() == 1);
  CHECK(run.DispatchesOnDisk() == 0);
  CHECK(run.processes.started.empty());
  run.records.WriteCommitted();
  run.Turn();
  CHECK(run.DispatchesOnDisk() == 1);
  REQUIRE(run.processes.started.size() == 1);
  CHECK(run.processes.started[0].argv[0] == "sleep");
}

TEST_CASE("A drain takes back tasks still waiting for their dispatch to be synced") {
  HeldRun run;
  for (int turn = 0; turn < 3; ++turn) run.Turn();
  REQUIRE(run.ledger.InFlight().size() == 1);
  run.coordinator->BeginDrain("test");
  // The attempt never started: it ends interrupted without a results line, and the run ends.
  CHECK(run.ledger.InFlight().empty());
  for (int turn = 0; turn < 10 && !run.coordinator->Finished(); ++turn) {
    run.records.WriteCommitted();
    run.Turn();
  }
  CHECK(run.coordinator->Finished());
  CHECK(run.coordinator->exit_status() == kExitInterrupted);
  CHECK(run.processes.started.empty());
  const std::vector<JournalRecord> journal = ReadJournal(run.dir + "/journal").records;
  CHECK(Count<TaskDispatchedRecord>(journal) == 1);
  CHECK(Count<TaskFinishedRecord>(journal) == 1);
  CHECK(testing::ReadFile(run.dir + "/results.jsonl").find("\"attempt\"") == std::string::npos);
}

// ---- Fail fast, command lists' barriers and per-worker commands ------------------------------

namespace {

// A command list in a directory of its own, for a manifest's tasks_from.
struct ListFile {
  explicit ListFile(const std::string& text) { std::ofstream(dir / "cmds.txt") << text; }
  std::string path() const { return dir / "cmds.txt"; }
  testing::TempDir dir;
};

std::optional<ProcessExit> ByExitWord(const ProcessRequest& r) {
  // A command list's line arrives as {shell, -c, line}; "fail" in it fails the task.
  const std::string& line = r.argv.back();
  return line.find("fail") != std::string::npos ? Exit(Outcome::kFailed, 3)
                                                : Exit(Outcome::kSucceeded);
}

}  // namespace

TEST_CASE("Once max_failures tasks have failed for good no task starts and the run exits 1") {
  Run run = RunManifest(
      "version: 1\nmax_failures: 2\ntasks:\n  - id: t-{n}\n    command: [fail]\n"
      "    matrix: {n: {range: [0, 20]}}\n",
      1, [](const ProcessRequest&) -> std::optional<ProcessExit> {
        return Exit(Outcome::kFailed, 1);
      });
  CHECK(run.exit_status == 1);
  CHECK(run.attempts.size() < 20);
  CHECK(run.summary["stopped"] == "max_failures 2 reached: 2 tasks failed for good");
  // What ran on once the limit was reached ended with the drain (with no grace here).
  const int failed = run.summary["outcomes"]["failed"];
  CHECK(failed >= 2);
  CHECK(run.summary["outcomes"]["not_run"] == 20 - failed);
}

TEST_CASE("A failure before a BARRIER CHECK ends the run at the barrier, with exit status 1") {
  ListFile list("ok 1\nfail 2\nok 3\n#DISBATCH BARRIER CHECK k\nok 5\nok 6\n");
  Run run = RunManifest("version: 1\ntasks:\n  - id: l\n    tasks_from: " + list.path() + "\n", 2,
                        ByExitWord);
  CHECK(run.exit_status == 1);
  std::vector<std::string> ran;
  for (const auto& a : run.attempts) ran.push_back(a["task"]);
  std::sort(ran.begin(), ran.end());
  CHECK(ran == std::vector<std::string>{"l-1", "l-2", "l-3"});
  CHECK(run.summary["stopped"] == "BARRIER CHECK k at " + list.path() +
                                      ":4: task l-2 did not succeed since the barrier before it; "
                                      "the tasks after it do not run");
  CHECK(run.summary["outcomes"]["not_run"] == 2);
}

TEST_CASE("Per-worker commands run before the first task and after the last, on their own lines") {
  ListFile list(
      "#DISBATCH PERENGINE START start-it\n#DISBATCH PERENGINE STOP stop-it\ntask-a\ntask-b\n");
  Run run = RunManifest("version: 1\ntasks:\n  - id: l\n    tasks_from: " + list.path() + "\n", 2,
                        ByExitWord);
  CHECK(run.exit_status == 0);
  REQUIRE(run.started.size() == 4);
  CHECK(run.started.front().argv.back() == "start-it");
  CHECK(run.started.back().argv.back() == "stop-it");
  std::map<std::string, nlohmann::json> by_task;
  for (const auto& a : run.attempts) by_task[a["task"]] = a;
  REQUIRE(by_task.count("l-start-1-rank0") == 1);
  CHECK(by_task["l-start-1-rank0"]["per_worker"] == "start");
  CHECK(by_task["l-start-1-rank0"]["index"].is_null());
  CHECK(by_task["l-stop-2-rank0"]["per_worker"] == "stop");
  CHECK(run.summary["tasks"] == 2);
  CHECK(run.summary["outcomes"]["succeeded"] == 2);
}

TEST_CASE("Every attempt's line records its command as it ran, the worker's shell included") {
  ListFile list("echo 'a b'\n");
  Run run = RunManifest("version: 1\ntasks:\n  - id: l\n    tasks_from: " + list.path() +
                            "\n  - id: argv\n    command: [printf, '%s', 'x y']\n",
                        1, AlwaysSucceed);
  REQUIRE(run.attempts.size() == 2);
  std::map<std::string, nlohmann::json> by_task;
  for (const auto& a : run.attempts) by_task[a["task"]] = a;
  CHECK(by_task["argv"]["command"] == "printf %s 'x y'");
  const std::string shell = run.started[0].argv[0];
  CHECK((shell == "/bin/bash" || shell == "/bin/sh"));
  CHECK(by_task["l-1"]["command"] == shell + " -c 'echo '\\''a b'\\'''");
}

TEST_CASE("Attempts whose worker never reports their end are closed with their own command") {
  // The worker reports each attempt's id and command with its result; when it never does (the
  // run stops without hearing from it), rank 0 renders them again for the interrupted lines.
  // A shell command's line names the worker's shell: found by the rank its Hello gave (0 here, as
  // in a run without mpirun), not by its end of the transport (1).
  RunOptions options;
  options.slots = 3;
  options.drain_grace_ms = 0;
  Rig rig(
      "version: 1\ntasks:\n  - id: s\n    command: sleep '9 s'\n"
      "  - id: t-{n}\n    command: [sleep, '9 {n}']\n    matrix:\n      n: {range: [0, 5]}\n",
      NeverEnds, options);
  for (int i = 0; i < 20; ++i) rig.SyncedTurn();
  REQUIRE(rig.processes.started.size() == 3);
  const std::string shell = rig.processes.started[0].argv[0];
  REQUIRE(!shell.empty());
  rig.coordinator->BeginDrain("test");
  // The worker takes no more steps: the drain's kill is never answered.
  for (int i = 0; i < 20 && !rig.coordinator->Finished(); ++i) {
    rig.coordinator->Step();
    rig.records.WriteCommitted();
    rig.clock.Advance(std::chrono::seconds(1));
  }
  REQUIRE(rig.coordinator->Finished());
  rig.records.WriteCommitted();
  std::ifstream in(rig.dir + "/results.jsonl");
  std::vector<nlohmann::json> interrupted;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (!j.contains("summary")) interrupted.push_back(j);
  }
  REQUIRE(interrupted.size() == 3);
  for (const nlohmann::json& a : interrupted) {
    CHECK(a["outcome"] == "interrupted");
    const std::string id = a["task"];
    if (id == "s") {
      CHECK(a["command"] == shell + " -c 'sleep '\\''9 s'\\'''");
      continue;
    }
    REQUIRE(id.size() == 3);
    CHECK(a["command"] == "sleep '9 " + id.substr(2) + "'");
  }
}

// Whether `fd` is readable now, without waiting.
bool ReadableNow(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST_CASE("A journal sync with no task batch waiting for it leaves no wake behind after a Step") {
  // The coordinator's loop waits on the writer's wake fd between Steps; a wake nobody clears
  // turns that wait into a spin at 100% of a core for as long as tasks run.
  Rig rig("version: 1\ntasks:\n  - id: a\n    command: [sleep, '9']\n", NeverEnds);
  for (int steps = 0; steps < 50; ++steps) rig.SyncedTurn();  // dispatched, sent and running
  REQUIRE(rig.processes.started.size() == 1);
  rig.records.WriteCommitted();  // a sync of whatever the last Step recorded: the wake is signalled
  rig.coordinator->Step();
  CHECK_FALSE(ReadableNow(rig.records.wake_fd()));
}
