#include "schedule/scheduler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "checked_scheduler.h"
#include "schedule/retry_policy.h"

using jobrunner::Outcome;
using jobrunner::RetryPolicy;
using jobrunner::Scheduler;
using jobrunner::testing::CheckedScheduler;

namespace {

Scheduler::Options Options(std::int64_t backoff_ms = 100) {
  Scheduler::Options o;
  o.retry.backoff_ms = backoff_ms;
  return o;
}

std::map<int, int> PerWorker(const std::vector<Scheduler::Assignment>& given) {
  std::map<int, int> count;
  for (const auto& a : given) count[a.worker]++;
  return count;
}

}  // namespace

TEST_CASE("A new worker is given only as many tasks as it has slots") {
  CheckedScheduler s(100, Options());
  s.AddWorker(1, 3);
  auto given = s.Assign(0);
  REQUIRE(given.size() == 3);
  CHECK(given[0].index == 0);
  CHECK(given[2].index == 2);
  CHECK(given[0].attempt == 1);
  CHECK(s.Assign(0).empty());
}

TEST_CASE("A result or a new worker makes room that the next Assign fills, whatever came between") {
  CheckedScheduler s(100, Options());
  s.AddWorker(1, 2);
  auto first = s.Assign(0);
  REQUIRE(first.size() == 2);
  CHECK(s.Assign(1).empty());
  CHECK(s.Assign(2).empty());
  // A result for an attempt not in flight frees nothing.
  CHECK(s.OnResult({1, 50, 1, Outcome::kSucceeded, 0, 1000}, 3) == Scheduler::Verdict::kIgnored);
  CHECK(s.Assign(3).empty());
  s.AddWorker(2, 1);
  auto second = s.Assign(4);
  REQUIRE(second.size() == 1);
  CHECK(second[0].worker == 2);
  CHECK(s.Assign(5).empty());
  // A long task ends: its slot is free again, with no prefetch for tasks that long.
  CHECK(s.OnResult({1, first[0].index, 1, Outcome::kSucceeded, 0, 1000}, 6) ==
        Scheduler::Verdict::kFinal);
  auto third = s.Assign(7);
  REQUIRE(third.size() == 1);
  CHECK(third[0].worker == 1);
  CHECK(third[0].index == 3);
}

TEST_CASE("Free slots on every worker are filled before any worker gets prefetch") {
  CheckedScheduler s(5, Options());
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  s.AddWorker(3, 1);
  s.AddWorker(4, 1);
  // Worker 1 has shown that its tasks are short, so it would take a deep prefetch.
  auto first = s.Assign(0);
  REQUIRE(first.size() == 4);
  REQUIRE(s.OnResult({1, 0, 1, Outcome::kSucceeded, 0, 1.0}, 0) == Scheduler::Verdict::kFinal);
  auto second = s.Assign(0);
  REQUIRE(second.size() == 1);
  CHECK(PerWorker(first) == std::map<int, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}});
}

TEST_CASE("Short tasks earn a worker a prefetch queue and long tasks do not") {
  CheckedScheduler s(100000, Options());
  s.AddWorker(1, 2);
  s.AddWorker(2, 2);
  auto first = s.Assign(0);
  REQUIRE(first.size() == 4);
  // Worker 1 reports 1 ms tasks, worker 2 10 s tasks.
  for (const auto& a : first) {
    double duration = a.worker == 1 ? 1.0 : 10000.0;
    s.OnResult({a.worker, a.index, 1, Outcome::kSucceeded, 0, duration}, 0);
  }
  // The queue deepens by one per result seen, up to 2 slots + ceil(2 * 20 ms / 1 ms).
  std::vector<int> depth;
  for (int round = 0; round < 60; ++round) {
    auto given = s.Assign(0);
    auto counts = PerWorker(given);
    if (round == 0) CHECK(counts[2] == 2);  // slots only
    CHECK(counts[2] <= 2);
    depth.push_back(counts[1]);
    for (const auto& a : given) {
      if (a.worker == 1) s.OnResult({1, a.index, 1, Outcome::kSucceeded, 0, 1.0}, 0);
    }
  }
  CHECK(depth.front() == 2 + 2);
  CHECK(std::is_sorted(depth.begin(), depth.end()));
  CHECK(depth.back() == 2 + 40);
}

