#include "schedule/task_graph.h"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <utility>

#include "schedule/invariant.h"

namespace jobrunner {

TaskGraph::TaskGraph(std::uint64_t task_count)
    : TaskGraph(std::vector<Group>{Group{task_count, 0}}, {}) {}

TaskGraph::TaskGraph(std::vector<Group> groups, std::vector<Edge> edges)
    : groups_(std::move(groups)) {
  LayOutGroups();
  const std::vector<InEdge> in_edges = IndexEdges(std::move(edges));
  GiveSlotsToDependentGroups(in_edges);
  CountDependencies(in_edges);
  if (FindCycle(in_edges)) return;
  ReadyTasksWithoutDependencies();
  AdvanceCursor();
}

void TaskGraph::LayOutGroups() {
  for (const Group& g : groups_) {
    first_.push_back(task_count_);
    task_count_ += g.size;
  }
  first_.push_back(task_count_);
}

std::vector<TaskGraph::InEdge> TaskGraph::IndexEdges(std::vector<Edge> edges) const {
  // Edges as (dependent, dependency key), without duplicates or references out of range.
  std::vector<InEdge> in_edges;
  in_edges.reserve(edges.size());
  for (const Edge& e : edges) {
    if (e.task >= task_count_ || e.on >= (e.on_group ? groups_.size() : task_count_)) continue;
    in_edges.emplace_back(e.task, e.on_group ? GroupKey(e.on) : e.on);
  }
  edges = {};
  std::sort(in_edges.begin(), in_edges.end());
  in_edges.erase(std::unique(in_edges.begin(), in_edges.end()), in_edges.end());
  return in_edges;
}

void TaskGraph::GiveSlotsToDependentGroups(const std::vector<InEdge>& in_edges) {
  // Groups with a dependent task get per-task state for all their tasks; the others are walked
  // by the cursor, in order of priority.
  slot_base_.assign(groups_.size(), kNone);
  for (const auto& [task, key] : in_edges) slot_base_[GroupOf(task)] = 0;
  std::uint64_t slots = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] == kNone) {
      order_.push_back(g);
    } else {
      slot_base_[g] = slots;
      slots += groups_[g].size;
    }
  }
  std::stable_sort(order_.begin(), order_.end(), [this](std::uint64_t a, std::uint64_t b) {
    return groups_[a].priority > groups_[b].priority;
  });
  pending_.assign(slots, 0);
  skipped_.assign(slots, false);
  waiting_ = slots;
}

void TaskGraph::CountDependencies(const std::vector<InEdge>& in_edges) {
  group_target_.assign(groups_.size(), false);
  group_failed_.assign(groups_.size(), false);
  group_unsucceeded_.assign(groups_.size(), 0);
  out_.reserve(in_edges.size());
  for (const auto& [task, key] : in_edges) {
    ++pending_[Slot(task)];  // at most the length of its entry's depends_on list
    out_.emplace_back(key, task);
    if (key >= task_count_) {
      group_target_[key - task_count_] = true;
      group_unsucceeded_[key - task_count_] = groups_[key - task_count_].size;
    }
  }
  std::sort(out_.begin(), out_.end());
}

bool TaskGraph::FindCycle(const std::vector<InEdge>& in_edges) {
  Unmet unmet = CountUnmet(in_edges);
  MeetInOrder(unmet);
  if (std::none_of(unmet.tasks.begin(), unmet.tasks.end(), [](std::uint32_t n) { return n > 0; })) {
    return false;
  }
  WalkCycle(in_edges, unmet);
  return true;
}

TaskGraph::Unmet TaskGraph::CountUnmet(const std::vector<InEdge>& in_edges) const {
  // A dependency on a task or group without dependencies of its own is met from the start.
  Unmet unmet;
  unmet.tasks.assign(pending_.size(), 0);
  unmet.groups.assign(groups_.size(), 0);
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] != kNone) unmet.groups[g] = groups_[g].size;
  }
  for (const auto& [task, key] : in_edges) {
    const bool met = key >= task_count_ ? unmet.groups[key - task_count_] == 0
                                        : slot_base_[GroupOf(key)] == kNone;
    if (!met) ++unmet.tasks[Slot(task)];
  }
  return unmet;
}

