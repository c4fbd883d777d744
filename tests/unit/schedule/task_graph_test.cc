#include "schedule/task_graph.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "checked_scheduler.h"
#include "manifest/task_graph_builder.h"
#include "manifest/task_source.h"
#include "schedule/scheduler.h"
#include "temp_dir.h"

using jobrunner::BuildTaskGraph;
using jobrunner::ManifestError;
using jobrunner::Outcome;
using jobrunner::ParseManifest;
using jobrunner::Scheduler;
using jobrunner::TaskGraph;
using jobrunner::TaskSource;
using jobrunner::testing::CheckedScheduler;
using jobrunner::testing::CheckedTaskGraph;

namespace {

using Tasks = std::vector<std::uint64_t>;
using Edge = TaskGraph::Edge;

// One group of size 1 per task, all of priority 0: each task is its own manifest entry.
std::vector<TaskGraph::Group> Singles(std::uint64_t n) {
  return std::vector<TaskGraph::Group>(n, TaskGraph::Group{1, 0});
}

// Everything ready now, taken in order. A CheckedTaskGraph checks its invariants at every step;
// the tests of ten thousand tasks take a TaskGraph and check them every so often instead, as a
// check per step would cost O(tasks) each.
template <class Graph>
Tasks TakeReady(Graph& g) {
  Tasks out;
  while (auto t = g.Next()) out.push_back(*t);
  return out;
}

// Runs the graph to its end with every task succeeding, one task at a time: the order tasks ran.
Tasks RunAll(CheckedTaskGraph& g) {
  Tasks order;
  while (auto t = g.Next()) {
    order.push_back(*t);
    g.OnSucceeded(*t);
  }
  return order;
}

TaskSource Source(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return TaskSource(ParseManifest(std::string(yaml), "m.yaml"), "/base");
}

std::string GraphError(std::string_view yaml) {
  try {
    BuildTaskGraph(Source(yaml));
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Without dependencies or priorities tasks come in index order") {
  CheckedTaskGraph g(5);
  CHECK(g.cycle().empty());
  CHECK(TakeReady(g) == Tasks{0, 1, 2, 3, 4});
  CHECK(g.Exhausted());
}

TEST_CASE("A diamond runs its top, then both sides, then its bottom") {
  // 0 <- 1, 0 <- 2, {1, 2} <- 3
  CheckedTaskGraph g(Singles(4), {Edge{1, 0}, Edge{2, 0}, Edge{3, 1}, Edge{3, 2}});
  REQUIRE(g.cycle().empty());
  CHECK(TakeReady(g) == Tasks{0});
  g.OnSucceeded(0);
  CHECK(TakeReady(g) == Tasks{1, 2});
  g.OnSucceeded(2);
  CHECK(TakeReady(g).empty());
  CHECK_FALSE(g.Exhausted());
  g.OnSucceeded(1);
  CHECK(TakeReady(g) == Tasks{3});
  CHECK(g.Exhausted());
}

TEST_CASE("A chain of ten thousand tasks runs one at a time in order") {
  constexpr std::uint64_t n = 10'000;
  std::vector<Edge> edges;
  // Declared in reverse, so that index order alone would be wrong: task i depends on i + 1.
  for (std::uint64_t i = 0; i + 1 < n; ++i) edges.push_back(Edge{i, i + 1});
  TaskGraph g(Singles(n), edges);
  REQUIRE(g.cycle().empty());
  for (std::uint64_t expected = n; expected-- > 0;) {
    const auto ready = TakeReady(g);
    REQUIRE(ready == Tasks{expected});
    g.OnSucceeded(expected);
    if (expected % 1000 == 0) g.CheckInvariants();
  }
  CHECK(g.Exhausted());
}

TEST_CASE("Ten thousand tasks fan in to one that waits for the last of them") {
  constexpr std::uint64_t n = 10'000;
  SECTION("as one dependency per task") {
    std::vector<Edge> edges;
    for (std::uint64_t i = 0; i < n; ++i) edges.push_back(Edge{n, i});
    TaskGraph g(Singles(n + 1), edges);
    Tasks first = TakeReady(g);
    g.CheckInvariants();
    CHECK(first.size() == n);
    for (std::uint64_t i = 0; i + 1 < n; ++i) {
      g.OnSucceeded(first[i]);
      if (i % 1000 == 0) g.CheckInvariants();
    }
    CHECK(TakeReady(g).empty());
    g.CheckInvariants();
    g.OnSucceeded(first.back());
    CHECK(TakeReady(g) == Tasks{n});
    g.CheckInvariants();
  }
  SECTION("as a dependency on the whole group") {
    CheckedTaskGraph g({TaskGraph::Group{n, 0}, TaskGraph::Group{1, 0}},
                       {Edge{n, 0, /*on_group=*/true}});
    Tasks first = TakeReady(g);
    CHECK(first.size() == n);
    for (std::uint64_t i = 0; i + 1 < n; ++i) g.OnSucceeded(first[i]);
    CHECK(TakeReady(g).empty());
    g.OnSucceeded(first.back());
    CHECK(TakeReady(g) == Tasks{n});
    CHECK(g.Exhausted());
  }
}

TEST_CASE("A failure skips its transitive dependents and nothing else") {
  // 0 <- 1 <- 2, 0 <- 3, and 4 <- 5 independent of them; 6 depends on 1 and on 4.
  CheckedTaskGraph g(Singles(7),
                     {Edge{1, 0}, Edge{2, 1}, Edge{3, 0}, Edge{5, 4}, Edge{6, 1}, Edge{6, 4}});
  CHECK(TakeReady(g) == Tasks{0, 4});
  g.OnSucceeded(4);
  CHECK(TakeReady(g) == Tasks{5});
  g.OnFailed(0);
  const std::vector<TaskGraph::Skip> skipped = g.TakeSkipped();
  std::vector<std::uint64_t> tasks;
  for (const auto& s : skipped) tasks.push_back(s.task);
  std::sort(tasks.begin(), tasks.end());
  CHECK(tasks == Tasks{1, 2, 3, 6});
  for (const auto& s : skipped) {
    CHECK(s.root == 0);
    if (s.task == 1 || s.task == 3) CHECK(s.cause == 0);
    if (s.task == 2 || s.task == 6) CHECK(s.cause == 1);
  }
  CHECK(g.TakeSkipped().empty());
  g.OnSucceeded(5);
  CHECK(TakeReady(g).empty());
  CHECK(g.Exhausted());
}

TEST_CASE("A failure in a group skips what depends on the whole group, once") {
  CheckedTaskGraph g({TaskGraph::Group{3, 0}, TaskGraph::Group{1, 0}}, {Edge{3, 0, true}});
  CHECK(TakeReady(g) == Tasks{0, 1, 2});
  g.OnFailed(1);
  g.OnFailed(2);
  const auto skipped = g.TakeSkipped();
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].task == 3);
  CHECK(skipped[0].cause == 1);
  g.OnSucceeded(0);
  CHECK(g.Exhausted());
}