TEST_CASE("One quick first task does not earn a worker a queue of long ones") {
  CheckedScheduler s(13, Options());
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  s.AddWorker(3, 1);
  auto first = s.Assign(0);
  REQUIRE(first.size() == 3);
  s.OnResult({first[0].worker, first[0].index, 1, Outcome::kSucceeded, 0, 1.0}, 0);
  auto counts = PerWorker(s.Assign(0));
  CHECK(counts[first[0].worker] == 2);  // its slot and one queued, not 20
}

TEST_CASE("Every task is handed out exactly once when all succeed") {
  const std::uint64_t n = 1000;
  CheckedScheduler s(n, Options());
  s.AddWorker(1, 2);
  s.AddWorker(2, 3);
  std::set<std::uint64_t> seen;
  int rounds = 0;
  while (!s.Finished() && ++rounds < 10000) {
    for (const auto& a : s.Assign(0)) {
      CHECK(seen.insert(a.index).second);
      CHECK(s.OnResult({a.worker, a.index, a.attempt, Outcome::kSucceeded, 0, 0.5}, 0) ==
            Scheduler::Verdict::kFinal);
    }
  }
  CHECK(s.Finished());
  CHECK(seen.size() == n);
  CHECK(s.FinalCount(Outcome::kSucceeded) == n);
}

TEST_CASE("A failed attempt is retried after its backoff and on another worker") {
  CheckedScheduler s(1, Options(100));
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  auto first = s.Assign(0);
  REQUIRE(first.size() == 1);
  int failed_on = first[0].worker;
  CHECK(s.OnResult({failed_on, 0, 1, Outcome::kFailed, 2, 5}, 1000) ==
        Scheduler::Verdict::kRetrying);
  CHECK(s.Assign(1050).empty());  // backoff not over
  REQUIRE(s.NextRetryAt() == 1100);
  auto retry = s.Assign(1100);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].index == 0);
  CHECK(retry[0].attempt == 2);
  CHECK(retry[0].worker != failed_on);
  CHECK(s.Retried() == 1);
}

TEST_CASE("With a single worker a retry goes back to the same worker") {
  CheckedScheduler s(1, Options(0));
  s.AddWorker(7, 1);
  s.Assign(0);
  s.OnResult({7, 0, 1, Outcome::kTimedOut, 1, 5}, 0);
  auto retry = s.Assign(0);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].worker == 7);
}

TEST_CASE("A task that fails more often than its retries allow ends failed") {
  CheckedScheduler s(1, Options(0));
  s.AddWorker(1, 1);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto given = s.Assign(0);
    REQUIRE(given.size() == 1);
    CHECK(given[0].attempt == attempt);
    auto verdict = s.OnResult({1, 0, attempt, Outcome::kSignaled, 2, 5}, 0);
    CHECK(verdict == (attempt < 3 ? Scheduler::Verdict::kRetrying : Scheduler::Verdict::kFinal));
  }
  CHECK(s.Finished());
  CHECK(s.FinalCount(Outcome::kSignaled) == 1);
  CHECK(s.FinalCount(Outcome::kSucceeded) == 0);
}

TEST_CASE("A task failing twice then succeeding with two retries ends succeeded") {
  CheckedScheduler s(1, Options(0));
  s.AddWorker(1, 1);
  Outcome outcomes[] = {Outcome::kFailed, Outcome::kFailed, Outcome::kSucceeded};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto given = s.Assign(0);
    REQUIRE(given.size() == 1);
    s.OnResult({1, 0, attempt, outcomes[attempt - 1], 2, 5}, 0);
  }
  CHECK(s.Finished());
  CHECK(s.FinalCount(Outcome::kSucceeded) == 1);
  CHECK(s.FinalTotal() == 1);
}