void TaskGraph::MeetInOrder(Unmet& unmet) const {
  // Kahn's algorithm over the tasks with dependencies, as if every task succeeded: what is left
  // unmet lies on a cycle or behind one.
  std::deque<std::uint64_t> queue;  // keys whose dependents may now have one fewer unmet
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] == kNone) continue;
    for (std::uint64_t t = First(g); t < End(g); ++t) {
      if (unmet.tasks[Slot(t)] == 0) queue.push_back(t);
    }
  }
  std::vector<std::uint64_t> dependents;
  while (!queue.empty()) {
    const std::uint64_t key = queue.front();
    queue.pop_front();
    dependents.clear();
    AddOutEdges(key, dependents);
    for (std::uint64_t d : dependents) {
      if (--unmet.tasks[Slot(d)] == 0) queue.push_back(d);
    }
    if (key < task_count_) {
      const std::uint64_t g = GroupOf(key);
      if (group_target_[g] && --unmet.groups[g] == 0) queue.push_back(GroupKey(g));
    }
  }
}

void TaskGraph::WalkCycle(const std::vector<InEdge>& in_edges, const Unmet& unmet) {
  // Every node left unmet has a dependency left unmet, so walking from one to such a dependency
  // must come back to a node already seen: the walk from there on is a cycle.
  const auto unmet_key = [&](std::uint64_t key) {
    if (key >= task_count_) return unmet.groups[key - task_count_] > 0;
    return slot_base_[GroupOf(key)] != kNone && unmet.tasks[Slot(key)] > 0;
  };
  std::uint64_t key = 0;
  while (!unmet_key(key)) ++key;
  std::vector<std::uint64_t> path;
  std::unordered_map<std::uint64_t, std::size_t> seen;
  while (seen.emplace(key, path.size()).second) {
    path.push_back(key);
    std::uint64_t next = kNone;
    if (key >= task_count_) {
      const std::uint64_t g = key - task_count_;
      for (std::uint64_t t = First(g); t < End(g) && next == kNone; ++t) {
        if (unmet_key(t)) next = t;
      }
    } else {
      auto it =
          std::lower_bound(in_edges.begin(), in_edges.end(), std::make_pair(key, std::uint64_t{0}));
      for (; it != in_edges.end() && it->first == key && next == kNone; ++it) {
        if (unmet_key(it->second)) next = it->second;
      }
    }
    key = next;
  }
  for (std::size_t i = seen[key]; i < path.size(); ++i) {
    const bool group = path[i] >= task_count_;
    cycle_.push_back(Node{group ? path[i] - task_count_ : path[i], group});
  }
}

void TaskGraph::ReadyTasksWithoutDependencies() {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] == kNone) continue;
    for (std::uint64_t t = First(g); t < End(g); ++t) {
      if (pending_[Slot(t)] == 0) {
        ready_.push(Ready{groups_[g].priority, t});
        --waiting_;
      }
    }
  }
}

std::uint64_t TaskGraph::GroupOf(std::uint64_t task) const {
  return static_cast<std::uint64_t>(std::upper_bound(first_.begin(), first_.end() - 1, task) -
                                    first_.begin() - 1);
}

std::uint64_t TaskGraph::Slot(std::uint64_t task) const {
  const std::uint64_t g = GroupOf(task);
  return slot_base_[g] + (task - First(g));
}

void TaskGraph::AddOutEdges(std::uint64_t key, std::vector<std::uint64_t>& out) const {
  auto it = std::lower_bound(out_.begin(), out_.end(), std::make_pair(key, std::uint64_t{0}));
  for (; it != out_.end() && it->first == key; ++it) out.push_back(it->second);
}

void TaskGraph::AdvanceCursor() {
  while (cursor_group_ < order_.size()) {
    const std::uint64_t g = order_[cursor_group_];
    cursor_task_ = std::max(cursor_task_, First(g));
    while (cursor_task_ < End(g) && Settled(cursor_task_)) ++cursor_task_;
    if (cursor_task_ < End(g)) return;
    if (++cursor_group_ < order_.size()) cursor_task_ = First(order_[cursor_group_]);
  }
}

void TaskGraph::Resume(std::vector<bool> settled, std::vector<std::uint64_t> failed) {
  settled_ = std::move(settled);
  settled_.resize(task_count_, false);
  std::sort(failed.begin(), failed.end());
  if (cursor_group_ < order_.size()) cursor_task_ = First(order_[cursor_group_]);
  AdvanceCursor();
  if (out_.empty()) return;  // nothing depends on anything: the cursor is all there is

  // Settled tasks are done, whatever they were waiting for.
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] == kNone) continue;
    for (std::uint64_t t = First(g); t < End(g); ++t) {
      if (settled_[t] && pending_[Slot(t)] > 0 && !skipped_[Slot(t)]) --waiting_;
    }
  }
  std::priority_queue<Ready> ready;
  for (; !ready_.empty(); ready_.pop()) {
    if (!settled_[ready_.top().task]) ready.push(ready_.top());
  }
  ready_ = std::move(ready);
  // Successes first, so that a task with both a succeeded and a failed dependency is skipped
  // rather than released.
  for (std::uint64_t t = 0; t < task_count_; ++t) {
    if (settled_[t] && !std::binary_search(failed.begin(), failed.end(), t)) Release(t);
  }
  for (std::uint64_t t : failed) {
    if (t < task_count_) OnFailed(t);
  }
}

