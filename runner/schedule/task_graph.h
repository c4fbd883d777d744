#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

namespace jobrunner {

// Which tasks may start now, and in which order. Pure: tasks are indices, and results come in as
// calls, so the scheduler consults it alike in a live run, on --resume and in tests.
//
// Tasks come in groups of consecutive indices (a manifest entry each), each with a priority.
// A task is ready once every task it depends on has succeeded; among ready tasks the higher
// priority goes first, and equal priorities keep index order. When a task fails for good, every
// task that depends on it, directly or through others, is skipped.
//
// Cost: a group whose tasks depend on nothing is walked by a cursor, so without dependencies the
// graph holds nothing per task (and without priorities it hands out 0, 1, 2, ... as before).
// A group whose tasks have dependencies keeps 4 bytes and a bit per task, and each dependency
// 16 bytes, so memory is proportional to the edges.
class TaskGraph {
 public:
  // Consecutive tasks declared together: a manifest entry.
  struct Group {
    std::uint64_t size = 0;
    int priority = 0;
  };
  // `task` may start only once `on` has succeeded: a task, or with `on_group`, every task of
  // group `on` (one edge, however large the group).
  struct Edge {
    std::uint64_t task = 0;
    std::uint64_t on = 0;
    bool on_group = false;
  };
  // A task, or a whole group: one step of a dependency cycle.
  struct Node {
    std::uint64_t index = 0;
    bool group = false;
    bool operator==(const Node& o) const { return index == o.index && group == o.group; }
  };
  // A task that will not run because `cause`, one of its dependencies (a task, or a task of a
  // group it depends on), failed for good or was skipped itself; `root` is the task that failed.
  struct Skip {
    std::uint64_t task = 0;
    std::uint64_t cause = 0;
    std::uint64_t root = 0;
  };

  // `task_count` tasks in one group, no dependencies: handed out in index order.
  explicit TaskGraph(std::uint64_t task_count = 0);
  // `groups` cover the tasks in index order. Edges naming a task or group out of range are
  // ignored; duplicates count once. Check cycle() before use: a graph with a cycle never ends.
  TaskGraph(std::vector<Group> groups, std::vector<Edge> edges);

  // Empty when the dependencies form no cycle; otherwise the nodes of one cycle, each depending
  // on the next and the last on the first.
  const std::vector<Node>& cycle() const { return cycle_; }

  std::uint64_t task_count() const { return task_count_; }
  std::size_t group_count() const { return groups_.size(); }
  std::uint64_t GroupOf(std::uint64_t task) const;

  // For --resume, before the first Next: tasks marked in `settled` are never handed out; those
  // among them that are listed in `failed` (failed for good) skip their dependents, the others
  // count as succeeded.
  void Resume(std::vector<bool> settled, std::vector<std::uint64_t> failed);

  // Takes the best ready task, or nullopt when none is ready now.
  std::optional<std::uint64_t> Next();
  // Every task has been handed out, skipped or settled: nothing is left to wait for.
  bool Exhausted() const {
    return cursor_group_ == order_.size() && ready_.empty() && waiting_ == 0;
  }

  // A task handed out by Next ended for good.
  void OnSucceeded(std::uint64_t task);
  void OnFailed(std::uint64_t task);
  // The tasks skipped since the last call, in the order they were skipped.
  std::vector<Skip> TakeSkipped();

  // Tasks not yet handed out, skipped or settled. Walks the groups (and the settled tasks when
  // resuming): for checks, not for every step of a run.
  std::uint64_t Remaining() const;

  // Throws std::logic_error naming the first invariant that does not hold: the groups cover the
  // tasks; every group is walked by the cursor (in order of priority) or has per-task state, not
  // both; the cursor is at a task of its group that is not settled; `waiting_` counts the tasks
  // with a dependency not yet met that are neither skipped nor settled; every ready task has its
  // dependencies met and is neither skipped nor settled, once; no task waits for more
  // dependencies than it has. O(tasks + edges): for tests, after every step.
  void CheckInvariants() const;

