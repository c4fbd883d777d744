// RunHistory replays a journal for a reader: these tests hold each task's state, the attempts in
// flight and the workers against the records that made them.
#include "inspect/run_history.h"

#include <catch2/catch.hpp>

#include "inspect/run_files.h"

using namespace jobrunner;

namespace {

TaskFinishedRecord Finished(std::uint64_t index, std::uint32_t attempt, JournalOutcome outcome,
                            std::int64_t end_ms, bool will_retry = false) {
  TaskFinishedRecord r;
  r.index = index;
  r.attempt = attempt;
  r.worker_rank = 1;
  r.outcome = outcome;
  r.start_ms = end_ms - 10;
  r.end_ms = end_ms;
  r.will_retry = will_retry;
  return r;
}

std::size_t At(TaskState state) { return static_cast<std::size_t>(state); }

}  // namespace

TEST_CASE("A task waits once dispatched, runs once started and is settled by its end") {
  RunHistory history(5);
  history.Apply(RunStartedRecord{1000, 1, 2});
  history.Apply(WorkerJoinedRecord{1, "node-a", 11, 2});
  history.Apply(TaskDispatchedRecord{0, 1, 1});
  history.Apply(TaskDispatchedRecord{1, 1, 1});
  history.Apply(TaskDispatchedRecord{2, 1, 1});
  CHECK(history.StateOf(0, true) == TaskState::kWaiting);
  history.Apply(TaskStartedRecord{0, 1, 1100, "t-0"});
  history.Apply(TaskStartedRecord{1, 2, 1100, "stale"});  // not the attempt in flight
  CHECK(history.StateOf(0, true) == TaskState::kRunning);
  CHECK(history.StateOf(1, true) == TaskState::kWaiting);
  history.Apply(Finished(2, 1, JournalOutcome::kFailed, 1200, /*will_retry=*/true));
  CHECK(history.StateOf(2, true) == TaskState::kWaiting);  // for its retry
  history.Apply(Finished(1, 1, JournalOutcome::kSucceeded, 1300));
  history.Apply(TaskSkippedRecord{3, "dependency t-2 failed"});

  const TaskStateCounts counts = history.Counts(/*live=*/true);
  CHECK(counts[At(TaskState::kRunning)] == 1);
  CHECK(counts[At(TaskState::kWaiting)] == 1);
  CHECK(counts[At(TaskState::kSucceeded)] == 1);
  CHECK(counts[At(TaskState::kSkipped)] == 1);
  CHECK(counts[At(TaskState::kNotStarted)] == 1);

  const std::vector<OpenAttempt> open = history.Open();
  REQUIRE(open.size() == 1);
  CHECK(open[0].index == 0);
  CHECK(open[0].task_id == "t-0");
  CHECK(open[0].start_ms == 1100);
  CHECK(open[0].rank == 1);
  const WorkerEntry* worker = history.FindWorker(open[0].run, open[0].rank);
  REQUIRE(worker != nullptr);
  CHECK(worker->host == "node-a");
  CHECK(history.settled_times() == std::vector<std::int64_t>{1300});
  CHECK(history.last_event_ms() == 1300);
  CHECK_FALSE(history.Ended());
}

