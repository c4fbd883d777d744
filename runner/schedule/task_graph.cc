#include "schedule/task_graph.h"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <utility>

#include "schedule/invariant.h"

namespace jobrunner {

TaskGraph::TaskGraph(std::uint64_t task_count)
    : TaskGraph(std::vector<Group>{Group{task_count, 0}}, {}) {}

TaskGraph::TaskGraph(std::vector<Group> groups, std::vector<Edge> edges, std::vector<Gate> gates)
    : groups_(std::move(groups)) {
  LayOutGroups();
  std::vector<OutEdge> kept = IndexEdges(std::move(edges));
  std::vector<InEdge> in_edges;
  in_edges.reserve(kept.size());
  for (const OutEdge& e : kept) in_edges.emplace_back(e.task, e.key);
  GiveSlotsToDependentGroups(in_edges);
  CountDependencies(std::move(kept));
  SetUpGates(std::move(gates));
  if (FindCycle(in_edges)) return;
  OpenGroupsWithoutGates();
}

void TaskGraph::LayOutGroups() {
  for (const Group& g : groups_) {
    first_.push_back(task_count_);
    task_count_ += g.size;
  }
  first_.push_back(task_count_);
}

std::vector<TaskGraph::OutEdge> TaskGraph::IndexEdges(std::vector<Edge> edges) const {
  // Edges without duplicates or references out of range, by dependent task. Two edges between
  // the same tasks count as one, that needing success (which implies the end).
  std::vector<OutEdge> kept;
  kept.reserve(edges.size());
  for (const Edge& e : edges) {
    if (e.task >= task_count_ || e.on >= (e.on_group ? groups_.size() : task_count_)) continue;
    kept.push_back(OutEdge{e.on_group ? GroupKey(e.on) : e.on, e.task, e.after});
  }
  edges = {};
  std::sort(kept.begin(), kept.end(), [](const OutEdge& a, const OutEdge& b) {
    return a.task != b.task ? a.task < b.task : a.key != b.key ? a.key < b.key : a.after < b.after;
  });
  kept.erase(std::unique(kept.begin(), kept.end(),
                         [](const OutEdge& a, const OutEdge& b) {
                           return a.task == b.task && a.key == b.key;
                         }),
             kept.end());
  return kept;
}

void TaskGraph::GiveSlotsToDependentGroups(const std::vector<InEdge>& in_edges) {
  // Groups with a dependent task get per-task state for all their tasks; the others are walked
  // by cursors of their own.
  slot_base_.assign(groups_.size(), kNone);
  for (const auto& [task, key] : in_edges) slot_base_[GroupOf(task)] = 0;
  std::uint64_t slots = 0;
  next_.assign(groups_.size(), 0);
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    next_[g] = First(g);
    if (slot_base_[g] == kNone) continue;
    slot_base_[g] = slots;
    slots += groups_[g].size;
  }
  pending_.assign(slots, 0);
  skipped_.assign(slots, false);
  waiting_ = slots;
}

void TaskGraph::CountDependencies(std::vector<OutEdge> edges) {
  group_target_.assign(groups_.size(), false);
  group_failed_.assign(groups_.size(), false);
  group_unsucceeded_.assign(groups_.size(), 0);
  for (const OutEdge& e : edges) {
    ++pending_[Slot(e.task)];  // at most the length of its entry's depends_on and after lists
    if (e.key >= task_count_) {
      group_target_[e.key - task_count_] = true;
      group_unsucceeded_[e.key - task_count_] = groups_[e.key - task_count_].size;
    }
  }
  out_ = std::move(edges);
  std::sort(out_.begin(), out_.end());
}

