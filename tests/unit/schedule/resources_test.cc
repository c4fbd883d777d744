// The scheduler with resources (cores, GPUs, memory, tags), and the helpers behind it: what fits
// where, that GPUs and cores are never shared beyond a worker's capacity, that a big task is not
// starved by small ones, and the error for a task that fits nowhere.
#include "schedule/resources.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "checked_scheduler.h"
#include "manifest/manifest.h"
#include "schedule/scheduler.h"
#include "schedule/task_graph.h"

using jobrunner::GpuReport;
using jobrunner::Outcome;
using jobrunner::ResourceNeeds;
using jobrunner::Scheduler;
using jobrunner::TaskGraph;
using jobrunner::WorkerCapacity;
using jobrunner::testing::CheckedScheduler;

namespace {

ResourceNeeds Needs(int cores, int gpus = 0, std::uint64_t memory = 0,
                    std::vector<std::string> tags = {}) {
  ResourceNeeds n;
  n.cores = cores;
  n.gpus = gpus;
  n.memory = memory;
  n.tags = std::move(tags);
  return n;
}

WorkerCapacity Capacity(int cores, int gpus = 0, std::uint64_t memory = 64ull << 30,
                        std::vector<std::string> tags = {}) {
  WorkerCapacity c;
  c.cores = cores;
  c.gpus = gpus;
  c.memory = memory;
  c.tags = std::move(tags);
  return c;
}

// Groups of tasks (an entry each) with what each asks for.
CheckedScheduler Make(const std::vector<std::pair<std::uint64_t, ResourceNeeds>>& groups,
                      int max_worker_failures = Scheduler::Options{}.max_worker_failures) {
  std::vector<TaskGraph::Group> g;
  std::vector<ResourceNeeds> needs;
  for (const auto& [size, n] : groups) {
    g.push_back(TaskGraph::Group{size, 0});
    needs.push_back(n);
  }
  Scheduler::Options options;
  options.retry.backoff_ms = 0;
  options.max_worker_failures = max_worker_failures;
  CheckedScheduler s(TaskGraph(g, {}), options);
  s.SetNeeds(needs);
  return s;
}

// Drives a scheduler to the end, ending the oldest (or a random) task in flight after each
// Assign, and checks at every step that no worker holds more than it has.
struct Sim {
  struct Running {
    std::uint64_t index;
    int worker;
    int cores;
    std::uint64_t memory;
    std::vector<int> gpus;
  };
  explicit Sim(CheckedScheduler& scheduler) : s(scheduler) {}

  CheckedScheduler& s;
  std::map<int, WorkerCapacity> capacity;
  std::function<ResourceNeeds(std::uint64_t)> needs_of;
  std::vector<Running> running;
  std::vector<Scheduler::Assignment> order;  // every assignment, in order
  std::mt19937 random{7};
  bool shuffle = false;
  // Called after every Assign with what is in flight.
  std::function<void(const std::vector<Running>&)> check = [](const auto&) {};

  void Add(int worker, const WorkerCapacity& c) {
    capacity[worker] = c;
    s.AddWorker(worker, c);
  }

  void Run() {
    for (int step = 0; step < 100000 && !s.Finished(); ++step) {
      for (const auto& a : s.Assign(0)) {
        order.push_back(a);
        const ResourceNeeds n = needs_of(a.index);
        running.push_back(Running{a.index, a.worker, n.Cores(), n.memory, a.gpus});
      }
      Verify();
      check(running);
      if (running.empty()) continue;
      std::size_t pick = shuffle ? random() % running.size() : 0;
      Running r = running[pick];
      running.erase(running.begin() + static_cast<long>(pick));
      REQUIRE(s.OnResult({r.worker, r.index, 1, Outcome::kSucceeded, 0, 1000.0}, 0) ==
              Scheduler::Verdict::kFinal);
    }
    REQUIRE(s.Finished());
  }

  void Verify() {
    for (const auto& [worker, c] : capacity) {
      int cores = 0;
      std::uint64_t memory = 0;
      std::set<int> gpus;
      for (const Running& r : running) {
        if (r.worker != worker) continue;
        cores += r.cores;
        memory += r.memory;
        for (int g : r.gpus) {
          REQUIRE(g >= 0);
          REQUIRE(g < c.gpus);
          REQUIRE(gpus.insert(g).second);  // never two tasks on one GPU
        }
      }
      // Tasks taking one core and nothing else may be queued beyond the slots; with 1000 ms tasks
      // there is no prefetch, so the cores in flight never exceed the slots.
      REQUIRE(cores <= c.cores);
      REQUIRE(memory <= c.memory);
    }
  }
};

}  // namespace

