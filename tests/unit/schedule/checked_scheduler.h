#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "schedule/scheduler.h"
#include "schedule/task_graph.h"

namespace jobrunner::testing {

// A Scheduler that checks its invariants after every step: each call that changes the state is
// followed by CheckInvariants, and Assign also checks that nothing goes to a retired worker. Tests
// drive it as they would a Scheduler; its steps hide the Scheduler's, so it must not be passed on
// as a Scheduler&.
class CheckedScheduler : public Scheduler {
 public:
  CheckedScheduler(std::uint64_t task_count, Options options) : Scheduler(task_count, options) {
    CheckInvariants();
  }
  CheckedScheduler(TaskGraph graph, Options options) : Scheduler(std::move(graph), options) {
    CheckInvariants();
  }

  void Resume(ResumePoint point) {
    Scheduler::Resume(std::move(point));
    CheckInvariants();
  }
  void SetNeeds(std::vector<ResourceNeeds> needs) {
    Scheduler::SetNeeds(std::move(needs));
    CheckInvariants();
  }
  void AddWorker(int worker, int slots) {
    Scheduler::AddWorker(worker, slots);
    CheckInvariants();
  }
  void AddWorker(int worker, const WorkerCapacity& capacity) {
    Scheduler::AddWorker(worker, capacity);
    CheckInvariants();
  }
  std::vector<Assignment> Assign(std::int64_t now_ms) {
    std::vector<Assignment> given = Scheduler::Assign(now_ms);
    CheckInvariants();
    const std::vector<int>& retired = RetiredWorkers();
    for (const Assignment& a : given) {
      INFO("task " << a.index << " was given to worker " << a.worker);
      REQUIRE(std::find(retired.begin(), retired.end(), a.worker) == retired.end());
    }
    return given;
  }
  Verdict OnResult(const AttemptEnded& ended, std::int64_t now_ms) {
    const Verdict verdict = Scheduler::OnResult(ended, now_ms);
    CheckInvariants();
    return verdict;
  }
  std::vector<TaskGraph::Skip> TakeSkipped() {
    std::vector<TaskGraph::Skip> skipped = Scheduler::TakeSkipped();
    CheckInvariants();
    return skipped;
  }
};

// A TaskGraph that checks its invariants after every step, like CheckedScheduler.
class CheckedTaskGraph : public TaskGraph {
 public:
  explicit CheckedTaskGraph(std::uint64_t task_count) : TaskGraph(task_count) { CheckInvariants(); }
  CheckedTaskGraph(std::vector<Group> groups, std::vector<Edge> edges, std::vector<Gate> gates = {})
      : TaskGraph(std::move(groups), std::move(edges), std::move(gates)) {
    CheckInvariants();
  }
  explicit CheckedTaskGraph(TaskGraph graph) : TaskGraph(std::move(graph)) { CheckInvariants(); }

  void Resume(std::vector<bool> settled, std::vector<std::uint64_t> failed) {
    TaskGraph::Resume(std::move(settled), std::move(failed));
    CheckInvariants();
  }
  std::optional<std::uint64_t> Next() {
    const std::optional<std::uint64_t> next = TaskGraph::Next();
    CheckInvariants();
    return next;
  }
  void OnSucceeded(std::uint64_t task) {
    TaskGraph::OnSucceeded(task);
    CheckInvariants();
  }
  void OnFailed(std::uint64_t task) {
    TaskGraph::OnFailed(task);
    CheckInvariants();
  }
  std::vector<Skip> TakeSkipped() {
    std::vector<Skip> skipped = TaskGraph::TakeSkipped();
    CheckInvariants();
    return skipped;
  }
};

}  // namespace jobrunner::testing