TEST_CASE("Higher priority goes first and equal priorities keep manifest order") {
  CheckedTaskGraph g({{2, 0}, {2, 5}, {1, -1}, {2, 5}}, {});
  // Groups: 0-1 (0), 2-3 (5), 4 (-1), 5-6 (5).
  CHECK(TakeReady(g) == Tasks{2, 3, 5, 6, 0, 1, 4});
}

TEST_CASE("A task released by its dependencies takes its place by priority among ready tasks") {
  // Group 0: tasks 0-3, priority 0. Task 4: priority 9, depends on task 0. Task 5: priority 0,
  // depends on task 0 too, and comes after every task of group 0 in manifest order.
  CheckedTaskGraph g({{4, 0}, {1, 9}, {1, 0}}, {Edge{4, 0}, Edge{5, 0}});
  CHECK(g.Next() == 0u);
  g.OnSucceeded(0);
  CHECK(TakeReady(g) == Tasks{4, 1, 2, 3, 5});
}

TEST_CASE("A cycle is found and named, each node depending on the next") {
  // 0 <- 1 <- 2 <- 0, and 3 depends on the cycle without being on it.
  CheckedTaskGraph g(Singles(4), {Edge{0, 2}, Edge{1, 0}, Edge{2, 1}, Edge{3, 1}});
  const auto& cycle = g.cycle();
  REQUIRE(cycle.size() == 3);
  for (std::size_t i = 0; i < cycle.size(); ++i) {
    const TaskGraph::Node& node = cycle[i];
    const TaskGraph::Node& next = cycle[(i + 1) % cycle.size()];
    CHECK_FALSE(node.group);
    // node depends on next: 0 on 2, 1 on 0, 2 on 1.
    CHECK(next.index == (node.index + 2) % 3);
  }
}