TEST_CASE("When the run no longer lives, what ran or waited was interrupted") {
  RunHistory history(3);
  history.Apply(RunStartedRecord{1000, 1, 1});
  history.Apply(TaskDispatchedRecord{0, 1, 1});
  history.Apply(TaskStartedRecord{0, 1, 1100, "t-0"});
  history.Apply(TaskDispatchedRecord{1, 1, 1});
  const TaskStateCounts stopped = history.Counts(/*live=*/false);
  CHECK(stopped[At(TaskState::kInterrupted)] == 2);
  CHECK(stopped[At(TaskState::kNotStarted)] == 1);

  // The resumed run records them as interrupted, then runs them again: until it dispatches
  // them, they are not started (in this run); a task a drain dropped unstarted never began.
  history.Apply(Finished(0, 1, JournalOutcome::kInterrupted, 2000));
  TaskFinishedRecord dropped = Finished(1, 1, JournalOutcome::kInterrupted, 0);
  dropped.start_ms = 0;
  history.Apply(dropped);
  history.Apply(RunStartedRecord{3000, 2, 1});
  CHECK(history.StateOf(0, /*live=*/true) == TaskState::kNotStarted);
  CHECK(history.StateOf(0, /*live=*/false) == TaskState::kInterrupted);
  CHECK(history.StateOf(1, /*live=*/false) == TaskState::kNotStarted);
  CHECK(history.Open().empty());
  CHECK(history.runs().size() == 2);
  CHECK(history.runs().back().number == 2);
}

TEST_CASE("Nothing after a task's success changes it, and out-of-range records are ignored") {
  RunHistory history(1);
  history.Apply(RunStartedRecord{1000, 1, 1});
  history.Apply(TaskDispatchedRecord{0, 1, 1});
  history.Apply(Finished(0, 1, JournalOutcome::kSucceeded, 1100));
  history.Apply(Finished(0, 2, JournalOutcome::kFailed, 1200));
  history.Apply(TaskSkippedRecord{0, "late"});
  history.Apply(TaskDispatchedRecord{0, 3, 1});
  history.Apply(TaskDispatchedRecord{5, 1, 1});
  history.Apply(Finished(5, 1, JournalOutcome::kFailed, 1300));
  CHECK(history.StateOf(0, true) == TaskState::kSucceeded);
  CHECK(history.Open().empty());
}

TEST_CASE("Workers are known per run, a retirement marks its worker, and a run's end is kept") {
  RunHistory history(2);
  history.Apply(RunStartedRecord{1000, 1, 2});
  history.Apply(WorkerJoinedRecord{1, "a", 11, 1});
  history.Apply(WorkerJoinedRecord{2, "b", 12, 1});
  history.Apply(WorkerRetiredRecord{2, "5 tasks failed there and then succeeded elsewhere"});
  history.Apply(TaskDispatchedRecord{0, 1, 1});
  history.Apply(Finished(0, 1, JournalOutcome::kFailed, 1500));
  history.Apply(RunEndedRecord{2000, 1, false});
  history.Apply(RunStartedRecord{5000, 2, 1});
  history.Apply(WorkerJoinedRecord{1, "c", 21, 4});
  REQUIRE(history.workers().size() == 3);
  CHECK(history.workers()[1].retired.find("5 tasks failed") == 0);
  CHECK(history.FindWorker(2, 1)->host == "c");
  CHECK(history.FindWorker(1, 1)->host == "a");
  CHECK(history.FindWorker(2, 2) == nullptr);
  CHECK_FALSE(history.Ended());  // run 2 has not ended
  CHECK(history.runs()[0].end_ms == 2000);
  CHECK(history.runs()[0].exit_status == 1);
  // A new run measures its own rate.
  CHECK(history.settled_times().empty());
  history.Apply(RunEndedRecord{6000, 0, false});
  CHECK(history.Ended());
}

TEST_CASE("A run is live while its lock is held, else ended or stopped as its last run says") {
  RunHistory history(1);
  history.Apply(RunStartedRecord{1000, 1, 1});
  CHECK(LivenessOf(/*locked=*/true, history) == Liveness::kLive);
  CHECK(LivenessOf(/*locked=*/false, history) == Liveness::kStopped);  // killed, or crashed
  history.Apply(RunEndedRecord{2000, 4, false});
  CHECK(LivenessOf(false, history) == Liveness::kEnded);
  // A resume holds the lock before it records its own start: the journal still ends with the
  // end of the run before it.
  CHECK(LivenessOf(true, history) == Liveness::kLive);
  history.Apply(RunStartedRecord{3000, 2, 1});
  CHECK(LivenessOf(false, history) == Liveness::kStopped);
}