TEST_CASE("A task goes only to a worker with the cores, GPUs, memory and tags it asks for") {
  CheckedScheduler s = Make({{1, Needs(4)},
                             {1, Needs(1, 1)},
                             {1, Needs(1, 0, 10ull << 30)},
                             {1, Needs(1, 0, 0, {"fast"})},
                             {1, Needs(1, 0, 0, {"node:n3"})}});
  s.AddWorker(1, Capacity(2, 0, 8ull << 30, {"node:n1"}));
  s.AddWorker(2, Capacity(4, 0, 8ull << 30, {"node:n2"}));
  s.AddWorker(3, Capacity(2, 1, 16ull << 30, {"fast", "node:n3"}));
  std::map<std::uint64_t, int> where;
  for (const auto& a : s.Assign(0)) where[a.index] = a.worker;
  // The 10G task fits only on worker 3, beside the GPU task; task 3 (tags fast) and task 4
  // (node n3) could run only there too, which is now full: they wait, and 3 reserves it.
  CHECK(where == std::map<std::uint64_t, int>{{0, 2}, {1, 3}, {2, 3}});
  CHECK(s.Held() == 2);
  s.OnResult({3, 1, 1, Outcome::kSucceeded, 0, 1000.0}, 0);
  auto next = s.Assign(0);
  REQUIRE(next.size() == 1);
  CHECK(next[0].index == 3);
  CHECK(next[0].worker == 3);
  s.OnResult({3, 2, 1, Outcome::kSucceeded, 0, 1000.0}, 0);
  next = s.Assign(0);
  REQUIRE(next.size() == 1);
  CHECK(next[0].index == 4);
  CHECK(next[0].worker == 3);
}

TEST_CASE("Tasks with tags wait for a worker with those tags, however idle the others") {
  CheckedScheduler s = Make({{4, Needs(0, 0, 0, {"fast"})}});
  s.AddWorker(1, Capacity(4));
  s.AddWorker(2, Capacity(1, 0, 1ull << 30, {"fast", "node:b"}));
  auto first = s.Assign(0);
  REQUIRE(first.size() == 1);
  CHECK(first[0].worker == 2);
  CHECK(s.Assign(0).empty());
  s.OnResult({2, first[0].index, 1, Outcome::kSucceeded, 0, 1000.0}, 0);
  auto second = s.Assign(0);
  REQUIRE(second.size() == 1);
  CHECK(second[0].worker == 2);
}

TEST_CASE("Two tasks never share a GPU, and each gets ids of its worker") {
  CheckedScheduler s = Make({{40, Needs(1, 1)}, {20, Needs(2, 2)}, {40, Needs(1)}});
  Sim sim(s);
  sim.shuffle = true;
  sim.needs_of = [&](std::uint64_t i) {
    return i < 40 ? Needs(1, 1) : i < 60 ? Needs(2, 2) : Needs(1);
  };
  sim.Add(1, Capacity(4, 2));
  sim.Add(2, Capacity(8, 3));
  sim.Add(3, Capacity(4, 0));
  sim.Run();  // Verify: GPU ids distinct and within the worker's count at every step
  for (const auto& a : sim.order) {
    const std::size_t wanted = a.index < 40 ? 1 : a.index < 60 ? 2 : 0;
    CHECK(a.gpus.size() == wanted);
    if (wanted > 0) CHECK(a.worker != 3);
  }
}

TEST_CASE("A 4-core task never shares a 4-slot worker with another task") {
  // Small and big tasks interleaved, results in random order.
  CheckedScheduler s =
      Make({{10, Needs(0)}, {5, Needs(4)}, {10, Needs(0)}, {5, Needs(4)}, {10, Needs(1)}});
  Sim sim(s);
  sim.shuffle = true;
  sim.needs_of = [](std::uint64_t i) {
    return (i >= 10 && i < 15) || (i >= 25 && i < 30) ? Needs(4) : Needs(1);
  };
  sim.Add(1, Capacity(4));
  sim.Add(2, Capacity(4));
  sim.check = [](const std::vector<Sim::Running>& running) {
    for (const auto& big : running) {
      if (big.cores != 4) continue;
      for (const auto& other : running) {
        if (&other != &big) REQUIRE(other.worker != big.worker);
      }
    }
  };
  sim.Run();
  CHECK(sim.order.size() == 40);
}