TEST_CASE("A task depending on itself, or on its own group, is a cycle") {
  CHECK(CheckedTaskGraph(Singles(2), {Edge{1, 1}}).cycle() ==
        std::vector<TaskGraph::Node>{{1, false}});
  CheckedTaskGraph own({{2, 0}}, {Edge{0, 0, true}, Edge{1, 0, true}});
  CHECK(own.cycle().size() == 2);
}

TEST_CASE("On resume, earlier successes count as done and earlier failures skip again") {
  // 0 <- 2, 1 <- 3, 2 <- 4: 0 succeeded earlier, 1 failed for good, 2 was skipped (re-evaluated).
  CheckedTaskGraph g(Singles(5), {Edge{2, 0}, Edge{3, 1}, Edge{4, 2}});
  g.Resume({true, true, false, false, false}, {1});
  const auto skipped = g.TakeSkipped();
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].task == 3);
  CHECK(TakeReady(g) == Tasks{2});
  g.OnSucceeded(2);
  CHECK(TakeReady(g) == Tasks{4});
  CHECK(g.Exhausted());
}

TEST_CASE("The scheduler counts skipped tasks as final and finishes") {
  CheckedTaskGraph g(Singles(3), {Edge{1, 0}, Edge{2, 1}});
  CheckedScheduler s(std::move(g), Scheduler::Options{});
  s.AddWorker(1, 2);
  auto given = s.Assign(0);
  REQUIRE(given.size() == 1);
  CHECK(s.OnResult({1, 0, 1, Outcome::kFailed, 0, 1.0}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.TakeSkipped().size() == 2);
  CHECK(s.FinalCount(Outcome::kSkipped) == 2);
  CHECK(s.Assign(0).empty());
  CHECK(s.Finished());
}

TEST_CASE("A manifest's depends_on names one task per task of a matrix entry") {
  TaskSource source = Source(R"(
version: 1
tasks:
  - id: build-{n}
    command: x
    depends_on: ["prep-{n}"]
    matrix: {n: [a, b]}
  - id: prep-{n}
    command: x
    matrix: {n: [b, a]}
)");
  CheckedTaskGraph g(BuildTaskGraph(source));
  // prep-b is task 2, prep-a task 3; build-a (0) waits for prep-a, build-b (1) for prep-b.
  CHECK(TakeReady(g) == Tasks{2, 3});
  g.OnSucceeded(3);
  CHECK(TakeReady(g) == Tasks{0});
}

TEST_CASE("An entry's id as written in depends_on stands for every task of that entry") {
  TaskSource source = Source(R"(
version: 1
tasks:
  - id: part-{n}
    command: x
    matrix: {n: {range: [0, 3]}}
  - id: report
    command: x
    depends_on: ["part-{n}"]
)");
  CheckedTaskGraph g(BuildTaskGraph(source));
  CHECK(RunAll(g) == Tasks{0, 1, 2, 3});
}

TEST_CASE("Many entries may depend on every task of one entry, the first with that id") {
  std::string yaml = "version: 1\ntasks:\n";
  for (int i = 0; i < 1000; ++i) {
    yaml += "  - id: t" + std::to_string(i) + "\n    command: x\n    depends_on: [\"part-{n}\"]\n";
  }
  // Two entries written alike: the first is the one meant (their ids differ by their values).
  yaml += "  - id: part-{n}\n    command: x\n    matrix: {n: [0, 1]}\n";
  yaml += "  - id: part-{n}\n    command: x\n    matrix: {n: [2]}\n";
  TaskGraph g = BuildTaskGraph(Source(yaml));
  CHECK(TakeReady(g) == Tasks{1000, 1001, 1002});
  g.OnSucceeded(1000);
  g.OnSucceeded(1002);
  CHECK(TakeReady(g).empty());
  g.OnSucceeded(1001);
  CHECK(TakeReady(g).size() == 1000);
}

TEST_CASE("An unknown task id in depends_on is an error at its element") {
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a-{n}
    command: x
    matrix: {n: [1, 2]}
    depends_on: [b, "b-{n}"]
  - id: b-{n}
    command: x
    matrix: {n: [1]}
  - id: b
    command: x
)") == "m.yaml:6:21: unknown task id 'b-2' in depends_on of task 'a-2'; expected the id of a "
       "task in this manifest");
}

