#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <set>
#include <utility>
#include <vector>

namespace jobrunner {

// Which tasks may start now, and in which order. Pure: tasks are indices, and results come in as
// calls, so the scheduler consults it alike in a live run, on --resume and in tests.
//
// Tasks come in groups of consecutive indices (a manifest entry, or the part of a command list
// between two barriers), each with a priority. A task is ready once every task it depends on has
// succeeded, and every task it waits `after` has ended (succeeded, failed for good or been
// skipped); among ready tasks the higher priority goes first, and equal priorities keep index
// order. When a task fails for good, every task that depends on it, directly or through others,
// is skipped.
//
// A whole group may also wait behind gates: until every task of some groups has ended (a
// barrier, `after: [{entry: x}]`), has succeeded (`depends_on: [{entry: x}]`: a failure there
// skips the whole group), or has ended without a failure (a BARRIER CHECK: a failure there stops
// the graph, which then hands out nothing more).
//
// Cost: a group whose tasks depend on no task is walked by a cursor of its own, so without
// dependencies the graph holds nothing per task (and without priorities it hands out 0, 1, 2,
// ... as before), gates or not. A group whose tasks have dependencies keeps 4 bytes and a bit
// per task, and each dependency 16 bytes, so memory is proportional to the edges; a gate costs a
// few bytes per group it names.
class TaskGraph {
 public:
  // Consecutive tasks declared together: a manifest entry.
  struct Group {
    std::uint64_t size = 0;
    int priority = 0;
  };
  // `task` may start only once `on` has succeeded (with `after`: has ended, whatever its
  // outcome): a task, or with `on_group`, every task of group `on` (one edge, however large the
  // group).
  struct Edge {
    std::uint64_t task = 0;
    std::uint64_t on = 0;
    bool on_group = false;
    bool after = false;
  };
  // What a gate waits for in its groups.
  enum class GateKind {
    kAfter,      // every task has ended
    kSucceeded,  // every task has succeeded; a failure skips the whole waiting group
    kCheck,      // every task has ended; a failure stops the graph (a BARRIER CHECK)
  };
  // No task of `group` starts before the tasks of groups [on_first, on_end) are done, as `kind`
  // says. Gates may not form a cycle, among themselves or with edges (the builder checks).
  struct Gate {
    std::uint64_t group = 0;
    std::uint64_t on_first = 0, on_end = 0;
    GateKind kind = GateKind::kAfter;
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
  // `groups` cover the tasks in index order. Edges and gates naming a task or group out of range
  // are ignored; duplicate edges count once. Check cycle() before use: a graph with a cycle never
  // ends.
  TaskGraph(std::vector<Group> groups, std::vector<Edge> edges, std::vector<Gate> gates = {});

  // Empty when the dependencies form no cycle; otherwise the nodes of one cycle, each depending
  // on the next and the last on the first.
  const std::vector<Node>& cycle() const { return cycle_; }

  std::uint64_t task_count() const { return task_count_; }
  std::size_t group_count() const { return groups_.size(); }
  std::uint64_t GroupSize(std::uint64_t group) const { return groups_[group].size; }
  std::uint64_t GroupOf(std::uint64_t task) const;

  // For --resume, before the first Next: tasks marked in `settled` are never handed out; those
  // among them that are listed in `failed` (failed for good) skip their dependents, the others
  // count as succeeded.
  void Resume(std::vector<bool> settled, std::vector<std::uint64_t> failed);

  // Takes the best ready task, or nullopt when none is ready now.
  std::optional<std::uint64_t> Next();
  // Every task has been handed out, skipped or settled, or the graph has stopped: nothing is left
  // to wait for.
  bool Exhausted() const {
    return stopped_ ||
           (open_.empty() && ready_.empty() && waiting_ == 0 && closed_cursor_groups_ == 0);
  }
  // A kCheck gate met with a failure among its groups' tasks: the graph hands out nothing more.
  struct Stop {
    std::uint64_t group = 0;        // the group the gate kept waiting
    std::uint64_t failed_task = 0;  // the first task of its groups that failed (or was skipped)
  };
  const std::optional<Stop>& stopped() const { return stopped_; }

  // A task handed out by Next ended for good.
  void OnSucceeded(std::uint64_t task);
  void OnFailed(std::uint64_t task);
  // The tasks skipped since the last call, in the order they were skipped.
  std::vector<Skip> TakeSkipped();

  // Tasks not yet handed out, skipped or settled. Walks the groups (and the settled tasks when
  // resuming): for checks, not for every step of a run.
  std::uint64_t Remaining() const;

  // Throws std::logic_error naming the first invariant that does not hold: the groups cover the
  // tasks; every group is walked by a cursor or has per-task state, not both; the open cursors
  // are the open groups with tasks left, each at a task that is not settled; `waiting_` counts
  // the tasks with a dependency not yet met, or a group not yet open, that are neither skipped
  // nor settled; every ready task is in an open group, has its dependencies met and is neither
  // skipped nor settled, once; no task waits for more dependencies than it has. O(tasks +
  // edges): for tests, after every step.
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

  // A dependency: the key (a task index, or GroupKey(g)) and the dependent task.
  struct OutEdge {
    std::uint64_t key = 0;
    std::uint64_t task = 0;
    bool after = false;
    bool operator<(const OutEdge& o) const {
      return key != o.key ? key < o.key : task != o.task ? task < o.task : after < o.after;
    }
    bool operator==(const OutEdge& o) const {
      return key == o.key && task == o.task && after == o.after;
    }
  };

