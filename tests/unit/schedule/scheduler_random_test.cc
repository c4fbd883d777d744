// Random runs of the scheduler: groups with resources, dependencies and priorities, workers that
// join late, attempts that fail, time out or are interrupted, resumed runs. The CheckedScheduler
// checks every invariant after every step; each run must also end with every task accounted for.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "checked_scheduler.h"
#include "schedule/scheduler.h"
#include "schedule/task_graph.h"

using jobrunner::Outcome;
using jobrunner::ResourceNeeds;
using jobrunner::ResumePoint;
using jobrunner::Scheduler;
using jobrunner::TaskGraph;
using jobrunner::WorkerCapacity;
using jobrunner::testing::CheckedScheduler;

namespace {

struct RandomRun {
  explicit RandomRun(std::uint32_t seed) : random(seed) {}

  std::mt19937 random;

  int Between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); }
  bool OneIn(int n) { return Between(1, n) == 1; }

  static std::string Describe(const std::vector<TaskGraph::Group>& groups,
                              const std::vector<ResourceNeeds>& needs,
                              const std::vector<WorkerCapacity>& workers) {
    std::ostringstream out;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      out << "group " << g << ": " << groups[g].size << " tasks of "
          << jobrunner::DescribeNeeds(needs[g]) << "\n";
    }
    for (std::size_t w = 0; w < workers.size(); ++w) {
      out << "worker " << w + 1 << ": " << jobrunner::DescribeCapacity(workers[w]) << "\n";
    }
    return out.str();
  }

  void Run(bool with_needs) {
    // Groups, their needs and the dependencies (only on earlier tasks: no cycle).
    std::vector<TaskGraph::Group> groups;
    std::vector<ResourceNeeds> needs;
    std::uint64_t tasks = 0;
    for (int g = Between(1, 5); g > 0; --g) {
      groups.push_back(TaskGraph::Group{static_cast<std::uint64_t>(Between(1, 25)), Between(0, 2)});
      tasks += groups.back().size;
      ResourceNeeds n;
      if (with_needs && !OneIn(3)) {
        n.cores = Between(0, 3);
        n.gpus = OneIn(3) ? Between(1, 2) : 0;
        n.memory = OneIn(3) ? static_cast<std::uint64_t>(Between(1, 4)) << 30 : 0;
        if (OneIn(4)) n.tags = {"fast"};
      }
      needs.push_back(n);
    }
    std::vector<TaskGraph::Edge> edges;
    for (std::uint64_t t = 1; t < tasks; ++t) {
      if (OneIn(4)) {
        edges.push_back(TaskGraph::Edge{t, static_cast<std::uint64_t>(Between(0, int(t) - 1))});
      }
    }
    Scheduler::Options options;
    options.retry.backoff_ms = OneIn(2) ? 0 : 50;
    options.max_worker_failures = Between(0, 3);
    // Sometimes a queue limit over all workers that binds, or a small one per worker.
    options.max_queued = OneIn(2) ? static_cast<std::uint64_t>(Between(1, 6)) : 0;
    options.max_prefetch = OneIn(3) ? Between(1, 4) : options.max_prefetch;
    CheckedScheduler s(TaskGraph(groups, edges), options);
    s.SetNeeds(needs);
    if (OneIn(3)) {
      ResumePoint point;
      point.settled.assign(tasks, false);
      for (std::uint64_t t = 0; t < tasks; ++t) {
        if (OneIn(4)) {
          point.settled[t] = true;
          if (OneIn(3)) point.failed.push_back(t);
        } else if (OneIn(4)) {
          point.history[t] = ResumePoint::TaskHistory{Between(1, 3), Between(0, 1)};
        }
      }
      s.Resume(point);
    }

    // Workers: every group fits on the first, so that the run can end; more join later.
    std::vector<WorkerCapacity> joining;
    for (int w = Between(1, 4); w > 0; --w) {
      WorkerCapacity c;
      c.cores = joining.empty() ? 4 : Between(1, 6);
      c.gpus = joining.empty() ? 2 : Between(0, 2);
      c.memory = (joining.empty() ? 8ull : static_cast<std::uint64_t>(Between(1, 8))) << 30;
      if (joining.empty() || OneIn(2)) c.tags = {"fast"};
      joining.push_back(c);
    }
    INFO(Describe(groups, needs, joining));
    int next_worker = 1;
    s.AddWorker(next_worker++, joining.front());

    // Sometimes the run stops early: every attempt in flight then ends interrupted.
    const int stop_at = OneIn(4) ? Between(0, 200) : -1;
    std::vector<Scheduler::Assignment> in_flight;
    std::int64_t now = 0;
    for (int step = 0; step < 20000 && !s.Finished(); ++step) {
      if (next_worker <= static_cast<int>(joining.size()) && OneIn(5)) {
        s.AddWorker(next_worker, joining[static_cast<std::size_t>(next_worker - 1)]);
        ++next_worker;
      }
      now += Between(0, 40);
      for (const auto& a : s.Assign(now)) in_flight.push_back(a);
      if (step == stop_at) break;
      // Some of what is in flight ends, in any order; sometimes a result comes twice.
      for (int ending = Between(0, 3); ending > 0 && !in_flight.empty(); --ending) {
        const std::size_t pick = static_cast<std::size_t>(Between(0, int(in_flight.size()) - 1));
        const Scheduler::Assignment a = in_flight[pick];
        in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
        const int roll = Between(1, 100);
        const Outcome outcome = roll <= 70   ? Outcome::kSucceeded
                                : roll <= 90 ? Outcome::kFailed
                                             : Outcome::kTimedOut;
        const int retries_allowed = static_cast<int>(a.index % 3);
        const Scheduler::AttemptEnded ended{a.worker, a.index,         a.attempt,
                                            outcome,  retries_allowed, double(Between(0, 900))};
        CHECK(s.OnResult(ended, now) != Scheduler::Verdict::kIgnored);
        if (OneIn(10)) CHECK(s.OnResult(ended, now) == Scheduler::Verdict::kIgnored);
      }
      s.TakeSkipped();
      if (in_flight.empty() && s.NextRetryAt()) now = std::max(now, *s.NextRetryAt());
    }
    if (stop_at >= 0 && !s.Finished()) {
      for (const auto& a : in_flight) {
        CHECK(s.OnResult({a.worker, a.index, a.attempt, Outcome::kInterrupted, 1, 5.0}, now) ==
              Scheduler::Verdict::kInterrupted);
      }
      CHECK(s.Running() == 0);
      CHECK(s.Interrupted() == in_flight.size());
      return;
    }
    INFO("left: " << s.Running() << " running, " << s.WaitingRetries() << " retries, " << s.Held()
                  << " held, " << s.RetiredWorkers().size() << " workers retired");
    REQUIRE(s.Finished());
    CHECK(s.FinalTotal() + s.Settled() == tasks);
  }
};

}  // namespace

TEST_CASE("Random runs of tasks of one slot keep every invariant and account for every task") {
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("seed " << seed);
    RandomRun(seed).Run(/*with_needs=*/false);
  }
}

TEST_CASE("Random runs with resources keep every invariant and account for every task") {
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("seed " << seed);
    RandomRun(seed).Run(/*with_needs=*/true);
  }
}