TEST_CASE("Memory asked for is counted: tasks of 3G run at most two at once on 8G") {
  CheckedScheduler s = Make({{10, Needs(1, 0, 3ull << 30)}});
  Sim sim(s);
  sim.needs_of = [](std::uint64_t) { return Needs(1, 0, 3ull << 30); };
  sim.Add(1, Capacity(16, 0, 8ull << 30));
  std::size_t most = 0;
  sim.check = [&](const std::vector<Sim::Running>& running) {
    most = std::max(most, running.size());
  };
  sim.Run();
  CHECK(most == 2);
}

TEST_CASE("A big task waiting for cores is not starved by small tasks behind it") {
  // One 4-slot worker: 3 small tasks run, then the 4-core task's turn comes. Small tasks behind
  // it must not take the cores the running ones free.
  CheckedScheduler s = Make({{3, Needs(0)}, {1, Needs(4)}, {20, Needs(0)}});
  Sim sim(s);
  sim.needs_of = [](std::uint64_t i) { return i == 3 ? Needs(4) : Needs(1); };
  sim.Add(1, Capacity(4));
  sim.Run();
  std::vector<std::uint64_t> order;
  for (const auto& a : sim.order) order.push_back(a.index);
  const auto big = std::find(order.begin(), order.end(), 3u);
  REQUIRE(big != order.end());
  CHECK(std::all_of(order.begin(), big, [](std::uint64_t i) { return i < 3; }));
}

TEST_CASE("While a big task waits for one worker, the tasks behind it run on the others") {
  // Worker 1 has the only GPU: GPU tasks queue for it, CPU tasks behind them run on worker 2.
  CheckedScheduler s = Make({{3, Needs(1, 1)}, {4, Needs(0)}});
  s.AddWorker(1, Capacity(2, 1));
  s.AddWorker(2, Capacity(2, 0));
  auto first = s.Assign(0);
  std::map<std::uint64_t, int> where;
  for (const auto& a : first) where[a.index] = a.worker;
  // Task 0 has the GPU; task 1 waits for it and reserves its core on worker 1; worker 2 takes
  // two CPU tasks. Nothing else fits: worker 1's second core is set aside for task 1.
  CHECK(where == std::map<std::uint64_t, int>{{0, 1}, {3, 2}, {4, 2}});
  CHECK(s.Held() >= 1);
  s.OnResult({1, 0, 1, Outcome::kSucceeded, 0, 1000.0}, 0);
  auto second = s.Assign(0);
  REQUIRE(!second.empty());
  CHECK(second[0].index == 1);
  CHECK(second[0].worker == 1);
  CHECK(second[0].gpus == std::vector<int>{0});
}

TEST_CASE("A task that takes more than one core is never queued where it cannot start") {
  // Short tasks earn worker 1 a prefetch queue; a 2-core task is given only when its cores are
  // free counting everything queued there.
  CheckedScheduler s = Make({{200, Needs(0)}, {1, Needs(2)}, {50, Needs(0)}});
  s.AddWorker(1, Capacity(2));
  int in_flight_cores = 0;
  std::vector<Scheduler::Assignment> flight;
  bool big_given = false;
  for (int round = 0; round < 1000 && !s.Finished(); ++round) {
    for (const auto& a : s.Assign(0)) {
      if (a.index == 200) {
        CHECK(in_flight_cores + 2 <= 2);
        big_given = true;
      }
      in_flight_cores += a.index == 200 ? 2 : 1;
      flight.push_back(a);
    }
    if (flight.empty()) continue;
    const auto a = flight.front();
    flight.erase(flight.begin());
    in_flight_cores -= a.index == 200 ? 2 : 1;
    s.OnResult({1, a.index, 1, Outcome::kSucceeded, 0, 1.0}, 0);
  }
  CHECK(big_given);
  CHECK(s.Finished());
}

TEST_CASE("Tasks asking for nothing keep the plain path and its prefetch") {
  CheckedScheduler s = Make({{100, Needs(0)}, {100, ResourceNeeds{}}});
  s.AddWorker(1, Capacity(2));
  REQUIRE(s.Assign(0).size() == 2);
  s.OnResult({1, 0, 1, Outcome::kSucceeded, 0, 1.0}, 0);
  CHECK(s.Assign(0).size() == 2);  // one free slot plus one of prefetch
  CHECK(!s.GroupFittingNowhere());
}