void TaskGraph::SetUpGates(std::vector<Gate> gates) {
  group_unended_.resize(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) group_unended_[g] = groups_[g].size;
  group_ended_.assign(groups_.size(), false);
  group_complete_.assign(groups_.size(), false);
  group_skipped_.assign(groups_.size(), false);
  bad_task_.assign(groups_.size(), kNone);
  bad_root_.assign(groups_.size(), kNone);
  gates_on_.resize(groups_.size());
  const std::size_t group_count = groups_.size();
  gates.erase(std::remove_if(gates.begin(), gates.end(),
                             [group_count](const Gate& gate) {
                               return gate.group >= group_count || gate.on_first > gate.on_end ||
                                      gate.on_end > group_count;
                             }),
              gates.end());
  for (std::size_t i = 0; i < gates.size(); ++i) {
    const Gate& gate = gates[i];
    if (closed_by_.empty()) closed_by_.assign(group_count, 0);
    ++closed_by_[gate.group];
    for (std::uint64_t h = gate.on_first; h < gate.on_end; ++h) gates_on_[h].push_back(i);
    gate_remaining_.push_back(gate.on_end - gate.on_first);
  }
  gates_ = std::move(gates);
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

void TaskGraph::OpenGroupsWithoutGates() {
  // Tasks of open groups with dependencies that have none themselves are ready at once, and the
  // other open groups' cursors are ready to walk. Then what is empty from the start ends, which
  // may open the groups waiting for it.
  std::vector<std::uint64_t> open;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (IsOpen(g)) {
      open.push_back(g);
    } else if (slot_base_[g] == kNone) {
      ++closed_cursor_groups_;
    }
  }
  for (std::uint64_t g : open) OpenGroup(g);
  for (std::size_t i = 0; i < gates_.size(); ++i) {
    if (gate_remaining_[i] == 0) MeetGate(i);
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (group_unended_[g] == 0) GroupEnded(g);
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
  auto it = std::lower_bound(out_.begin(), out_.end(), OutEdge{key, 0, false});
  for (; it != out_.end() && it->key == key; ++it) out.push_back(it->task);
}

void TaskGraph::AddOutEdges(std::uint64_t key, bool after, std::vector<std::uint64_t>& out) const {
  auto it = std::lower_bound(out_.begin(), out_.end(), OutEdge{key, 0, false});
  for (; it != out_.end() && it->key == key; ++it) {
    if (it->after == after) out.push_back(it->task);
  }
}

void TaskGraph::AdvanceCursor(std::uint64_t g) {
  while (next_[g] < End(g) && Settled(next_[g])) ++next_[g];
  if (next_[g] == End(g)) open_.erase({-groups_[g].priority, g});
}

void TaskGraph::OpenGroup(std::uint64_t g) {
  if (slot_base_[g] == kNone) {
    if (next_[g] < End(g)) {
      open_.insert({-groups_[g].priority, g});
      AdvanceCursor(g);
    }
  } else {
    for (std::uint64_t t = First(g); t < End(g); ++t) {
      const std::uint64_t slot = Slot(t);
      if (pending_[slot] != 0 || skipped_[slot] || Settled(t)) continue;
      ready_.push(Ready{groups_[g].priority, t});
      --waiting_;
    }
  }
  CheckComplete(g);
}

void TaskGraph::TaskEnded(std::uint64_t g, bool bad, std::uint64_t task, std::uint64_t root) {
  if (bad && bad_task_[g] == kNone) {
    bad_task_[g] = task;
    bad_root_[g] = root;
  }
  if (--group_unended_[g] == 0) GroupEnded(g);
}

void TaskGraph::GroupEnded(std::uint64_t g) {
  if (group_ended_[g]) return;
  group_ended_[g] = true;
  if (group_target_[g]) {
    std::vector<std::uint64_t> dependents;
    AddOutEdges(GroupKey(g), true, dependents);
    for (std::uint64_t d : dependents) Decrement(d);
  }
  CheckComplete(g);
}

void TaskGraph::CheckComplete(std::uint64_t g) {
  if (group_complete_[g] || group_unended_[g] > 0 || !(IsOpen(g) || group_skipped_[g])) return;
  group_complete_[g] = true;
  for (std::size_t i : gates_on_[g]) {
    if (--gate_remaining_[i] == 0) MeetGate(i);
  }
}

void TaskGraph::MeetGate(std::size_t i) {
  const Gate& gate = gates_[i];
  std::uint64_t bad = kNone;
  for (std::uint64_t h = gate.on_first; h < gate.on_end && bad == kNone; ++h) {
    if (bad_task_[h] != kNone) bad = h;
  }
  if (bad != kNone && gate.kind == GateKind::kCheck) {
    if (!stopped_) stopped_ = Stop{gate.group, bad_task_[bad]};
    return;
  }
  if (bad != kNone && gate.kind == GateKind::kSucceeded) {
    SkipGroup(gate.group, bad_task_[bad], bad_root_[bad]);
    return;
  }
  const std::uint64_t g = gate.group;
  if (group_skipped_[g] || --closed_by_[g] != 0) return;
  if (slot_base_[g] == kNone) --closed_cursor_groups_;
  OpenGroup(g);
}

void TaskGraph::SkipGroup(std::uint64_t g, std::uint64_t cause, std::uint64_t root) {
  if (group_skipped_[g]) return;
  group_skipped_[g] = true;
  if (slot_base_[g] == kNone) --closed_cursor_groups_;
  std::deque<std::uint64_t> queue;
  for (std::uint64_t t = First(g); t < End(g); ++t) {
    if (Settled(t)) continue;
    if (slot_base_[g] != kNone) {
      const std::uint64_t slot = Slot(t);
      if (skipped_[slot]) continue;
      skipped_[slot] = true;
      --waiting_;
    }
    skipped_out_.push_back(Skip{t, cause, root});
    if (!out_.empty()) queue.push_back(t);
    TaskEnded(g, true, t, root);
  }
  Cascade(queue, root);
  CheckComplete(g);
}

void TaskGraph::Resume(std::vector<bool> settled, std::vector<std::uint64_t> failed) {
  settled_ = std::move(settled);
  settled_.resize(task_count_, false);
  std::sort(failed.begin(), failed.end());
  const auto is_failed = [&](std::uint64_t t) {
    return std::binary_search(failed.begin(), failed.end(), t);
  };
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] == kNone && next_[g] < End(g)) AdvanceCursor(g);
  }

  // Settled tasks are done, whatever they were waiting for.
  std::vector<std::uint64_t> ended;  // groups whose every task is now settled
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    for (std::uint64_t t = First(g); t < End(g); ++t) {
      if (!settled_[t]) continue;
      if (slot_base_[g] != kNone) {
        const std::uint64_t slot = Slot(t);
        if (!skipped_[slot] && (pending_[slot] > 0 || !IsOpen(g))) --waiting_;
      }
      if (is_failed(t) && bad_task_[g] == kNone) bad_task_[g] = bad_root_[g] = t;
      if (--group_unended_[g] == 0) ended.push_back(g);
    }
  }
  std::priority_queue<Ready> ready;
  for (; !ready_.empty(); ready_.pop()) {
    if (!settled_[ready_.top().task]) ready.push(ready_.top());
  }
  ready_ = std::move(ready);
  if (!out_.empty()) {
    // Successes first, so that a task with both a succeeded and a failed dependency is skipped
    // rather than released.
    for (std::uint64_t t = 0; t < task_count_; ++t) {
      if (settled_[t] && !is_failed(t)) Release(t);
    }
    for (std::uint64_t t : failed) {
      if (t >= task_count_) continue;
      std::deque<std::uint64_t> queue{t};
      Cascade(queue, t);
    }
  }
  for (std::uint64_t g : ended) GroupEnded(g);
}