 private:
  struct Ready {
    int priority = 0;
    std::uint64_t task = 0;
    // std::priority_queue puts the greatest on top: higher priority, then lower index.
    bool operator<(const Ready& o) const {
      return priority != o.priority ? priority < o.priority : task > o.task;
    }
  };
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};

  std::uint64_t First(std::uint64_t group) const { return first_[group]; }
  std::uint64_t End(std::uint64_t group) const { return first_[group + 1]; }
  bool Settled(std::uint64_t task) const { return !settled_.empty() && settled_[task]; }
  // Position in the per-task arrays of a task of a group with dependencies.
  std::uint64_t Slot(std::uint64_t task) const;
  std::uint64_t GroupKey(std::uint64_t group) const { return task_count_ + group; }
  void AddOutEdges(std::uint64_t key, std::vector<std::uint64_t>& out) const;

  // The constructor, step by step.
  // An edge as (dependent task, dependency key); a key is a task index, or GroupKey(g).
  using InEdge = std::pair<std::uint64_t, std::uint64_t>;
  // Dependencies left unmet once every task that can has succeeded, in an order that respects
  // them: per task of a group with dependencies (by slot), and per group.
  struct Unmet {
    std::vector<std::uint32_t> tasks;
    std::vector<std::uint64_t> groups;
  };
  // first_ and task_count_, from the groups' sizes.
  void LayOutGroups();
  // The edges that name tasks and groups in range, sorted, each once.
  std::vector<InEdge> IndexEdges(std::vector<Edge> edges) const;
  // Per-task state (slots) for the groups with a dependent task; the others go to the cursor.
  void GiveSlotsToDependentGroups(const std::vector<InEdge>& in_edges);
  // pending_ per task, out_, and the groups depended on as a whole.
  void CountDependencies(const std::vector<InEdge>& in_edges);
  // Fills cycle_ and returns true when the dependencies form a cycle.
  bool FindCycle(const std::vector<InEdge>& in_edges);
  Unmet CountUnmet(const std::vector<InEdge>& in_edges) const;
  void MeetInOrder(Unmet& unmet) const;
  void WalkCycle(const std::vector<InEdge>& in_edges, const Unmet& unmet);
  // Tasks of groups with dependencies that have none themselves are ready at once.
  void ReadyTasksWithoutDependencies();

  void Release(std::uint64_t task);
  void Decrement(std::uint64_t task);
  void AdvanceCursor();

  std::uint64_t task_count_ = 0;
  std::vector<Group> groups_;
  std::vector<std::uint64_t> first_;  // first task of each group, then task_count_
  // Groups whose tasks depend on nothing, by priority (stable), walked by the cursor.
  std::vector<std::uint64_t> order_;
  std::size_t cursor_group_ = 0;  // position in order_
  std::uint64_t cursor_task_ = 0;
  std::priority_queue<Ready> ready_;  // tasks whose dependencies all succeeded

  // Per group: where its tasks start in pending_/skipped_ (kNone: its tasks depend on nothing).
  std::vector<std::uint64_t> slot_base_;
  std::vector<std::uint32_t> pending_;  // dependencies not yet succeeded
  std::vector<bool> skipped_;
  std::uint64_t waiting_ = 0;  // tasks with dependencies not yet ready, skipped or settled
  // (dependency key, dependent task), sorted: a key is a task index, or GroupKey(g).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out_;
  std::vector<bool> group_target_;                // some task depends on the whole group
  std::vector<std::uint64_t> group_unsucceeded_;  // of target groups: tasks not yet succeeded
  std::vector<bool> group_failed_;
  std::vector<bool> settled_;  // empty unless resuming
  std::vector<Skip> skipped_out_;
  std::vector<Node> cycle_;
};

}  // namespace jobrunner
