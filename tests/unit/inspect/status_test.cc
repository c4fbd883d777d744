// `jobrunner status` over run directories written here record by record: a live run (its lock
// held by this test), one killed mid-way, one that ended.
#include "inspect/status.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "journal/journal.h"
#include "rundir/run_dir.h"
#include "temp_dir.h"

using namespace jobrunner;

namespace {

constexpr std::int64_t kStart = 1'700'000'000'000;

TaskFinishedRecord Finished(std::uint64_t index, std::uint32_t attempt, JournalOutcome outcome,
                            std::int64_t end_ms) {
  TaskFinishedRecord r;
  r.index = index;
  r.attempt = attempt;
  r.worker_rank = 1;
  r.outcome = outcome;
  r.exit_code = outcome == JournalOutcome::kFailed ? 3 : 0;
  r.start_ms = end_ms - 100;
  r.end_ms = end_ms;
  return r;
}

// A run of 10 tasks on two workers: 4 succeeded, t-4 failed (its stderr in logs/), t-5 was
// skipped, t-6 runs on rank 2 since kStart + 2s, t-7 is queued at rank 1, t-8 and t-9 were never
// handed out.
void WriteRun(const std::string& dir, bool ended) {
  std::filesystem::create_directories(dir + "/logs");
  JournalWriter journal = JournalWriter::Create(dir + "/journal", 1, 10);
  std::vector<JournalRecord> records{RunStartedRecord{kStart, 1, 2},
                                     WorkerJoinedRecord{1, "node-a", 101, 1},
                                     WorkerJoinedRecord{2, "node-b", 102, 1}};
  for (std::uint64_t i = 0; i < 5; ++i) {
    records.push_back(TaskDispatchedRecord{i, 1, 1});
    records.push_back(Finished(i, 1, i == 4 ? JournalOutcome::kFailed : JournalOutcome::kSucceeded,
                               kStart + 1000 * static_cast<std::int64_t>(i + 1)));
  }
  records.push_back(TaskSkippedRecord{5, "dependency t-4 failed"});
  records.push_back(TaskDispatchedRecord{6, 1, 2});
  records.push_back(TaskStartedRecord{6, 1, kStart + 2000, "t-6"});
  records.push_back(TaskDispatchedRecord{7, 1, 1});
  if (ended) {
    records.push_back(Finished(6, 1, JournalOutcome::kInterrupted, kStart + 6000));
    TaskFinishedRecord dropped = Finished(7, 1, JournalOutcome::kInterrupted, 0);
    dropped.start_ms = 0;
    records.push_back(dropped);
    records.push_back(RunEndedRecord{kStart + 6000, 4, true});
  }
  for (const JournalRecord& r : records) journal.Add(r);
  journal.Sync();
  std::ofstream results(dir + "/results.jsonl");
  for (int i = 0; i < 4; ++i) {
    results << R"({"task":"t-)" << i << R"(","index":)" << i
            << R"(,"attempt":1,"worker":1,"host":"node-a","outcome":"succeeded","exit_code":0})"
            << "\n";
  }
  results
      << R"({"task":"t-4","index":4,"attempt":1,"worker":1,"host":"node-a","outcome":"failed","exit_code":3,"retry":false,"stderr":"logs/t-4.1.err"})"
      << "\n"
      << R"({"task":"t-5","index":5,"attempt":0,"outcome":"skipped","reason":"dependency t-4 failed"})"
      << "\n";
  std::ofstream(dir + "/logs/t-4.1.err")
      << "reading input\nline 7: bad value\nTraceback\nValueError: x\n";
}

std::uint64_t Count(const RunStatus& s, TaskState state) {
  return s.counts[static_cast<std::size_t>(state)];
}

}  // namespace