std::optional<std::uint64_t> TaskGraph::Next() {
  if (stopped_) return std::nullopt;
  const bool from_cursor = !open_.empty();
  const std::uint64_t g = from_cursor ? open_.begin()->second : 0;
  if (!ready_.empty()) {
    const Ready top = ready_.top();
    if (!from_cursor || Ready{groups_[g].priority, next_[g]} < top) {
      ready_.pop();
      return top.task;
    }
  }
  if (!from_cursor) return std::nullopt;
  const std::uint64_t task = next_[g]++;
  AdvanceCursor(g);
  return task;
}

void TaskGraph::Decrement(std::uint64_t task) {
  const std::uint64_t slot = Slot(task);
  if (--pending_[slot] != 0 || skipped_[slot] || Settled(task)) return;
  const std::uint64_t g = GroupOf(task);
  if (!IsOpen(g)) return;  // it waits for its group's gates; OpenGroup readies it
  ready_.push(Ready{groups_[g].priority, task});
  --waiting_;
}

void TaskGraph::Release(std::uint64_t task) {
  std::vector<std::uint64_t> dependents;
  AddOutEdges(task, false, dependents);
  AddOutEdges(task, true, dependents);
  const std::uint64_t g = GroupOf(task);
  if (group_target_[g] && --group_unsucceeded_[g] == 0) {
    AddOutEdges(GroupKey(g), false, dependents);
  }
  for (std::uint64_t d : dependents) Decrement(d);
}

