#include "manifest/task_graph_builder.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jobrunner {
namespace {

constexpr std::uint64_t kUnresolved = ~std::uint64_t{0};

// Two independent 64-bit hashes of an id: resolving by them alone is safe, since a false match
// would need both to collide at once.
struct IdKey {
  std::uint64_t a = 0, b = 0;
  bool operator==(const IdKey& o) const { return a == o.a && b == o.b; }
};

// The ids depends_on names, each with a slot number: an open-addressing table sized once, since
// a node-based map of millions of ids spends its time in cache misses.
class IdTable {
 public:
  explicit IdTable(std::uint64_t most) {
    std::uint64_t capacity = 16;
    while (capacity < most + most / 2) capacity *= 2;
    cells_.resize(capacity);
  }
  // The slot of `key`, given the next free slot number if it is new.
  std::uint32_t Insert(const IdKey& key) {
    Cell& cell = Find(key);
    if (!cell.used) cell = Cell{key, size_++, true};
    return cell.slot;
  }
  const std::uint32_t* Lookup(const IdKey& key) {
    const Cell& cell = Find(key);
    return cell.used ? &cell.slot : nullptr;
  }
  std::uint32_t size() const { return size_; }

 private:
  struct Cell {
    IdKey key;
    std::uint32_t slot = 0;
    bool used = false;
  };
  Cell& Find(const IdKey& key) {
    const std::uint64_t mask = cells_.size() - 1;
    for (std::uint64_t i = key.a & mask;; i = (i + 1) & mask) {
      if (!cells_[i].used || cells_[i].key == key) return cells_[i];
    }
  }
  std::vector<Cell> cells_;
  std::uint32_t size_ = 0;
};

IdKey KeyOf(std::string_view id) {
  std::uint64_t fnv = 14695981039346656037ull;
  for (unsigned char c : id) {
    fnv ^= c;
    fnv *= 1099511628211ull;
  }
  return IdKey{std::hash<std::string_view>{}(id), fnv};
}

// The first entry whose id is written as `id`, looked up in a table built on first use: a
// dependency on a whole entry is resolved in constant time however many entries there are.
// Two templates are the same id exactly when they are written the same (TemplateText).
class EntryById {
 public:
  explicit EntryById(const std::vector<TaskEntry>& entries) : entries_(entries) {}
  std::optional<std::size_t> Find(const Template& id) {
    if (first_.empty()) {
      for (std::size_t e = 0; e < entries_.size(); ++e)
        first_.emplace(TemplateText(entries_[e].id), e);
    }
    const auto it = first_.find(TemplateText(id));
    if (it == first_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const std::vector<TaskEntry>& entries_;
  std::unordered_map<std::string, std::size_t> first_;
};

bool IsMatrixName(const TaskEntry& entry, const std::string& name) {
  return std::any_of(entry.matrix.begin(), entry.matrix.end(),
                     [&name](const MatrixAxis& axis) { return axis.name == name; });
}

std::string RenderFor(const TaskSource& source, std::size_t entry, std::uint64_t index,
                      const Template& t) {
  std::string out;
  source.ForEachTask(entry, [&](std::uint64_t i, const TaskSource::Lookup& lookup) {
    if (i == index) out = t.Render(lookup, /*shell_quote=*/false);
  });
  return out;
}

std::string DescribeCycle(const TaskSource& source, const std::vector<TaskGraph::Node>& cycle) {
  const auto name = [&](const TaskGraph::Node& n) {
    const std::size_t entry = n.group ? source.groups()[n.index].entry : 0;
    return n.group ? "every task of " + TemplateText(source.manifest().entries[entry].id)
                   : source.Id(n.index);
  };
  std::string text;
  for (const TaskGraph::Node& n : cycle) text += name(n) + " -> ";
  return "dependency cycle: " + text + name(cycle.front()) + " (each depends on the next)";
}

// The entries `{entry: name}` elements may name, by their id as written and by their id without
// placeholders and trailing separators: a table built once, so that many such elements cost no
// more than one pass over the entries each.
class EntryNames {
 public:
  explicit EntryNames(const std::vector<TaskEntry>& entries) : entries_(entries) {
    for (std::size_t f = 0; f < entries.size(); ++f) {
      const std::string written = TemplateText(entries[f].id);
      std::string label;
      for (const Template::Part& part : entries[f].id.parts()) {
        if (!part.is_placeholder) label += part.text;
      }
      while (!label.empty() &&
             (label.back() == '-' || label.back() == '_' || label.back() == '.')) {
        label.pop_back();
      }
      by_name_[written].push_back(f);
      if (label != written) by_name_[label].push_back(f);
    }
  }

  // The entry `d` names; throws ManifestError at `d` when it names none, or more than one.
  std::size_t Find(const EntryDependency& d) const {
    const auto it = by_name_.find(d.entry);
    const std::string what = d.after ? "after" : "depends_on";
    if (it == by_name_.end()) {
      throw ManifestError(d.pos, "no entry has the id '" + d.entry + "' in {entry: " + d.entry +
                                     "} of " + what +
                                     "; expected an entry's id as written there, or without its "
                                     "placeholders");
    }
    const std::vector<std::size_t>& found = it->second;
    if (found.size() > 1) {
      throw ManifestError(d.pos, "{entry: " + d.entry + "} in " + what +
                                     " names more than one entry (" +
                                     TemplateText(entries_[found[0]].id) + " and " +
                                     TemplateText(entries_[found[1]].id) +
                                     "); write the id as it is written there");
    }
    return found[0];
  }

 private:
  const std::vector<TaskEntry>& entries_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;
};

// A cycle through a gate (`{entry: ...}`) that Kahn's walk over tasks cannot see: entries that
// wait for each other, each for all of the next. `waits[e]` lists the entries e waits for,
// through a gate (true) or a task's edge (false). The entries are split into strongly connected
// components once (Kosaraju, without recursion); a gate within one closes a cycle, which is then
// found by a walk from its far end back to it and named entry by entry.
void CheckEntryCycles(const std::vector<TaskEntry>& entries, const EntryNames& names,
                      const std::vector<std::vector<std::pair<std::size_t, bool>>>& waits) {
  const std::size_t n = entries.size();
  std::vector<std::size_t> finished;
  std::vector<bool> seen(n, false);
  for (std::size_t root = 0; root < n; ++root) {
    if (seen[root]) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};
    seen[root] = true;
    while (!stack.empty()) {
      auto& [e, next] = stack.back();
      if (next < waits[e].size()) {
        const std::size_t f = waits[e][next++].first;
        if (!seen[f]) {
          seen[f] = true;
          stack.emplace_back(f, 0);
        }
        continue;
      }
      finished.push_back(e);
      stack.pop_back();
    }
  }
  std::vector<std::vector<std::size_t>> waited_by(n);
  for (std::size_t e = 0; e < n; ++e) {
    for (const auto& [f, gate] : waits[e]) waited_by[f].push_back(e);
  }
  std::vector<std::size_t> component(n, n);
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
    if (component[*it] != n) continue;
    std::vector<std::size_t> stack{*it};
    component[*it] = *it;
    while (!stack.empty()) {
      const std::size_t e = stack.back();
      stack.pop_back();
      for (std::size_t f : waited_by[e]) {
        if (component[f] != n) continue;
        component[f] = *it;
        stack.push_back(f);
      }
    }
  }
  for (std::size_t start = 0; start < n; ++start) {
    for (const std::pair<std::size_t, bool>& wait : waits[start]) {
      // Not a structured binding: the lambda below captures it, which C++17 allows only for
      // variables (clang refuses it).
      const std::size_t first = wait.first;
      if (!wait.second || component[first] != component[start]) continue;
      // A path from `first` back to `start` closes the cycle through this gate.
      std::vector<std::size_t> from(n, n);
      std::deque<std::size_t> queue{first};
      from[first] = first;
      while (!queue.empty() && from[start] == n) {
        const std::size_t e = queue.front();
        queue.pop_front();
        for (const auto& [f, unused] : waits[e]) {
          if (from[f] != n) continue;
          from[f] = e;
          queue.push_back(f);
        }
      }
      std::vector<std::size_t> path{start};
      for (std::size_t e = start; e != first; e = from[e]) path.push_back(from[e]);
      std::string text;
      for (auto it = path.rbegin(); it != path.rend(); ++it) {
        text += "every task of " + TemplateText(entries[*it].id) + " -> ";
      }
      const auto element = std::find_if(
          entries[start].entry_dependencies.begin(), entries[start].entry_dependencies.end(),
          [&](const EntryDependency& d) { return names.Find(d) == first; });
      throw ManifestError(element->pos, "dependency cycle: every task of " +
                                            TemplateText(entries[start].id) + " -> " +
                                            text.substr(0, text.size() - 4) +
                                            " (each waits for the next)");
    }
  }
}

}  // namespace