TEST_CASE("Status of a live run counts every state and names what runs where, and for how long") {
  testing::TempDir dir;
  WriteRun(dir.str(), /*ended=*/false);
  RunDir held = RunDir::ForResume(dir.str());  // the run holds its lock while it goes
  const RunStatus s = ReadRunStatus(dir.str(), kStart + 5000);
  CHECK(s.liveness == Liveness::kLive);
  CHECK(s.tasks == 10);
  CHECK(Count(s, TaskState::kSucceeded) == 4);
  CHECK(Count(s, TaskState::kFailed) == 1);
  CHECK(Count(s, TaskState::kSkipped) == 1);
  CHECK(Count(s, TaskState::kRunning) == 1);
  CHECK(Count(s, TaskState::kWaiting) == 1);
  CHECK(Count(s, TaskState::kNotStarted) == 2);
  REQUIRE(s.running.size() == 1);
  CHECK(s.running[0].id == "t-6");
  CHECK(s.running[0].host == "node-b");
  CHECK(s.running[0].rank == 2);
  CHECK(s.running[0].start_ms == kStart + 2000);
  // 5 tasks settled in the 5 s so far; 4 are left to do.
  REQUIRE(s.rate_per_s);
  CHECK(*s.rate_per_s == Approx(1.0));
  CHECK(s.eta_ms == 4000);
  REQUIRE(s.failures.size() == 2);
  CHECK(s.failures[0].id == "t-4");
  CHECK(s.failures[0].reason == "exit status 3");
  CHECK(s.failures[0].stderr_tail ==
        std::vector<std::string>{"line 7: bad value", "Traceback", "ValueError: x"});
  CHECK(s.failures[1].id == "t-5");
  CHECK(s.failures[1].reason == "dependency t-4 failed");
  CHECK(s.workers.size() == 2);

  const std::string text = FormatRunStatus(s);
  CHECK_THAT(text, Catch::Contains("(live: started"));
  CHECK_THAT(text, Catch::Contains("10 tasks: 4 succeeded, 1 failed, 1 skipped, 1 running, "
                                   "1 waiting, 2 not started"));
  CHECK_THAT(text, Catch::Contains("t-6  attempt 1  rank 2 on node-b  for 3s"));
  CHECK_THAT(text, Catch::Contains("    | ValueError: x"));
  CHECK_THAT(text, Catch::Contains("rank 1 on node-a; rank 2 on node-b"));
}

TEST_CASE("Status read while a task starts never shows it running for less than nothing") {
  // The caller reads the time, then the journal: a task may start in between.
  testing::TempDir dir;
  WriteRun(dir.str(), /*ended=*/false);
  RunDir held = RunDir::ForResume(dir.str());
  const RunStatus s = ReadRunStatus(dir.str(), kStart + 1000);
  REQUIRE(s.running.size() == 1);
  CHECK(s.running[0].start_ms == kStart + 2000);
  CHECK(RunStatusJson(s)["running"][0]["running_s"] == 0);
  CHECK_THAT(FormatRunStatus(s), Catch::Contains("rank 2 on node-b  for 0ms"));
  // The run's own times keep the time read: a host's clock ahead does not move them.
  CHECK(s.now_ms == kStart + 1000);
}

TEST_CASE("Status of a run killed mid-way says it stopped, and what it stopped running") {
  testing::TempDir dir;
  WriteRun(dir.str(), /*ended=*/false);
  const RunStatus s = ReadRunStatus(dir.str(), kStart + 60'000);
  CHECK(s.liveness == Liveness::kStopped);
  CHECK(Count(s, TaskState::kInterrupted) == 2);
  CHECK(Count(s, TaskState::kRunning) == 0);
  CHECK_FALSE(s.eta_ms);
  REQUIRE(s.running.size() == 1);
  CHECK(s.running[0].id == "t-6");
  const std::string text = FormatRunStatus(s);
  CHECK_THAT(text, Catch::Contains("(stopped:"));
  CHECK_THAT(text, Catch::Contains("stopped while running: 1"));
  CHECK_THAT(text, Catch::Contains("last written 55s ago"));
}

TEST_CASE("Status of an ended run gives its exit status, and JSON has every documented field") {
  testing::TempDir dir;
  WriteRun(dir.str(), /*ended=*/true);
  const RunStatus s = ReadRunStatus(dir.str(), kStart + 600'000);
  CHECK(s.liveness == Liveness::kEnded);
  CHECK(s.exit_status == 4);
  CHECK(Count(s, TaskState::kInterrupted) == 1);
  CHECK(Count(s, TaskState::kNotStarted) == 3);
  CHECK(s.running.empty());
  // Measured up to the run's end, not to now.
  REQUIRE(s.rate_per_s);
  CHECK(*s.rate_per_s == Approx(5.0 / 6.0));

  const nlohmann::ordered_json j = RunStatusJson(s);
  for (const char* key : {"run_dir", "state", "run", "exit_status", "tasks", "counts", "started",
                          "ended", "elapsed_s", "last_event", "rate_per_s", "rate_window_s",
                          "eta_s", "running", "failures", "failures_total", "workers"}) {
    INFO(key);
    CHECK(j.contains(key));
  }
  CHECK(j["state"] == "ended");
  CHECK(j["counts"]["not_started"] == 3);
  CHECK(j["started"] == "2023-11-14T22:13:20.000Z");
  CHECK(j["elapsed_s"] == 6.0);
  CHECK(j["failures"][0]["stderr"] == "logs/t-4.1.err");
  CHECK(j["workers"][1]["host"] == "node-b");
}

TEST_CASE("Status says clearly when a directory has no journal") {
  testing::TempDir dir;
  CHECK_THROWS_WITH(ReadRunStatus(dir.str(), kStart), Catch::Contains("has no journal"));
}