void TaskGraph::OnSucceeded(std::uint64_t task) {
  if (task >= task_count_) return;
  if (!out_.empty()) Release(task);
  TaskEnded(GroupOf(task), false, task, task);
}

void TaskGraph::OnFailed(std::uint64_t root) {
  if (root >= task_count_) return;
  std::deque<std::uint64_t> queue{root};
  if (!out_.empty()) Cascade(queue, root);
  TaskEnded(GroupOf(root), true, root, root);
}

void TaskGraph::Cascade(std::deque<std::uint64_t>& queue, std::uint64_t root) {
  // Tasks that will never succeed: what needs them to succeed is skipped in turn; what waits
  // only for their end goes on.
  std::vector<std::uint64_t> dependents, after;
  while (!queue.empty()) {
    const std::uint64_t cause = queue.front();
    queue.pop_front();
    dependents.clear();
    after.clear();
    AddOutEdges(cause, false, dependents);
    AddOutEdges(cause, true, after);
    const std::uint64_t g = GroupOf(cause);
    if (group_target_[g] && !group_failed_[g]) {
      group_failed_[g] = true;
      AddOutEdges(GroupKey(g), false, dependents);
    }
    for (std::uint64_t d : after) Decrement(d);
    for (std::uint64_t d : dependents) {
      const std::uint64_t slot = Slot(d);
      if (skipped_[slot] || Settled(d)) continue;
      skipped_[slot] = true;
      --waiting_;
      skipped_out_.push_back(Skip{d, cause, root});
      queue.push_back(d);
      TaskEnded(GroupOf(d), true, d, root);
    }
  }
}

std::vector<TaskGraph::Skip> TaskGraph::TakeSkipped() { return std::exchange(skipped_out_, {}); }

std::uint64_t TaskGraph::Remaining() const {
  std::uint64_t remaining = waiting_ + ready_.size();
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (slot_base_[g] != kNone || group_skipped_[g]) continue;
    const std::uint64_t from = next_[g];
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

  // The cursors' groups and the groups with per-task state.
  std::vector<bool> walked(groups_.size(), false);
  std::uint64_t slots = 0;
  std::uint64_t closed_cursors = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    walked[g] = slot_base_[g] == kNone;
    if (!walked[g]) {
      CheckInvariant(slot_base_[g] == slots,
                     "TaskGraph: a group no cursor walks has per-task state, in order", "group",
                     static_cast<std::int64_t>(g));
      slots += groups_[g].size;
      continue;
    }
    if (!IsOpen(g) && !group_skipped_[g]) ++closed_cursors;
    const bool listed = open_.count({-groups_[g].priority, g}) == 1;
    CheckInvariant(next_[g] >= First(g) && next_[g] <= End(g),
                   "TaskGraph: a group's cursor is within its group", "group",
                   static_cast<std::int64_t>(g));
    CheckInvariant(listed == (IsOpen(g) && !group_skipped_[g] && next_[g] < End(g)),
                   "TaskGraph: the open cursors are the open groups with tasks left", "group",
                   static_cast<std::int64_t>(g));
    CheckInvariant(!listed || !Settled(next_[g]),
                   "TaskGraph: an open cursor is at a task of its group that is not settled",
                   "task", static_cast<std::int64_t>(next_[g]));
  }
  CheckInvariant(open_.size() <= groups_.size(), "TaskGraph: each group is open once at most");
  CheckInvariant(closed_cursors == closed_cursor_groups_,
                 "TaskGraph: closed_cursor_groups_ counts the cursor groups behind a gate");
  CheckInvariant(pending_.size() == slots && skipped_.size() == slots,
                 "TaskGraph: per-task state covers exactly the groups with dependencies");

  // Dependencies: what each task waits for, and which are waiting.
  CheckInvariant(std::is_sorted(out_.begin(), out_.end()), "TaskGraph: out-edges are sorted");
  std::vector<std::uint32_t> in_degree(slots, 0);
  std::vector<bool> targeted(groups_.size(), false);
  for (const OutEdge& edge : out_) {
    const std::uint64_t key = edge.key, task = edge.task;
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
      if ((pending_[slot] > 0 || !IsOpen(g)) && !skipped_[slot] && !Settled(t)) ++waiting;
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
    CheckInvariant(pending_[slot] == 0 && !skipped_[slot] && !Settled(r.task) &&
                       !seen_ready[slot] && IsOpen(GroupOf(r.task)),
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