TEST_CASE("A placeholder in depends_on that is no matrix name nor another entry's id is an error") {
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a
    command: x
    depends_on: ["b-{m}"]
  - id: b-{n}
    command: x
    matrix: {n: [1]}
)") == "m.yaml:5:18: unknown placeholder {m} in depends_on; this task has no matrix, and no task "
       "entry has the id 'b-{m}' (another entry's id as written there stands for all of its "
       "tasks)");
}

TEST_CASE("A dependency cycle in a manifest is an error naming the tasks on it") {
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a
    command: x
    depends_on: [c]
  - id: b
    command: x
    depends_on: [a]
  - id: c
    command: x
    depends_on: [b]
)") == "m.yaml:5:18: dependency cycle: a -> c -> b -> a (each depends on the next)");
}

TEST_CASE("A manifest without depends_on builds a graph with nothing per task") {
  TaskSource source = Source(R"(
version: 1
tasks:
  - id: t-{n}
    command: x
    matrix: {n: {range: [0, 1000000]}}
  - id: urgent
    command: x
    priority: 1
)");
  CheckedTaskGraph g(BuildTaskGraph(source));
  CHECK(g.Next() == 1'000'000u);
  CHECK(g.Next() == 0u);
}

// ---- After edges and gates ------------------------------------------------------------------

namespace {

using Gate = TaskGraph::Gate;
using GateKind = TaskGraph::GateKind;

std::vector<TaskGraph::Group> Sizes(std::vector<std::uint64_t> sizes) {
  std::vector<TaskGraph::Group> groups;
  for (std::uint64_t size : sizes) groups.push_back(TaskGraph::Group{size, 0});
  return groups;
}

Tasks SkippedTasks(CheckedTaskGraph& g) {
  Tasks out;
  for (const TaskGraph::Skip& s : g.TakeSkipped()) out.push_back(s.task);
  return out;
}

}  // namespace

TEST_CASE("A task waiting after another runs once it ended, even if it failed") {
  // 1 after 0; 2 depends on 0; 3 after 2 (which is skipped).
  CheckedTaskGraph g(Singles(4), {Edge{1, 0, false, /*after=*/true}, Edge{2, 0},
                                  Edge{3, 2, false, /*after=*/true}});
  REQUIRE(g.cycle().empty());
  CHECK(TakeReady(g) == Tasks{0});
  g.OnFailed(0);
  CHECK(SkippedTasks(g) == Tasks{2});
  CHECK(TakeReady(g) == Tasks{1, 3});
  g.OnSucceeded(1);
  g.OnSucceeded(3);
  CHECK(g.Exhausted());
}

TEST_CASE("A task waiting after a whole group runs once its last task ended") {
  CheckedTaskGraph g(Sizes({3, 1}), {Edge{3, 0, /*on_group=*/true, /*after=*/true}});
  CHECK(TakeReady(g) == Tasks{0, 1, 2});
  g.OnFailed(1);
  g.OnSucceeded(0);
  CHECK(TakeReady(g).empty());
  g.OnFailed(2);
  CHECK(TakeReady(g) == Tasks{3});
  CHECK(SkippedTasks(g).empty());
}