TEST_CASE("A retried GPU task goes to another worker with a GPU") {
  CheckedScheduler s = Make({{1, Needs(1, 1)}});
  s.AddWorker(1, Capacity(2, 1));
  s.AddWorker(2, Capacity(2, 0));
  s.AddWorker(3, Capacity(2, 1));
  auto first = s.Assign(0);
  REQUIRE(first.size() == 1);
  CHECK(first[0].worker == 1);
  REQUIRE(s.OnResult({1, 0, 1, Outcome::kFailed, 2, 5.0}, 0) == Scheduler::Verdict::kRetrying);
  auto second = s.Assign(10);
  REQUIRE(second.size() == 1);
  CHECK(second[0].worker == 3);
  CHECK(second[0].attempt == 2);
}

TEST_CASE("The only worker that could run some tasks is never retired") {
  // Worker 1 has the only GPU. Its CPU task fails and then succeeds on worker 2: at
  // max_worker_failures 1 that would retire it, and the GPU tasks could then run nowhere.
  CheckedScheduler s = Make({{2, Needs(0)}, {2, Needs(1, 1)}}, /*max_worker_failures=*/1);
  s.AddWorker(1, Capacity(1, 1));
  s.AddWorker(2, Capacity(1, 0));
  const auto first = s.Assign(0);
  REQUIRE(first.size() == 2);
  REQUIRE(first[0].index == 0);
  REQUIRE(first[0].worker == 1);
  CHECK(s.OnResult({1, 0, 1, Outcome::kFailed, 1, 1000.0}, 0) == Scheduler::Verdict::kRetrying);
  CHECK(s.OnResult({2, 1, 1, Outcome::kSucceeded, 0, 1000.0}, 0) == Scheduler::Verdict::kFinal);
  const auto retry = s.Assign(0);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].worker == 2);
  CHECK(s.OnResult({2, 0, 2, Outcome::kSucceeded, 1, 1000.0}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.RetiredWorkers().empty());
  // Worker 1 is suspended, its verdict in; the GPU tasks still go to it, one at a time.
  for (std::uint64_t gpu_task = 2; gpu_task < 4; ++gpu_task) {
    const auto next = s.Assign(0);
    REQUIRE(next.size() == 1);
    CHECK(next[0].index == gpu_task);
    CHECK(next[0].worker == 1);
    CHECK(s.OnResult({1, gpu_task, 1, Outcome::kSucceeded, 0, 1000.0}, 0) ==
          Scheduler::Verdict::kFinal);
  }
  CHECK(s.Finished());
}

TEST_CASE("Tasks that only suspended workers could run still go to them") {
  // The GPU tasks fail on worker 1, the only one with a GPU, twice in a row: it is suspended,
  // but no other worker could run them, so they keep going to it rather than wait for ever.
  CheckedScheduler s = Make({{6, Needs(1, 1)}, {4, Needs(0)}}, /*max_worker_failures=*/2);
  s.AddWorker(1, Capacity(2, 1));
  s.AddWorker(2, Capacity(2, 0));
  int gpu_attempts = 0;
  for (int round = 0; round < 100 && !s.Finished(); ++round) {
    for (const auto& a : s.Assign(0)) {
      const bool gpu = a.index < 6;
      if (gpu) {
        CHECK(a.worker == 1);
        ++gpu_attempts;
      }
      s.OnResult(
          {a.worker, a.index, a.attempt, gpu ? Outcome::kFailed : Outcome::kSucceeded, 0, 1000.0},
          0);
    }
  }
  CHECK(s.Finished());
  CHECK(gpu_attempts == 6);
  CHECK(s.FinalCount(Outcome::kFailed) == 6);
  CHECK(s.FinalCount(Outcome::kSucceeded) == 4);
}