std::optional<std::uint64_t> TaskGraph::Next() {
  const bool from_cursor = cursor_group_ < order_.size();
  if (!ready_.empty()) {
    const Ready top = ready_.top();
    const int cursor_priority = from_cursor ? groups_[order_[cursor_group_]].priority : 0;
    if (!from_cursor || Ready{cursor_priority, cursor_task_} < top) {
      ready_.pop();
      return top.task;
    }
  }
  if (!from_cursor) return std::nullopt;
  const std::uint64_t task = cursor_task_++;
  AdvanceCursor();
  return task;
}

void TaskGraph::Decrement(std::uint64_t task) {
  const std::uint64_t slot = Slot(task);
  if (--pending_[slot] != 0 || skipped_[slot] || Settled(task)) return;
  ready_.push(Ready{groups_[GroupOf(task)].priority, task});
  --waiting_;
}

void TaskGraph::Release(std::uint64_t task) {
  std::vector<std::uint64_t> dependents;
  AddOutEdges(task, dependents);
  const std::uint64_t g = GroupOf(task);
  if (group_target_[g] && --group_unsucceeded_[g] == 0) AddOutEdges(GroupKey(g), dependents);
  for (std::uint64_t d : dependents) Decrement(d);
}

void TaskGraph::OnSucceeded(std::uint64_t task) {
  if (task < task_count_ && !out_.empty()) Release(task);
}

void TaskGraph::OnFailed(std::uint64_t root) {
  if (root >= task_count_ || out_.empty()) return;
  std::deque<std::uint64_t> queue{root};  // tasks whose dependents are to be skipped
  std::vector<std::uint64_t> dependents;
  while (!queue.empty()) {
    const std::uint64_t cause = queue.front();
    queue.pop_front();
    dependents.clear();
    AddOutEdges(cause, dependents);
    const std::uint64_t g = GroupOf(cause);
    if (group_target_[g] && !group_failed_[g]) {
      group_failed_[g] = true;
      AddOutEdges(GroupKey(g), dependents);
    }
    for (std::uint64_t d : dependents) {
      const std::uint64_t slot = Slot(d);
      if (skipped_[slot] || Settled(d)) continue;
      skipped_[slot] = true;
      --waiting_;
      skipped_out_.push_back(Skip{d, cause, root});
      queue.push_back(d);
    }
  }
}

std::vector<TaskGraph::Skip> TaskGraph::TakeSkipped() { return std::exchange(skipped_out_, {}); }

std::uint64_t TaskGraph::Remaining() const {
  std::uint64_t remaining = waiting_ + ready_.size();
  for (std::size_t i = cursor_group_; i < order_.size(); ++i) {
    const std::uint64_t g = order_[i];
    const std::uint64_t from = i == cursor_group_ ? cursor_task_ : First(g);
    if (settled_.empty()) {
      remaining += End(g) - from;
    } else {
      remaining += static_cast<std::uint64_t>(
          std::count(settled_.begin() + static_cast<std::ptrdiff_t>(from),
                     settled_.begin() + static_cast<std::ptrdiff_t>(End(g)), false));
    }
  }
  return remaining;
}