TEST_CASE("A group behind a barrier starts once every task before it ended, whatever the outcome") {
  CheckedTaskGraph g(Sizes({2, 2}), {}, {Gate{1, 0, 1, GateKind::kAfter}});
  CHECK(TakeReady(g) == Tasks{0, 1});
  CHECK_FALSE(g.Exhausted());
  g.OnFailed(0);
  CHECK(TakeReady(g).empty());
  g.OnSucceeded(1);
  CHECK(TakeReady(g) == Tasks{2, 3});
  CHECK_FALSE(g.stopped());
}

TEST_CASE("A check gate stops the graph when a task before it failed, and opens otherwise") {
  SECTION("a failure: nothing more is handed out") {
    CheckedTaskGraph g(Sizes({2, 2, 1}), {},
                       {Gate{1, 0, 1, GateKind::kCheck}, Gate{2, 1, 2, GateKind::kAfter}});
    CHECK(TakeReady(g) == Tasks{0, 1});
    g.OnSucceeded(0);
    g.OnFailed(1);
    REQUIRE(g.stopped());
    CHECK(g.stopped()->group == 1);
    CHECK(g.stopped()->failed_task == 1);
    CHECK(TakeReady(g).empty());
    CHECK(g.Exhausted());
  }
  SECTION("no failure: the next part runs") {
    CheckedTaskGraph g(Sizes({1, 1}), {}, {Gate{1, 0, 1, GateKind::kCheck}});
    CHECK(TakeReady(g) == Tasks{0});
    g.OnSucceeded(0);
    CHECK(TakeReady(g) == Tasks{1});
    CHECK_FALSE(g.stopped());
  }
  SECTION("a failure two barriers back is not this check's") {
    CheckedTaskGraph g(Sizes({1, 1, 1}), {},
                       {Gate{1, 0, 1, GateKind::kAfter}, Gate{2, 1, 2, GateKind::kCheck}});
    CHECK(TakeReady(g) == Tasks{0});
    g.OnFailed(0);
    CHECK(TakeReady(g) == Tasks{1});
    g.OnSucceeded(1);
    CHECK(TakeReady(g) == Tasks{2});
    CHECK_FALSE(g.stopped());
  }
}

TEST_CASE("A group that needs another to succeed is skipped whole when one of its tasks fails") {
  // Group 1 (tasks 2..4) depends on all of group 0; group 2 (task 5) runs after group 1.
  CheckedTaskGraph g(Sizes({2, 3, 1}), {},
                     {Gate{1, 0, 1, GateKind::kSucceeded}, Gate{2, 1, 2, GateKind::kAfter}});
  CHECK(TakeReady(g) == Tasks{0, 1});
  g.OnSucceeded(0);
  g.OnFailed(1);
  const std::vector<TaskGraph::Skip> skipped = g.TakeSkipped();
  REQUIRE(skipped.size() == 3);
  CHECK((skipped[0].task == 2 && skipped[0].cause == 1 && skipped[0].root == 1));
  CHECK(TakeReady(g) == Tasks{5});
  g.OnSucceeded(5);
  CHECK(g.Exhausted());
}

TEST_CASE("Empty groups pass their gates on, and gated groups keep their priority once open") {
  std::vector<TaskGraph::Group> groups = {TaskGraph::Group{1, 0}, TaskGraph::Group{0, 0},
                                          TaskGraph::Group{3, 0}, TaskGraph::Group{1, 5}};
  // Tasks: 0 | none | 1 2 3 | 4. Group 1 (empty) waits for group 0, group 3 for group 1; group 2
  // is free, and group 3 has the higher priority.
  CheckedTaskGraph g(groups, {},
                     {Gate{1, 0, 1, GateKind::kAfter}, Gate{3, 1, 2, GateKind::kAfter}});
  CHECK(g.Next() == std::optional<std::uint64_t>(0));
  g.OnSucceeded(0);
  CHECK(TakeReady(g) == Tasks{4, 1, 2, 3});
}