  std::uint64_t First(std::uint64_t group) const { return first_[group]; }
  std::uint64_t End(std::uint64_t group) const { return first_[group + 1]; }
  bool Settled(std::uint64_t task) const { return !settled_.empty() && settled_[task]; }
  // Position in the per-task arrays of a task of a group with dependencies.
  std::uint64_t Slot(std::uint64_t task) const;
  std::uint64_t GroupKey(std::uint64_t group) const { return task_count_ + group; }
  // The tasks that wait for `key`, needing it to succeed or (`after`) to end; or either.
  void AddOutEdges(std::uint64_t key, std::vector<std::uint64_t>& out) const;
  void AddOutEdges(std::uint64_t key, bool after, std::vector<std::uint64_t>& out) const;

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
  // The edges that name tasks and groups in range, by dependent task, each once.
  std::vector<OutEdge> IndexEdges(std::vector<Edge> edges) const;
  // Per-task state (slots) for the groups with a dependent task; the others go to the cursor.
  void GiveSlotsToDependentGroups(const std::vector<InEdge>& in_edges);
  // pending_ per task, out_, and the groups depended on as a whole.
  void CountDependencies(std::vector<OutEdge> edges);
  // What each group waits behind, and what waits for each.
  void SetUpGates(std::vector<Gate> gates);
  // Fills cycle_ and returns true when the dependencies form a cycle.
  bool FindCycle(const std::vector<InEdge>& in_edges);
  Unmet CountUnmet(const std::vector<InEdge>& in_edges) const;
  void MeetInOrder(Unmet& unmet) const;
  void WalkCycle(const std::vector<InEdge>& in_edges, const Unmet& unmet);
  // The groups behind no gate open: their tasks without dependencies are ready at once.
  void OpenGroupsWithoutGates();

  void Release(std::uint64_t task);
  void Decrement(std::uint64_t task);
  // Moves group `g`'s cursor past settled tasks; drops it from open_ once it has none left.
  void AdvanceCursor(std::uint64_t g);
  bool IsOpen(std::uint64_t g) const { return closed_by_.empty() || closed_by_[g] == 0; }
  void OpenGroup(std::uint64_t g);
  // A task of `g` ended (`bad`: it failed for good, `root`, or was skipped because of `root`).
  void TaskEnded(std::uint64_t g, bool bad, std::uint64_t task, std::uint64_t root);
  // Every task of `g` has ended: what waits `after` it as a whole goes on.
  void GroupEnded(std::uint64_t g);
  // Every task of `g` has ended and it was open (or skipped): the gates naming it may be met.
  void CheckComplete(std::uint64_t g);
  void MeetGate(std::size_t gate);
  void SkipGroup(std::uint64_t g, std::uint64_t cause, std::uint64_t root);
  // Skips what needs the tasks in `queue` to succeed (they will not), and the tasks that need
  // those, and lets what waits only for their end go on.
  void Cascade(std::deque<std::uint64_t>& queue, std::uint64_t root);

  std::uint64_t task_count_ = 0;
  std::vector<Group> groups_;
  std::vector<std::uint64_t> first_;  // first task of each group, then task_count_
  // Groups whose tasks depend on no task are walked by cursors: each its own position (next_),
  // and the open ones with tasks left in open_, by priority then group.
  std::vector<std::uint64_t> next_;
  std::set<std::pair<int, std::uint64_t>> open_;  // (-priority, group)
  std::uint64_t closed_cursor_groups_ = 0;        // not yet open, nor skipped
  std::priority_queue<Ready> ready_;              // tasks whose dependencies all succeeded

  // Gates: what each group waits behind, and which gates wait for each group.
  std::vector<Gate> gates_;
  std::vector<std::uint32_t> closed_by_;            // per group: gates not yet met (empty: none)
  std::vector<std::vector<std::size_t>> gates_on_;  // per group: the gates that name it
  std::vector<std::uint64_t> gate_remaining_;       // per gate: its groups not yet complete
  std::vector<std::uint64_t> group_unended_;        // per group: tasks not yet ended
  std::vector<bool> group_ended_;
  std::vector<bool> group_complete_;
  // Per group: the first of its tasks that failed for good or was skipped, and the failure
  // behind it; kNone while none has.
  std::vector<std::uint64_t> bad_task_;
  std::vector<std::uint64_t> bad_root_;
  std::vector<bool> group_skipped_;  // skipped as a whole by a kSucceeded gate
  std::optional<Stop> stopped_;

  // Per group: where its tasks start in pending_/skipped_ (kNone: its tasks depend on nothing).
  std::vector<std::uint64_t> slot_base_;
  std::vector<std::uint32_t> pending_;  // dependencies not yet succeeded
  std::vector<bool> skipped_;
  std::uint64_t waiting_ = 0;  // tasks with dependencies not yet ready, skipped or settled
  // (dependency key, dependent task), sorted: a key is a task index, or GroupKey(g).
  std::vector<OutEdge> out_;
  std::vector<bool> group_target_;                // some task depends on the whole group
  std::vector<std::uint64_t> group_unsucceeded_;  // of target groups: tasks not yet succeeded
  std::vector<bool> group_failed_;
  std::vector<bool> settled_;  // empty unless resuming
  std::vector<Skip> skipped_out_;
  std::vector<Node> cycle_;
};

}  // namespace jobrunner