TaskGraph BuildTaskGraph(const TaskSource& source) {
  const std::vector<TaskEntry>& entries = source.manifest().entries;
  std::vector<TaskGraph::Group> groups;
  groups.reserve(source.groups().size());
  for (const TaskGroup& g : source.groups()) {
    groups.push_back(TaskGraph::Group{g.size, entries[g.entry].priority});
  }
  // Barriers: each part of a command list after the first waits for the part before it.
  std::vector<TaskGraph::Gate> gates;
  for (std::size_t g = 1; g < source.groups().size(); ++g) {
    const TaskGroup& group = source.groups()[g];
    if (!group.barrier) continue;
    const bool check = entries[group.entry].list->barriers()[*group.barrier].check;
    gates.push_back(TaskGraph::Gate{
        g, g - 1, g, check ? TaskGraph::GateKind::kCheck : TaskGraph::GateKind::kAfter});
  }
  std::vector<std::vector<std::pair<std::size_t, bool>>> waits(entries.size());
  const EntryNames names(entries);
  for (std::size_t e = 0; e < entries.size(); ++e) {
    for (const EntryDependency& d : entries[e].entry_dependencies) {
      const std::size_t f = names.Find(d);
      if (f == e) {
        throw ManifestError(d.pos, "{entry: " + d.entry +
                                       "} names this entry itself; an entry "
                                       "cannot wait for all of its own tasks");
      }
      const auto [on_first, on_end] = source.GroupsOf(f);
      gates.push_back(
          TaskGraph::Gate{source.GroupsOf(e).first, on_first, on_end,
                          d.after ? TaskGraph::GateKind::kAfter : TaskGraph::GateKind::kSucceeded});
      waits[e].emplace_back(f, true);
    }
  }
  if (std::none_of(entries.begin(), entries.end(),
                   [](const TaskEntry& e) { return !e.depends_on.empty() || !e.after.empty(); })) {
    CheckEntryCycles(entries, names, waits);
    return TaskGraph(std::move(groups), {}, std::move(gates));
  }

  std::vector<TaskGraph::Edge> edges;
  struct Wanted {
    std::uint64_t task = 0;
    std::uint32_t slot = 0;     // in `resolved`
    std::uint32_t element = 0;  // of its entry's depends_on, or after
    bool after = false;
  };
  std::vector<Wanted> wanted;
  std::uint64_t most = 0;  // ids depends_on and after may name, at most
  for (const TaskEntry& entry : entries) {
    most += entry.size() * (entry.depends_on.size() + entry.after.size());
  }
  IdTable slots(most);
  EntryById entries_by_id(entries);
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const TaskEntry& entry = entries[e];
    for (const bool after : {false, true}) {
      const auto& elements = after ? entry.after : entry.depends_on;
      const std::string label = after ? "after" : "depends_on";
      for (std::uint32_t j = 0; j < elements.size(); ++j) {
        // Not a structured binding: the lambdas below capture it, which C++17 allows only for
        // variables (clang refuses it).
        const Template& tmpl = elements[j].first;
        const SourcePos& pos = elements[j].second;
        const std::vector<std::string> names = tmpl.Names();
        const auto foreign = std::find_if(names.begin(), names.end(), [&](const std::string& n) {
          return !IsMatrixName(entry, n);
        });
        if (foreign != names.end()) {
          const std::optional<std::size_t> whole = entries_by_id.Find(tmpl);
          const bool none_own = std::none_of(names.begin(), names.end(), [&](const std::string& n) {
            return IsMatrixName(entry, n);
          });
          if (!whole || !none_own) {
            std::string matrix;
            for (const MatrixAxis& axis : entry.matrix)
              matrix += (matrix.empty() ? "" : ", ") + axis.name;
            throw ManifestError(
                pos, "unknown placeholder {" + *foreign + "} in " + label + "; " +
                         (matrix.empty() ? "this task has no matrix"
                                         : "this task's matrix defines: " + matrix) +
                         (none_own ? ", and no task entry has the id '" + TemplateText(tmpl) +
                                         "' (another entry's id as written there stands for "
                                         "all of its tasks)"
                                   : ""));
          }
          const std::size_t f = *whole;
          const std::uint64_t g = source.GroupsOf(f).first;
          const std::uint64_t first = source.FirstIndexOf(e);
          for (std::uint64_t t = first; t < first + entry.size(); ++t) {
            edges.push_back(TaskGraph::Edge{t, g, /*on_group=*/true, after});
          }
          if (f != e) waits[e].emplace_back(f, false);
          continue;
        }
        source.ForEachTask(e, [&](std::uint64_t index, const TaskSource::Lookup& lookup) {
          const IdKey key = KeyOf(tmpl.Render(lookup, /*shell_quote=*/false));
          wanted.push_back(Wanted{index, slots.Insert(key), j, after});
        });
      }
    }
  }

  std::vector<std::uint64_t> resolved(slots.size(), kUnresolved);
  for (std::size_t e = 0; e < entries.size() && slots.size() > 0; ++e) {
    source.ForEachId(e, [&](std::uint64_t index, const std::string& id) {
      const std::uint32_t* slot = slots.Lookup(KeyOf(id));
      if (slot != nullptr) resolved[*slot] = index;
    });
  }
  slots = IdTable(0);
  const auto entry_of = [&](std::uint64_t task) {
    return static_cast<std::size_t>(&source.EntryOf(task) - entries.data());
  };
  const bool any_gates = std::any_of(entries.begin(), entries.end(), [](const TaskEntry& e) {
    return !e.entry_dependencies.empty();
  });
  std::size_t last_from = entries.size(), last_to = entries.size();
  for (const Wanted& w : wanted) {
    if (resolved[w.slot] != kUnresolved) {
      edges.push_back(TaskGraph::Edge{w.task, resolved[w.slot], /*on_group=*/false, w.after});
      // Which entries wait for which, for the cycles through gates (runs of the same pair are
      // the common case: note each once).
      const std::size_t from = entry_of(w.task), to = entry_of(resolved[w.slot]);
      if (any_gates && from != to && (from != last_from || to != last_to)) {
        waits[from].emplace_back(to, false);
      }
      last_from = from;
      last_to = to;
      continue;
    }
    const std::size_t e = entry_of(w.task);
    const auto& [tmpl, pos] = (w.after ? entries[e].after : entries[e].depends_on)[w.element];
    throw ManifestError(pos, "unknown task id '" + RenderFor(source, e, w.task, tmpl) + "' in " +
                                 (w.after ? "after" : "depends_on") + " of task '" +
                                 source.Id(w.task) +
                                 "'; expected the id of a task in this manifest");
  }
  wanted = {};
  CheckEntryCycles(entries, names, waits);

  TaskGraph graph(std::move(groups), std::move(edges), std::move(gates));
  if (!graph.cycle().empty()) {
    const auto on_cycle = std::find_if(graph.cycle().begin(), graph.cycle().end(),
                                       [](const TaskGraph::Node& n) { return !n.group; });
    const TaskEntry& blamed = source.EntryOf(on_cycle->index);
    const auto& elements = blamed.depends_on.empty() ? blamed.after : blamed.depends_on;
    throw ManifestError(elements.front().second, DescribeCycle(source, graph.cycle()));
  }
  return graph;
}

}  // namespace jobrunner