TEST_CASE("Results for attempts not in flight are ignored") {
  CheckedScheduler s(2, Options());
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  auto given = s.Assign(0);
  REQUIRE(given.size() == 2);
  const auto& a = given[0];
  int other = a.worker == 1 ? 2 : 1;
  CHECK(s.OnResult({other, a.index, 1, Outcome::kSucceeded, 0, 1}, 0) ==
        Scheduler::Verdict::kIgnored);  // wrong worker
  CHECK(s.OnResult({a.worker, a.index, 2, Outcome::kSucceeded, 0, 1}, 0) ==
        Scheduler::Verdict::kIgnored);  // wrong attempt
  CHECK(s.OnResult({a.worker, a.index, 1, Outcome::kSucceeded, 0, 1}, 0) ==
        Scheduler::Verdict::kFinal);
  CHECK(s.OnResult({a.worker, a.index, 1, Outcome::kSucceeded, 0, 1}, 0) ==
        Scheduler::Verdict::kIgnored);  // duplicate
  CHECK(s.FinalCount(Outcome::kSucceeded) == 1);
}

TEST_CASE("Retry delays double with each failure and stop at the cap") {
  RetryPolicy policy{200};
  CHECK(policy.RetryDelayMs(Outcome::kFailed, 1, 5) == 200);
  CHECK(policy.RetryDelayMs(Outcome::kFailed, 2, 5) == 400);
  CHECK(policy.RetryDelayMs(Outcome::kSpawnError, 3, 5) == 800);
  CHECK(policy.RetryDelayMs(Outcome::kFailed, 30, 100) == RetryPolicy::kMaxBackoffMs);
}

TEST_CASE("Success, interruption and an exhausted allowance are not retried") {
  RetryPolicy policy{200};
  CHECK_FALSE(policy.RetryDelayMs(Outcome::kSucceeded, 1, 5));
  CHECK_FALSE(policy.RetryDelayMs(Outcome::kFailed, 1, 0));
  CHECK_FALSE(policy.RetryDelayMs(Outcome::kTimedOut, 3, 2));
  CHECK(policy.RetryDelayMs(Outcome::kTimedOut, 2, 2));
  CHECK_FALSE(policy.RetryDelayMs(Outcome::kInterrupted, 1, 5));
}