TEST_CASE("Resuming re-judges a check gate from the tasks settled before") {
  const auto graph = [] { return TaskGraph(Sizes({2, 1}), {}, {Gate{1, 0, 1, GateKind::kCheck}}); };
  SECTION("a task that failed for good earlier stops it at once") {
    CheckedTaskGraph g(graph());
    g.Resume({true, true, false}, {1});
    CHECK(g.stopped());
    CHECK(TakeReady(g).empty());
  }
  SECTION("given its retries again, the failed task runs, and then the rest") {
    CheckedTaskGraph g(graph());
    g.Resume({true, false, false}, {});
    CHECK(TakeReady(g) == Tasks{1});
    g.OnSucceeded(1);
    CHECK(TakeReady(g) == Tasks{2});
  }
}

TEST_CASE("A command list's barriers become gates, and {entry: ...} names a whole entry") {
  jobrunner::testing::TempDir dir;
  std::ofstream(dir / "cmds.txt") << "a\nb\n#DISBATCH BARRIER CHECK\nc\n";
  std::ofstream(dir / "m.yaml") << R"(version: 1
tasks:
  - id: prep-{n}
    command: x
    matrix: {n: [1, 2]}
  - id: list
    tasks_from: cmds.txt
    after: [{entry: prep}]
  - id: last-{n}
    command: x
    matrix: {n: [1]}
    depends_on: [{entry: "prep-{n}"}]
)";
  const TaskSource source(jobrunner::LoadManifest(dir / "m.yaml"), "/base");
  REQUIRE(source.groups().size() == 4);
  CheckedTaskGraph g(BuildTaskGraph(source));
  CHECK(TakeReady(g) == Tasks{0, 1});
  g.OnFailed(0);
  g.OnSucceeded(1);
  CHECK(TakeReady(g) == Tasks{2, 3});  // the list's first part; last-1 is skipped
  CHECK(SkippedTasks(g) == Tasks{5});
  g.OnFailed(2);
  g.OnSucceeded(3);
  CHECK(g.stopped());
  CHECK(g.stopped()->failed_task == 2);
}

TEST_CASE("An {entry: ...} that names no entry, several, itself, or closes a cycle is an error") {
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a
    command: x
    after: [{entry: b}]
)") == "m.yaml:5:21: no entry has the id 'b' in {entry: b} of after; expected an entry's id as "
       "written there, or without its placeholders");
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a
    command: x
    after: [{entry: a}]
)") == "m.yaml:5:21: {entry: a} names this entry itself; an entry cannot wait for all of its "
       "own tasks");
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a-{n}
    command: x
    matrix: {n: [1]}
  - id: a-{m}
    command: x
    matrix: {m: [2]}
  - id: c
    command: x
    depends_on: [{entry: a}]
)") == "m.yaml:11:26: {entry: a} in depends_on names more than one entry (a-{n} and a-{m}); "
       "write the id as it is written there");
  CHECK(GraphError(R"(
version: 1
tasks:
  - id: a
    command: x
    after: [{entry: b}]
  - id: b-{n}
    command: x
    matrix: {n: [1]}
    depends_on: [a]
)") == "m.yaml:5:21: dependency cycle: every task of a -> every task of b-{n} -> every task of "
       "a (each waits for the next)");
}

TEST_CASE("The scheduler counts a whole group skipped by a success that ends its gate's group") {
  // Group 1 needs all of group 0 to succeed; task 0 fails first, and task 1's success is what
  // ends group 0.
  CheckedScheduler s(TaskGraph(Sizes({2, 2}), {}, {Gate{1, 0, 1, GateKind::kSucceeded}}),
                     Scheduler::Options{});
  s.AddWorker(1, 2);
  REQUIRE(s.Assign(0).size() == 2);
  CHECK(s.OnResult({1, 0, 1, Outcome::kFailed, 0, 1.0}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.TakeSkipped().empty());
  CHECK(s.OnResult({1, 1, 1, Outcome::kSucceeded, 0, 1.0}, 0) == Scheduler::Verdict::kFinal);
  CHECK(s.TakeSkipped().size() == 2);
  CHECK(s.FinalCount(Outcome::kSkipped) == 2);
  CHECK(s.Assign(0).empty());
  CHECK(s.Finished());
}