TEST_CASE("A task that fits on no worker is found, and the message names what it asks") {
  CheckedScheduler s = Make({{5, Needs(0)}, {2, Needs(8, 1)}, {1, Needs(1, 0, 0, {"bigmem"})}});
  s.AddWorker(1, Capacity(4, 0, 8ull << 30, {"node:a"}));
  s.AddWorker(2, Capacity(2, 2, 16ull << 30, {"node:b"}));
  REQUIRE(s.GroupFittingNowhere() == std::optional<std::size_t>(1));
  const auto why = jobrunner::WhyNoWorkerFits(s.NeedsOf(1), s.Capacities());
  REQUIRE(why);
  CHECK(*why ==
        "it asks for 8 cores, 1 GPU, which no worker has; the largest worker has 4 cores (slots), "
        "0 GPUs, 8G memory, tags node:a");
  const auto tags = jobrunner::WhyNoWorkerFits(s.NeedsOf(2), s.Capacities());
  REQUIRE(tags);
  CHECK(tags->find("(no worker has tag bigmem; see --worker-tags)") != std::string::npos);
  CHECK(!jobrunner::WhyNoWorkerFits(Needs(2, 2), s.Capacities()));
}

TEST_CASE("GPU ids are shared out among the workers of a host, never twice") {
  const std::vector<std::vector<std::string>> ids = jobrunner::GpusPerWorker({
      GpuReport{"a", {"0", "1", "2", "3"}, 0},
      GpuReport{"a", {"0", "1", "2", "3"}, 0},
      GpuReport{"b", {"5"}, 0},
      GpuReport{"c", {}, 2},
      GpuReport{"c", {}, 2},
      GpuReport{"d", {"7"}, 0},
      GpuReport{"d", {"8"}, 0},
  });
  using V = std::vector<std::string>;
  CHECK(ids == std::vector<V>{{"0", "1"}, {"2", "3"}, {"5"}, {"0", "1"}, {"2", "3"}, {"7"}, {"8"}});
}

TEST_CASE("CUDA_VISIBLE_DEVICES and tag lists are read as CUDA and users write them") {
  using V = std::vector<std::string>;
  CHECK(jobrunner::ParseVisibleDevices("0,1, 3") == V{"0", "1", "3"});
  CHECK(jobrunner::ParseVisibleDevices("GPU-5f3e,GPU-77a0") == V{"GPU-5f3e", "GPU-77a0"});
  CHECK(jobrunner::ParseVisibleDevices("").empty());
  CHECK(jobrunner::ParseVisibleDevices("NoDevFiles").empty());
  CHECK(jobrunner::ParseVisibleDevices("2,-1,3") == V{"2"});
  std::string error;
  CHECK(jobrunner::ParseTagList("gpu, fast", error) == std::optional<V>(V{"gpu", "fast"}));
  CHECK(!jobrunner::ParseTagList("gpu,,fast", error));
  CHECK(error.find("empty tag") != std::string::npos);
}

namespace {
std::string ManifestError(const std::string& yaml) {
  try {
    jobrunner::ParseManifest(yaml, "m.yaml");
  } catch (const jobrunner::ManifestError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("A manifest's resource fields are read, and bad ones are errors at their place") {
  const jobrunner::Manifest m = jobrunner::ParseManifest(R"(
version: 1
tasks:
  - id: a
    command: x
    cores: 4
    gpus: 1
    memory: 8G
    tags: [fast, ssd]
    node: n7
  - id: b
    command: x
)",
                                                         "m.yaml");
  const ResourceNeeds& a = m.entries[0].needs;
  CHECK(a.cores == 4);
  CHECK(a.gpus == 1);
  CHECK(a.memory == 8ull << 30);
  CHECK(a.tags == std::vector<std::string>{"fast", "ssd", "node:n7"});
  CHECK(m.entries[1].needs.Default());

  const std::string head = "version: 1\ntasks:\n  - id: a\n    command: x\n";
  CHECK(ManifestError(head + "    cores: 0\n") ==
        "m.yaml:5:12: cores 0 is out of range; expected an integer from 1 to 4096");
  CHECK(ManifestError(head + "    gpus: many\n").find("m.yaml:5:11: ") == 0);
  CHECK(ManifestError(head + "    memory: 8Q\n") ==
        "m.yaml:5:13: bad size '8Q' for memory: expected a number with an optional unit, like "
        "512M, 8G or 1T");
  CHECK(ManifestError(head + "    tags: [\"a,b\"]\n") ==
        "m.yaml:5:12: bad tag 'a,b'; expected a non-empty name without commas or spaces");
  CHECK(ManifestError("version: 1\ntasks:\n  - id: a\n    kind: noop\n    gpus: 1\n")
            .find("m.yaml:5:5: gpus needs a command, or a kind with isolate: true") == 0);
}
