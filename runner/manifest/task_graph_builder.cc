#include "manifest/task_graph_builder.h"

#include <algorithm>
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

// Equal for two templates exactly when their parts are: each part as its kind, its length and
// its text, so that no two different sequences of parts give the same key.
std::string KeyOfTemplate(const Template& t) {
  std::string key;
  for (const Template::Part& part : t.parts()) {
    key += part.is_placeholder ? 'p' : 't';
    key += std::to_string(part.text.size()) + ':' + part.text;
  }
  return key;
}

// The first entry whose id is written as `id`, looked up in a table built on first use: a
// dependency on a whole entry is resolved in constant time however many entries there are.
class EntryById {
 public:
  explicit EntryById(const std::vector<TaskEntry>& entries) : entries_(entries) {}
  std::optional<std::size_t> Find(const Template& id) {
    if (first_.empty()) {
      for (std::size_t e = 0; e < entries_.size(); ++e)
        first_.emplace(KeyOfTemplate(entries_[e].id), e);
    }
    const auto it = first_.find(KeyOfTemplate(id));
    if (it == first_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const std::vector<TaskEntry>& entries_;
  std::unordered_map<std::string, std::size_t> first_;
};

// A template as a manifest would write it.
std::string TextOf(const Template& t) {
  std::string text;
  for (const Template::Part& part : t.parts()) {
    if (part.is_placeholder) {
      text += "{" + part.text + "}";
      continue;
    }
    for (char c : part.text) text += c == '{' ? "{{" : c == '}' ? "}}" : std::string(1, c);
  }
  return text;
}

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
    return n.group ? "every task of " + TextOf(source.manifest().entries[n.index].id)
                   : source.Id(n.index);
  };
  std::string text;
  for (const TaskGraph::Node& n : cycle) text += name(n) + " -> ";
  return "dependency cycle: " + text + name(cycle.front()) + " (each depends on the next)";
}

}  // namespace

TaskGraph BuildTaskGraph(const TaskSource& source) {
  const std::vector<TaskEntry>& entries = source.manifest().entries;
  std::vector<TaskGraph::Group> groups;
  for (const TaskEntry& e : entries) groups.push_back(TaskGraph::Group{e.size(), e.priority});
  if (std::none_of(entries.begin(), entries.end(),
                   [](const TaskEntry& e) { return !e.depends_on.empty(); })) {
    return TaskGraph(std::move(groups), {});
  }

  std::vector<TaskGraph::Edge> edges;
  struct Wanted {
    std::uint64_t task = 0;
    std::uint32_t slot = 0;     // in `resolved`
    std::uint32_t element = 0;  // of its entry's depends_on
  };
  std::vector<Wanted> wanted;
  std::uint64_t most = 0;  // ids depends_on may name, at most
  for (const TaskEntry& entry : entries) most += entry.size() * entry.depends_on.size();
  IdTable slots(most);
  EntryById entries_by_id(entries);
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const TaskEntry& entry = entries[e];
    for (std::uint32_t j = 0; j < entry.depends_on.size(); ++j) {
      // Not a structured binding: the lambdas below capture it, which C++17 allows only for
      // variables (clang refuses it).
      const Template& tmpl = entry.depends_on[j].first;
      const SourcePos& pos = entry.depends_on[j].second;
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
              pos, "unknown placeholder {" + *foreign + "} in depends_on; " +
                       (matrix.empty() ? "this task has no matrix"
                                       : "this task's matrix defines: " + matrix) +
                       (none_own ? ", and no task entry has the id '" + TextOf(tmpl) +
                                       "' (another entry's id as written there stands for all "
                                       "of its tasks)"
                                 : ""));
        }
        const std::uint64_t g = *whole;
        const std::uint64_t first = source.FirstIndexOf(e);
        for (std::uint64_t t = first; t < first + entry.size(); ++t) {
          edges.push_back(TaskGraph::Edge{t, g, /*on_group=*/true});
        }
        continue;
      }
      source.ForEachTask(e, [&](std::uint64_t index, const TaskSource::Lookup& lookup) {
        const IdKey key = KeyOf(tmpl.Render(lookup, /*shell_quote=*/false));
        wanted.push_back(Wanted{index, slots.Insert(key), j});
      });
    }
  }

  std::vector<std::uint64_t> resolved(slots.size(), kUnresolved);
  for (std::size_t e = 0; e < entries.size() && slots.size() > 0; ++e) {
    source.ForEachTask(e, [&](std::uint64_t index, const TaskSource::Lookup& lookup) {
      const std::uint32_t* slot = slots.Lookup(KeyOf(entries[e].id.Render(lookup, false)));
      if (slot != nullptr) resolved[*slot] = index;
    });
  }
  slots = IdTable(0);
  for (const Wanted& w : wanted) {
    if (resolved[w.slot] != kUnresolved) {
      edges.push_back(TaskGraph::Edge{w.task, resolved[w.slot], /*on_group=*/false});
      continue;
    }
    const std::size_t e = static_cast<std::size_t>(&source.EntryOf(w.task) - entries.data());
    const auto& [tmpl, pos] = entries[e].depends_on[w.element];
    throw ManifestError(pos, "unknown task id '" + RenderFor(source, e, w.task, tmpl) +
                                 "' in depends_on of task '" + source.Id(w.task) +
                                 "'; expected the id of a task in this manifest");
  }
  wanted = {};

  TaskGraph graph(std::move(groups), std::move(edges));
  if (!graph.cycle().empty()) {
    const auto on_cycle = std::find_if(graph.cycle().begin(), graph.cycle().end(),
                                       [](const TaskGraph::Node& n) { return !n.group; });
    const TaskEntry& blamed = source.EntryOf(on_cycle->index);
    throw ManifestError(blamed.depends_on.front().second, DescribeCycle(source, graph.cycle()));
  }
  return graph;
}

}  // namespace jobrunner
