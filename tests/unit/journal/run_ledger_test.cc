// RunLedger keeps its failed and skipped counts as records arrive; these tests hold the counts
// against what the records say, through every transition a task can make.
#include "journal/run_ledger.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>

using namespace jobrunner;

namespace {

TaskFinishedRecord Finished(std::uint64_t index, std::uint32_t attempt, JournalOutcome outcome,
                            bool will_retry = false) {
  TaskFinishedRecord r;
  r.index = index;
  r.attempt = attempt;
  r.outcome = outcome;
  r.will_retry = will_retry;
  return r;
}

}  // namespace

TEST_CASE("A task failing for good counts as failed until it is dispatched again or succeeds") {
  RunLedger ledger(3);
  ledger.Apply(TaskDispatchedRecord{0, 1, 1});
  ledger.Apply(Finished(0, 1, JournalOutcome::kFailed, /*will_retry=*/true));
  CHECK(ledger.failed() == 0);
  ledger.Apply(TaskDispatchedRecord{0, 2, 1});
  ledger.Apply(Finished(0, 2, JournalOutcome::kTimedOut));
  CHECK(ledger.failed() == 1);
  ledger.Apply(Finished(0, 2, JournalOutcome::kInterrupted));  // changes nothing
  CHECK(ledger.failed() == 1);
  // --retry-failed gives it another go: no longer failed while it runs.
  ledger.Apply(TaskDispatchedRecord{0, 3, 2});
  CHECK(ledger.failed() == 0);
  ledger.Apply(Finished(0, 3, JournalOutcome::kSignaled));
  CHECK(ledger.failed() == 1);
  // A success recorded for the failed attempt's task (a recovered line) settles it.
  ledger.Apply(Finished(0, 4, JournalOutcome::kSucceeded));
  CHECK(ledger.failed() == 0);
  CHECK(ledger.succeeded() == 1);
  // Nothing after a success counts.
  ledger.Apply(Finished(0, 5, JournalOutcome::kFailed));
  ledger.Apply(TaskSkippedRecord{0, "late"});
  CHECK(ledger.failed() == 0);
  CHECK(ledger.skipped() == 0);
}

TEST_CASE("A skipped task counts as skipped until it is dispatched again") {
  RunLedger ledger(2);
  ledger.Apply(TaskSkippedRecord{1, "dependency failed"});
  CHECK(ledger.skipped() == 1);
  ledger.Apply(TaskSkippedRecord{1, "again"});
  CHECK(ledger.skipped() == 1);
  ledger.Apply(TaskDispatchedRecord{1, 1, 1});
  CHECK(ledger.skipped() == 0);
  ledger.Apply(Finished(1, 1, JournalOutcome::kSkipped));
  CHECK(ledger.skipped() == 1);
  ledger.Apply(Finished(1, 2, JournalOutcome::kSucceeded));
  CHECK(ledger.skipped() == 0);
  // Out of range: ignored.
  ledger.Apply(TaskSkippedRecord{7, "no such task"});
  CHECK(ledger.skipped() == 0);
}

TEST_CASE("The counts match the tasks' last records over long random histories") {
  const std::uint64_t kTasks = 50;
  std::mt19937_64 random(20261124);
  for (int history = 0; history < 20; ++history) {
    RunLedger ledger(kTasks);
    // What each task's records so far say, applied the simple way.
    std::map<std::uint64_t, std::pair<bool, bool>> flags;  // failed for good, skipped
    std::vector<bool> succeeded(kTasks, false);
    for (int step = 0; step < 2000; ++step) {
      std::uint64_t index = random() % kTasks;
      std::uint32_t attempt = 1 + static_cast<std::uint32_t>(random() % 4);
      auto& [failed, skipped] = flags[index];
      switch (random() % 6) {
        case 0:
          ledger.Apply(TaskDispatchedRecord{index, attempt, 1});
          if (!succeeded[index]) failed = skipped = false;
          break;
        case 1:
          ledger.Apply(TaskSkippedRecord{index, "x"});
          if (!succeeded[index]) skipped = true;
          break;
        case 2:
          ledger.Apply(Finished(index, attempt, JournalOutcome::kSkipped));
          if (!succeeded[index]) skipped = true;
          break;
        case 3:
          ledger.Apply(Finished(index, attempt, JournalOutcome::kInterrupted));
          break;
        case 4: {
          bool retry = random() % 2 == 0;
          ledger.Apply(Finished(index, attempt, JournalOutcome::kFailed, retry));
          if (!succeeded[index]) failed = !retry;
          break;
        }
        default:
          // Successes are rarer, so that many tasks stay open.
          if (random() % 8 == 0) {
            ledger.Apply(Finished(index, attempt, JournalOutcome::kSucceeded));
            succeeded[index] = true;
            failed = skipped = false;
          }
          break;
      }
      std::uint64_t want_failed = 0, want_skipped = 0;
      for (const auto& [i, f] : flags) {
        want_failed += f.first ? 1 : 0;
        want_skipped += f.second ? 1 : 0;
      }
      REQUIRE(ledger.failed() == want_failed);
      REQUIRE(ledger.skipped() == want_skipped);
    }
  }
}