void TaskGraph::CheckInvariants() const {
  CheckInvariant(
      first_.size() == groups_.size() + 1 && first_.front() == 0 && first_.back() == task_count_,
      "TaskGraph: the groups cover the tasks");
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    CheckInvariant(End(g) - First(g) == groups_[g].size,
                   "TaskGraph: each group's tasks follow the previous group's", "group",
                   static_cast<std::int64_t>(g));
  }
  CheckInvariant(settled_.empty() || settled_.size() == task_count_,
                 "TaskGraph: settled has a mark per task once resumed");
  if (!cycle_.empty()) return;  // a graph with a cycle is never run: the rest need not hold

  // The cursor's groups and the groups with per-task state.
  std::vector<bool> walked(groups_.size(), false);
  for (std::size_t i = 0; i < order_.size(); ++i) {
    const std::uint64_t g = order_[i];
    CheckInvariant(g < groups_.size() && !walked[g] && slot_base_[g] == kNone,
                   "TaskGraph: the cursor walks each group without dependencies once", "group",
                   static_cast<std::int64_t>(g));
    walked[g] = true;
    if (i > 0) {
      const std::uint64_t before = order_[i - 1];
      CheckInvariant(groups_[before].priority > groups_[g].priority ||
                         (groups_[before].priority == groups_[g].priority && before < g),
                     "TaskGraph: the cursor walks groups by priority, then in manifest order",
                     "group", static_cast<std::int64_t>(g));
    }
  }
  std::uint64_t slots = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (walked[g]) continue;
    CheckInvariant(slot_base_[g] == slots,
                   "TaskGraph: a group the cursor does not walk has per-task state, in order",
                   "group", static_cast<std::int64_t>(g));
    slots += groups_[g].size;
  }
  CheckInvariant(pending_.size() == slots && skipped_.size() == slots,
                 "TaskGraph: per-task state covers exactly the groups with dependencies");
  CheckInvariant(cursor_group_ <= order_.size(), "TaskGraph: the cursor is within its groups");
  if (cursor_group_ < order_.size()) {
    const std::uint64_t g = order_[cursor_group_];
    CheckInvariant(cursor_task_ >= First(g) && cursor_task_ < End(g) && !Settled(cursor_task_),
                   "TaskGraph: the cursor is at a task of its group that is not settled", "task",
                   static_cast<std::int64_t>(cursor_task_));
  }

  // Dependencies: what each task waits for, and which are waiting.
  CheckInvariant(std::is_sorted(out_.begin(), out_.end()), "TaskGraph: out-edges are sorted");
  std::vector<std::uint32_t> in_degree(slots, 0);
  std::vector<bool> targeted(groups_.size(), false);
  for (const auto& [key, task] : out_) {
    CheckInvariant(task < task_count_ && slot_base_[GroupOf(task)] != kNone &&
                       key < task_count_ + groups_.size(),
                   "TaskGraph: an edge joins a task with dependencies to a task or group", "task",
                   static_cast<std::int64_t>(task));
    ++in_degree[Slot(task)];
    if (key >= task_count_) targeted[key - task_count_] = true;
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    CheckInvariant(group_target_[g] == targeted[g],
                   "TaskGraph: a group is marked depended on as a whole exactly when it is",
                   "group", static_cast<std::int64_t>(g));
    CheckInvariant(group_unsucceeded_[g] <= (targeted[g] ? groups_[g].size : 0),
                   "TaskGraph: a group's tasks not yet succeeded are at most its tasks", "group",
                   static_cast<std::int64_t>(g));
  }
  std::uint64_t waiting = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (walked[g]) continue;
    for (std::uint64_t t = First(g); t < End(g); ++t) {
      const std::uint64_t slot = Slot(t);
      CheckInvariant(pending_[slot] <= in_degree[slot],
                     "TaskGraph: a task waits for no more dependencies than it has", "task",
                     static_cast<std::int64_t>(t));
      if (pending_[slot] > 0 && !skipped_[slot] && !Settled(t)) ++waiting;
    }
  }
  CheckInvariant(waiting_ == waiting,
                 "TaskGraph: waiting counts the tasks with dependencies not yet met, neither "
                 "skipped nor settled");

  std::vector<bool> seen_ready(slots, false);
  for (std::priority_queue<Ready> ready = ready_; !ready.empty(); ready.pop()) {
    const Ready& r = ready.top();
    CheckInvariant(r.task < task_count_ && slot_base_[GroupOf(r.task)] != kNone,
                   "TaskGraph: a ready task belongs to a group with dependencies", "task",
                   static_cast<std::int64_t>(r.task));
    const std::uint64_t slot = Slot(r.task);
    CheckInvariant(pending_[slot] == 0 && !skipped_[slot] && !Settled(r.task) && !seen_ready[slot],
                   "TaskGraph: a ready task has its dependencies met, is neither skipped nor "
                   "settled, and is ready once",
                   "task", static_cast<std::int64_t>(r.task));
    CheckInvariant(r.priority == groups_[GroupOf(r.task)].priority,
                   "TaskGraph: a ready task has its group's priority", "task",
                   static_cast<std::int64_t>(r.task));
    seen_ready[slot] = true;
  }
}

}  // namespace jobrunner