TEST_CASE("A resumed run skips settled tasks and continues attempt numbers and failures") {
  CheckedScheduler s(5, Options(0));
  std::vector<bool> settled = {true, false, true, false, false};
  std::unordered_map<std::uint64_t, jobrunner::ResumePoint::TaskHistory> prior = {{1, {2, 1}},
                                                                                  {3, {1, 0}}};
  s.Resume({settled, prior, {}});
  CHECK(s.Settled() == 2);
  s.AddWorker(1, 10);
  auto given = s.Assign(0);
  REQUIRE(given.size() == 3);
  CHECK(given[0].index == 1);
  CHECK(given[0].attempt == 3);
  CHECK(given[1].index == 3);
  CHECK(given[1].attempt == 2);
  CHECK(given[2].index == 4);
  CHECK(given[2].attempt == 1);
  // Task 1 failed once before: with retries 1 this second failure is final.
  CHECK(s.OnResult({1, 1, 3, Outcome::kFailed, 1, 5}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.OnResult({1, 3, 2, Outcome::kSucceeded, 0, 5}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.OnResult({1, 4, 1, Outcome::kSucceeded, 0, 5}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.Finished());
}

TEST_CASE("An interrupted attempt is neither final nor retried") {
  CheckedScheduler s(1, Options(0));
  s.AddWorker(1, 1);
  s.Assign(0);
  CHECK(s.OnResult({1, 0, 1, Outcome::kInterrupted, 3, 5}, 0) == Scheduler::Verdict::kInterrupted);
  CHECK(s.Assign(0).empty());
  CHECK(s.FinalTotal() == 0);
  CHECK(s.Interrupted() == 1);
  CHECK(s.Running() == 0);
}

TEST_CASE("A worker whose failures keep succeeding elsewhere is taken out of rotation") {
  Scheduler::Options options = Options(0);
  options.max_worker_failures = 2;
  CheckedScheduler s(100, options);
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  int fixed = 0;
  for (int round = 0; round < 20 && s.RetiredWorkers().empty(); ++round) {
    for (const auto& a : s.Assign(0)) {
      // Everything fails on worker 1 and succeeds on worker 2.
      Outcome outcome = a.worker == 1 ? Outcome::kFailed : Outcome::kSucceeded;
      if (a.worker == 2 && a.attempt > 1) ++fixed;
      s.OnResult({a.worker, a.index, a.attempt, outcome, 3, 5}, 0);
    }
  }
  REQUIRE(s.RetiredWorkers() == std::vector<int>{1});
  CHECK(fixed >= 2);
  for (int round = 0; round < 5; ++round) {
    for (const auto& a : s.Assign(0)) {
      CHECK(a.worker == 2);
      s.OnResult({a.worker, a.index, a.attempt, Outcome::kSucceeded, 3, 5}, 0);
    }
  }
}

TEST_CASE("The last worker in rotation is never retired") {
  Scheduler::Options options = Options(0);
  options.max_worker_failures = 1;
  CheckedScheduler s(10, options);
  s.AddWorker(1, 1);
  for (int round = 0; round < 30 && !s.Finished(); ++round) {
    for (const auto& a : s.Assign(0)) {
      s.OnResult({a.worker, a.index, a.attempt,
                  a.attempt == 1 ? Outcome::kFailed : Outcome::kSucceeded, 1, 5},
                 0);
    }
  }
  CHECK(s.Finished());
  CHECK(s.RetiredWorkers().empty());
}

TEST_CASE("A worker whose occasional failures succeed elsewhere stays in rotation") {
  // Every tenth task fails on its first attempt wherever it runs: not the worker's fault.
  Scheduler::Options options = Options(0);
  options.max_worker_failures = 2;
  CheckedScheduler s(400, options);
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  for (int round = 0; round < 2000 && !s.Finished(); ++round) {
    for (const auto& a : s.Assign(0)) {
      bool fails = a.index % 10 == 0 && a.attempt == 1;
      s.OnResult(
          {a.worker, a.index, a.attempt, fails ? Outcome::kFailed : Outcome::kSucceeded, 1, 5}, 0);
    }
  }
  CHECK(s.Finished());
  CHECK(s.FinalCount(Outcome::kSucceeded) == 400);
  CHECK(s.RetiredWorkers().empty());
}

TEST_CASE("A worker with failures in a row gets nothing new until the retries elsewhere decide") {
  Scheduler::Options options = Options(1000);
  options.max_worker_failures = 2;
  CheckedScheduler s(100, options);
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  auto first = s.Assign(0);
  REQUIRE(PerWorker(first) == std::map<int, int>{{1, 1}, {2, 1}});
  for (const auto& a : first) {
    s.OnResult({a.worker, a.index, a.attempt,
                a.worker == 1 ? Outcome::kFailed : Outcome::kSucceeded, 3, 5},
               0);
  }
  // One failure: worker 1 still works. A second one in a row suspends it.
  auto second = s.Assign(0);
  REQUIRE(PerWorker(second)[1] >= 1);
  for (const auto& a : second) {
    if (a.worker == 1) s.OnResult({a.worker, a.index, a.attempt, Outcome::kFailed, 3, 5}, 0);
  }
  for (std::int64_t now = 0; now < 500; now += 100) {
    for (const auto& a : s.Assign(now)) CHECK(a.worker != 1);
  }
  CHECK(s.RetiredWorkers().empty());
}

TEST_CASE("A task that fails elsewhere too lifts the suspicion it cast on the first worker") {
  Scheduler::Options options = Options(0);
  options.max_worker_failures = 1;
  CheckedScheduler s(100, options);
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  auto first = s.Assign(0);
  std::uint64_t on_1 = 0;
  for (const auto& a : first) {
    if (a.worker == 1) on_1 = a.index;
    if (a.worker == 2) s.OnResult({a.worker, a.index, a.attempt, Outcome::kSucceeded, 3, 5}, 0);
  }
  s.OnResult({1, on_1, 1, Outcome::kFailed, 3, 5}, 0);
  // Worker 1 is suspended: the retry goes to worker 2, and worker 1 gets nothing.
  auto retry = s.Assign(0);
  REQUIRE(!retry.empty());
  CHECK(PerWorker(retry).count(1) == 0);
  CHECK(retry[0].index == on_1);
  // The retry fails on worker 2 as well: the task is at fault, worker 1 works again.
  s.OnResult({2, on_1, 2, Outcome::kFailed, 3, 5}, 0);
  auto after = s.Assign(0);
  CHECK(PerWorker(after)[1] >= 1);
  CHECK(s.RetiredWorkers().empty());
}

TEST_CASE("When every worker is suspended they all keep working") {
  // Every task fails on its first attempt everywhere: suspicion must not stall the run.
  Scheduler::Options options = Options(0);
  options.max_worker_failures = 1;
  CheckedScheduler s(50, options);
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  for (int round = 0; round < 500 && !s.Finished(); ++round) {
    for (const auto& a : s.Assign(0)) {
      s.OnResult({a.worker, a.index, a.attempt,
                  a.attempt == 1 ? Outcome::kFailed : Outcome::kSucceeded, 1, 5},
                 0);
    }
  }
  CHECK(s.Finished());
  CHECK(s.FinalCount(Outcome::kSucceeded) == 50);
}

TEST_CASE("A retry does not wait for a worker that is suspended") {
  // Worker 2's tasks fail for good (no retries) twice in a row: it is suspended, and nothing
  // will lift that. Task 0 then fails on worker 1 with a retry left: it goes back to worker 1,
  // the only one that may take work, instead of waiting for worker 2 for ever.
  Scheduler::Options options = Options(0);
  options.max_worker_failures = 2;
  CheckedScheduler s(3, options);
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  const auto first = s.Assign(0);
  REQUIRE(PerWorker(first) == std::map<int, int>{{1, 1}, {2, 1}});
  CHECK(s.OnResult({2, 1, 1, Outcome::kFailed, 0, 5}, 0) == Scheduler::Verdict::kFinal);
  const auto second = s.Assign(0);
  REQUIRE(second.size() == 1);
  REQUIRE(second[0].worker == 2);
  CHECK(s.OnResult({2, 2, 1, Outcome::kFailed, 0, 5}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.OnResult({1, 0, 1, Outcome::kFailed, 1, 5}, 0) == Scheduler::Verdict::kRetrying);
  const auto retry = s.Assign(0);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].index == 0);
  CHECK(retry[0].worker == 1);
  CHECK(s.OnResult({1, 0, 2, Outcome::kSucceeded, 1, 5}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.Finished());
}

TEST_CASE("Tasks queued beyond the slots are bounded over all workers, not only per worker") {
  Scheduler::Options options = Options();
  options.max_queued = 10;
  CheckedScheduler s(100000, options);
  for (int w = 1; w <= 4; ++w) s.AddWorker(w, 1);
  // Every worker reports 1 ms tasks, one per round: each would queue 20 on its own.
  std::map<int, std::vector<Scheduler::Assignment>> on;
  for (int round = 0; round < 60; ++round) {
    for (const auto& a : s.Assign(0)) on[a.worker].push_back(a);
    CHECK(s.Running() <= 4 + 10);
    for (auto& [worker, given] : on) {
      REQUIRE(!given.empty());
      const auto a = given.front();
      given.erase(given.begin());
      s.OnResult({a.worker, a.index, a.attempt, Outcome::kSucceeded, 0, 1.0}, 0);
    }
  }
  s.Assign(0);
  CHECK(s.Running() == 4 + 10);
}

TEST_CASE("When the queue limit binds, prefetch goes round the workers") {
  Scheduler::Options options = Options();
  options.max_queued = 2;
  CheckedScheduler s(100000, options);
  for (int w = 1; w <= 5; ++w) s.AddWorker(w, 1);
  std::map<int, std::vector<Scheduler::Assignment>> on;
  std::map<int, int> most_held;
  for (int round = 0; round < 40; ++round) {
    for (const auto& a : s.Assign(0)) on[a.worker].push_back(a);
    for (auto& [worker, given] : on) {
      most_held[worker] = std::max(most_held[worker], static_cast<int>(given.size()));
      const auto a = given.front();
      given.erase(given.begin());
      s.OnResult({a.worker, a.index, a.attempt, Outcome::kSucceeded, 0, 1.0}, 0);
    }
  }
  // Each worker had a task queued behind its running one at some point, not only the first.
  REQUIRE(most_held.size() == 5);
  for (const auto& [worker, held] : most_held) {
    INFO("worker " << worker);
    CHECK(held >= 2);
    CHECK(held <= 1 + 2);
  }
}

TEST_CASE("A retry that falls due while every worker is busy goes to the first worker to free up") {
  CheckedScheduler s(100, Options(10));
  s.AddWorker(1, 1);
  s.AddWorker(2, 1);
  s.AddWorker(3, 1);
  auto first = s.Assign(0);
  REQUIRE(first.size() == 3);
  // Task 0 fails on worker 1, whose slot the next fresh task takes at once.
  REQUIRE(s.OnResult({1, 0, 1, Outcome::kFailed, 1, 1000}, 0) == Scheduler::Verdict::kRetrying);
  auto refill = s.Assign(0);
  REQUIRE(refill.size() == 1);
  CHECK(refill[0].worker == 1);
  // Due at 10, with no slot free: it waits, and is not lost.
  CHECK(s.Assign(20).empty());
  CHECK(s.WaitingRetries() == 1);
  // Worker 3 frees up: the retry goes there before any fresh task.
  REQUIRE(s.OnResult({3, 2, 1, Outcome::kSucceeded, 0, 1000}, 30) == Scheduler::Verdict::kFinal);
  auto retry = s.Assign(30);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].index == 0);
  CHECK(retry[0].attempt == 2);
  CHECK(retry[0].worker == 3);
  CHECK(s.WaitingRetries() == 0);
}

TEST_CASE("Retries are not queued beyond the limit over all workers") {
  Scheduler::Options options = Options(0);
  options.max_queued = 1;
  CheckedScheduler s(100, options);
  s.AddWorker(1, 3);
  s.AddWorker(2, 1);
  auto first = s.Assign(0);
  REQUIRE(PerWorker(first) == std::map<int, int>{{1, 3}, {2, 1}});
  // Worker 2 shows short tasks twice, which earns it a queue of two.
  REQUIRE(s.OnResult({2, 3, 1, Outcome::kSucceeded, 0, 1.0}, 0) == Scheduler::Verdict::kFinal);
  auto second = s.Assign(0);
  REQUIRE(second.size() == 2);
  REQUIRE(s.OnResult({2, second[0].index, 1, Outcome::kSucceeded, 0, 1.0}, 0) ==
          Scheduler::Verdict::kFinal);
  // Worker 1's three tasks fail: their retries may go to worker 2 only, and only one may wait
  // there behind its running task.
  for (std::uint64_t index = 0; index < 3; ++index) {
    REQUIRE(s.OnResult({1, index, 1, Outcome::kFailed, 1, 1.0}, 0) ==
            Scheduler::Verdict::kRetrying);
  }
  auto third = s.Assign(0);
  int retries_given = 0;
  for (const auto& a : third) {
    if (a.attempt == 2) {
      CHECK(a.worker == 2);
      ++retries_given;
    }
  }
  CHECK(retries_given == 1);
  CHECK(s.WaitingRetries() == 2);
  CHECK(s.Running() == 4 + 1);
}