TEST_CASE("The highest attempt number of any record is kept with its task, for resume to check") {
  RunLedger ledger(3);
  CHECK(ledger.highest_attempt() == 0);
  ledger.Apply(TaskDispatchedRecord{1, 2, 1});
  ledger.Apply(Finished(1, 2, JournalOutcome::kFailed, /*will_retry=*/true));
  ledger.Apply(TaskDispatchedRecord{2, 1, 1});
  CHECK(ledger.highest_attempt() == 2);
  CHECK(ledger.highest_attempt_task() == 1);
  // A number no run could have reached (an altered journal) is seen whether it comes with a
  // dispatch or only with an end.
  ledger.Apply(Finished(2, 4'294'967'295u, JournalOutcome::kInterrupted));
  CHECK(ledger.highest_attempt() == 4'294'967'295u);
  CHECK(ledger.highest_attempt_task() == 2);
  ledger.Apply(TaskDispatchedRecord{0, 2'147'483'647u, 1});
  CHECK(ledger.highest_attempt_task() == 2);
}

TEST_CASE("An attempt lost with its worker costs no retry until the evidence is complete") {
  RunLedger ledger(2);
  CHECK_FALSE(ledger.any_worker_deaths());
  ledger.Apply(TaskDispatchedRecord{0, 1, 1});
  TaskFinishedRecord lost = Finished(0, 1, JournalOutcome::kWorkerLost, /*will_retry=*/true);
  lost.exit_code = 3;  // three attempts were in flight on that worker
  ledger.Apply(lost);
  CHECK(ledger.any_worker_deaths());
  CHECK(ledger.WorkerDeaths(0) == 1);
  CHECK(ledger.AloneWorkerDeaths(0) == 0);
  CHECK(ledger.failed() == 0);
  CHECK(ledger.ResumeState(false).history.at(0).failures == 0);

  ledger.Apply(TaskDispatchedRecord{0, 2, 1});
  lost = Finished(0, 2, JournalOutcome::kWorkerLost, /*will_retry=*/true);
  lost.exit_code = 1;  // alone
  ledger.Apply(lost);
  CHECK(ledger.AloneWorkerDeaths(0) == 1);
  CHECK(ledger.failed() == 0);

  ledger.Apply(TaskDispatchedRecord{0, 3, 1});
  lost = Finished(0, 3, JournalOutcome::kWorkerLost, /*will_retry=*/false);
  lost.exit_code = 1;
  ledger.Apply(lost);
  CHECK(ledger.AloneWorkerDeaths(0) == 2);
  CHECK(ledger.failed() == 1);
  CHECK(ledger.ResumeState(false).settled[0]);
  CHECK(ledger.WorkerDeaths(1) == 0);
}

TEST_CASE("The ledger knows whether the last run recorded its end") {
  RunLedger ledger(1);
  ledger.Apply(RunStartedRecord{1, 1, 1});
  CHECK_FALSE(ledger.last_run_ended());
  ledger.Apply(RunEndedRecord{2, 4, true});
  CHECK(ledger.last_run_ended());
  ledger.Apply(RunStartedRecord{3, 2, 1});
  CHECK_FALSE(ledger.last_run_ended());
}

TEST_CASE("Running counts attempts started and not finished, not those only dispatched") {
  RunLedger ledger(4);
  ledger.Apply(TaskDispatchedRecord{0, 1, 1});
  ledger.Apply(TaskDispatchedRecord{1, 1, 1});
  ledger.Apply(TaskDispatchedRecord{2, 1, 2});
  CHECK(ledger.running() == 0);
  ledger.Apply(TaskStartedRecord{0, 1, 1000, "a"});
  ledger.Apply(TaskStartedRecord{2, 1, 1001, "c"});
  ledger.Apply(TaskStartedRecord{2, 1, 1001, "c"});  // twice: still one attempt
  CHECK(ledger.running() == 2);
  // A start of an attempt that is not in flight changes nothing.
  ledger.Apply(TaskStartedRecord{1, 2, 1002, "b"});
  ledger.Apply(TaskStartedRecord{3, 1, 1002, "d"});
  ledger.Apply(TaskStartedRecord{9, 1, 1002, "out of range"});
  CHECK(ledger.running() == 2);
  ledger.Apply(Finished(0, 1, JournalOutcome::kSucceeded));
  CHECK(ledger.running() == 1);
  ledger.Apply(Finished(2, 1, JournalOutcome::kFailed, /*will_retry=*/true));
  CHECK(ledger.running() == 0);
  // The retry is dispatched and starts; the in-flight list knows when it started.
  ledger.Apply(TaskDispatchedRecord{2, 2, 1});
  ledger.Apply(TaskStartedRecord{2, 2, 2000, "c"});
  CHECK(ledger.running() == 1);
  const std::vector<RunLedger::Unfinished> in_flight = ledger.InFlight();
  REQUIRE(in_flight.size() == 2);
  CHECK(in_flight[0].index == 1);
  CHECK(in_flight[0].start_ms == 0);
  CHECK(in_flight[1].index == 2);
  CHECK(in_flight[1].attempt == 2);
  CHECK(in_flight[1].start_ms == 2000);
  CHECK(ledger.IsInFlight(2, 2));
  CHECK_FALSE(ledger.IsInFlight(2, 1));
  // Interrupted by the run's end: no longer running.
  ledger.Apply(Finished(2, 2, JournalOutcome::kInterrupted));
  CHECK(ledger.running() == 0);
}
