#include "manifest/task_source.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <new>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/text.h"

namespace jobrunner {
namespace {

constexpr std::size_t kMaxIdLength = 200;
// CheckUniqueIds keeps 8 bytes per task: this bound keeps that within 2 GiB and turns a runaway
// matrix into a clear error rather than a failed allocation.
constexpr std::uint64_t kMaxCheckedTasks = std::uint64_t{1} << 28;

// The digits of an entry's mixed-radix task number: one per matrix key, and one for all the
// zipped keys together, which advance as one.
struct Digit {
  std::size_t first_axis = 0, end_axis = 0;
  std::uint64_t size = 0;
};

// Calls `visit` with each digit of `entry`'s task number, the lowest first: the zipped keys, if
// any, then the other keys from the last to the first. Without a vector of them: AxisDigits runs
// for every task.
template <class Visit>
void ForEachDigitLowestFirst(const TaskEntry& entry, Visit visit) {
  const std::size_t zip = entry.ZipStart();
  if (zip < entry.matrix.size()) {
    visit(Digit{zip, entry.matrix.size(), entry.matrix[zip].size()});
  }
  for (std::size_t k = zip; k-- > 0;) visit(Digit{k, k + 1, entry.matrix[k].size()});
}

// The digits, the highest first.
std::vector<Digit> DigitsOf(const TaskEntry& entry) {
  std::vector<Digit> digits;
  ForEachDigitLowestFirst(entry, [&digits](const Digit& d) { digits.push_back(d); });
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// Which value of each axis task `local` of `entry` has. The index is a mixed-radix number whose
// lowest digit is the last axis (or the zipped keys, which advance as one), so the first axis
// varies slowest.
// Into `digits`, whose memory is kept: Render runs for every task.
void AxisDigitsInto(const TaskEntry& entry, std::uint64_t local,
                    std::vector<std::uint64_t>& digits) {
  digits.resize(entry.matrix.size());
  ForEachDigitLowestFirst(entry, [&digits, &local](const Digit& d) {
    for (std::size_t k = d.first_axis; k < d.end_axis; ++k) digits[k] = local % d.size;
    local /= d.size;
  });
}

std::vector<std::uint64_t> AxisDigits(const TaskEntry& entry, std::uint64_t local) {
  std::vector<std::uint64_t> digits;
  AxisDigitsInto(entry, local, digits);
  return digits;
}

// The matrix values of a task, one per axis, from its digits, into `values`, whose memory is
// kept.
void AxisValuesInto(const TaskEntry& entry, const std::vector<std::uint64_t>& digits,
                    std::vector<std::string>& values) {
  values.resize(entry.matrix.size());
  for (std::size_t k = 0; k < entry.matrix.size(); ++k) {
    values[k] = entry.matrix[k].ValueAt(digits[k]);
  }
}

std::vector<std::string> AxisValues(const TaskEntry& entry,
                                    const std::vector<std::uint64_t>& digits) {
  std::vector<std::string> values;
  AxisValuesInto(entry, digits, values);
  return values;
}

// Values for a template's placeholders; `task_id` and `attempt` may be null while the id itself
// is rendered, since the manifest does not let an id use them. Passed to a Template as
// std::cref(placeholders): a std::function holding a reference needs no allocation, one holding
// these four pointers would need one for every task rendered.
struct Placeholders {
  const TaskEntry& entry;
  const std::vector<std::string>& values;
  const std::string* task_id;
  const std::string* attempt;

  std::string_view operator()(std::string_view name) const {
    if (name == kTaskIdPlaceholder && task_id) return *task_id;
    if (name == kAttemptPlaceholder && attempt) return *attempt;
    for (std::size_t k = 0; k < entry.matrix.size(); ++k) {
      if (entry.matrix[k].name == name) return values[k];
    }
    return {};  // not reached: the manifest checked every name against the matrix
  }
};

// Python's f'{value:06d}', as disBatch writes its _ZP variables: at least six digits, never cut.
std::string ZeroPadded(std::int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  const std::size_t width = value < 0 ? 5 : 6;
  return (value < 0 ? "-" : "") +
         std::string(digits.size() < width ? width - digits.size() : 0, '0') + digits;
}

// The variables disBatch gives a task, for scripts written for it (those only a worker knows,
// such as DISBATCH_ENGINE_RANK, it adds itself).
void AddDisbatchEnv(const TaskEntry& entry, const CommandList::Task& task,
                    std::vector<std::pair<std::string, std::string>>& env) {
  std::string name = std::filesystem::path(entry.list->name()).filename().string();
  name.erase(std::remove_if(name.begin(), name.end(), [](char c) { return c == '<' || c == '>'; }),
             name.end());
  const auto id = static_cast<std::int64_t>(task.disbatch_id);
  const auto line = static_cast<std::int64_t>(task.line);
  const std::int64_t repeat = task.repeated ? static_cast<std::int64_t>(task.repeat_index) : -1;
  env.emplace_back("DISBATCH_NAMETASKS", std::move(name));
  env.emplace_back("DISBATCH_TASKID", std::to_string(id));
  env.emplace_back("DISBATCH_TASKID_ZP", ZeroPadded(id));
  env.emplace_back("DISBATCH_STREAM_INDEX", std::to_string(line));
  env.emplace_back("DISBATCH_STREAM_INDEX_ZP", ZeroPadded(line));
  env.emplace_back("DISBATCH_REPEAT_INDEX", std::to_string(repeat));
  env.emplace_back("DISBATCH_REPEAT_INDEX_ZP", ZeroPadded(repeat));
  env.emplace_back("DISBATCH_CORES_PER_TASK", std::to_string(std::max(1, entry.needs.cores)));
}

std::string RenderId(const TaskEntry& entry, const std::vector<std::string>& values) {
  const Placeholders placeholders{entry, values, nullptr, nullptr};
  return entry.id.Render(std::cref(placeholders), /*shell_quote=*/false);
}

bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == '\x7f'; }

std::string FormatPos(const SourcePos& pos) {
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

// Ids name files in the output directory, so they must be usable, and readable, as file names.
void CheckIdIsUsable(const TaskEntry& entry, const std::string& id) {
  std::string problem;
  if (id.empty()) {
    problem = "it is empty";
  } else if (id.size() > kMaxIdLength) {
    problem = "it is longer than " + std::to_string(kMaxIdLength) + " bytes";
  } else if (id == "." || id == "..") {
    problem = "ids name output files, so they cannot be . or ..";
  } else if (id.find('/') != std::string::npos) {
    problem = "ids name output files, so they cannot contain '/'";
  } else if (std::any_of(id.begin(), id.end(), IsControl)) {
    problem = "it contains a control character";
  } else if (!IsValidUtf8(id)) {
    // results.jsonl is UTF-8 JSON: an id that is not would be written as another string than the
    // file names it gives, and name no file.
    problem = "ids name output files and results.jsonl lines, so they must be valid UTF-8";
  }
  if (problem.empty()) return;
  std::string shown = id.substr(0, kMaxIdLength);
  std::replace_if(shown.begin(), shown.end(), IsControl, '?');
  if (!IsValidUtf8(shown)) {
    std::replace_if(
        shown.begin(), shown.end(), [](char c) { return c & 0x80; }, '?');
  }
  throw ManifestError(entry.id_pos, "bad task id '" + shown + "': " + problem);
}

// Sorts 64-bit hashes with a radix sort of four 16-bit digits: at 10^7 tasks it takes a fraction
// of std::sort's time, which dominated the start of a run. Needs one scratch copy; where that
// cannot be had, std::sort in place does the same job more slowly.
void SortHashes(std::vector<std::uint64_t>& hashes) {
  std::vector<std::uint64_t> scratch;
  try {
    scratch.resize(hashes.size());
  } catch (const std::bad_alloc&) {
    std::sort(hashes.begin(), hashes.end());
    return;
  }
  constexpr int kDigitBits = 16;
  constexpr std::size_t kBuckets = std::size_t{1} << kDigitBits;
  std::vector<std::size_t> start(kBuckets);
  for (int shift = 0; shift < 64; shift += kDigitBits) {
    std::fill(start.begin(), start.end(), 0);
    for (std::uint64_t h : hashes) ++start[(h >> shift) & (kBuckets - 1)];
    std::size_t next = 0;
    for (std::size_t& bucket : start) next += std::exchange(bucket, next);
    for (std::uint64_t h : hashes) scratch[start[(h >> shift) & (kBuckets - 1)]++] = h;
    hashes.swap(scratch);
  }
}

// Calls visit(local index, lookup) for every task of `entry`, in order. The matrix values advance
// like an odometer (last axis fastest), so each step converts only the digits that change.
void ForEachOf(const TaskEntry& entry,
               const std::function<void(std::uint64_t, const TaskSource::Lookup&)>& visit) {
  const std::uint64_t size = entry.size();
  if (size == 0) return;
  const std::vector<Digit> digits = DigitsOf(entry);
  std::vector<std::uint64_t> at(digits.size(), 0);
  std::vector<std::string> values(entry.matrix.size());
  for (std::size_t k = 0; k < entry.matrix.size(); ++k) values[k] = entry.matrix[k].ValueAt(0);
  const Placeholders placeholders{entry, values, nullptr, nullptr};
  const TaskSource::Lookup lookup = std::cref(placeholders);
  for (std::uint64_t local = 0; local < size; ++local) {
    visit(local, lookup);
    for (std::size_t d = digits.size(); d-- > 0;) {
      const bool carry = ++at[d] == digits[d].size;
      if (carry) at[d] = 0;
      for (std::size_t k = digits[d].first_axis; k < digits[d].end_axis; ++k) {
        values[k] = entry.matrix[k].ValueAt(at[d]);
      }
      if (!carry) break;
    }
  }
}

// The id of a task of a command list: its line, and for a REPEAT line which of its tasks it is,
// after the entry's own id in a manifest.
std::string ListTaskId(const TaskEntry& entry, const CommandList::Task& task) {
  std::string id;
  for (const Template::Part& part : entry.id.parts()) id += part.text;
  if (!id.empty()) id += '-';
  id += std::to_string(task.line);
  if (task.repeated) {
    id += '-';
    id += std::to_string(task.repetition);
  }
  return id;
}

// Calls visit(local index, id) for every task of `entry`, in order.
void ForEachIdOf(const TaskEntry& entry,
                 const std::function<void(std::uint64_t, const std::string&)>& visit) {
  if (entry.list != nullptr) {
    entry.list->ForEach([&](std::uint64_t local, const CommandList::Task& task) {
      visit(local, ListTaskId(entry, task));
    });
    return;
  }
  ForEachOf(entry, [&](std::uint64_t local, const TaskSource::Lookup& lookup) {
    visit(local, entry.id.Render(lookup, /*shell_quote=*/false));
  });
}

// Calls visit(index, entry, id) for every task, in index order.
void ForEachIdOfAll(
    const std::vector<TaskEntry>& entries,
    const std::function<void(std::uint64_t, const TaskEntry&, const std::string&)>& visit) {
  std::uint64_t index = 0;
  for (const TaskEntry& entry : entries) {
    ForEachIdOf(entry, [&](std::uint64_t local, const std::string& id) {
      visit(index + local, entry, id);
    });
    index += entry.size();
  }
}

}  // namespace

TaskSource::TaskSource(Manifest manifest, std::string base_dir)
    : manifest_(std::move(manifest)), base_dir_(std::move(base_dir)) {
  for (std::size_t e = 0; e < manifest_.entries.size(); ++e) {
    const TaskEntry& entry = manifest_.entries[e];
    first_index_.push_back(total_);
    first_group_.push_back(groups_.size());
    const std::uint64_t size = entry.size();
    if (__builtin_add_overflow(total_, size, &total_)) {
      throw ManifestError(entry.pos, "the manifest has more than 2^64 - 1 tasks");
    }
    groups_.push_back(TaskGroup{first_index_.back(), size, e, std::nullopt});
    if (entry.list == nullptr) continue;
    const std::vector<CommandList::Barrier>& barriers = entry.list->barriers();
    for (std::size_t b = 0; b < barriers.size(); ++b) {
      const std::uint64_t at = first_index_.back() + barriers[b].before_task;
      TaskGroup& last = groups_.back();
      // Only the first of the barriers at one place counts: the others are met at once, and the
      // tasks since a barrier just met are none, so a CHECK among them has nothing to judge.
      if (barriers[b].before_task == 0 || at == total_ || at == last.first) continue;
      last.size = at - last.first;
      groups_.push_back(TaskGroup{at, total_ - at, e, b});
    }
  }
  first_group_.push_back(groups_.size());
}

std::size_t TaskSource::EntryIndex(std::uint64_t index) const {
  return std::upper_bound(first_index_.begin(), first_index_.end(), index) - first_index_.begin() -
         1;
}

const TaskEntry& TaskSource::EntryOf(std::uint64_t index) const {
  return manifest_.entries[EntryIndex(index)];
}

std::string TaskSource::ResolveCwd(const std::string& rendered) const {
  std::filesystem::path cwd = rendered;
  if (cwd.is_relative()) cwd = std::filesystem::path(base_dir_) / cwd;
  std::string text = cwd.lexically_normal().string();
  if (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

std::string TaskSource::Id(std::uint64_t index) const {
  const std::size_t e = EntryIndex(index);
  const TaskEntry& entry = manifest_.entries[e];
  if (entry.list != nullptr) {
    return ListTaskId(entry, entry.list->At(index - first_index_[e], /*with_command=*/false));
  }
  return RenderId(entry, AxisValues(entry, AxisDigits(entry, index - first_index_[e])));
}

std::optional<CommandList::Task> TaskSource::ListTask(std::uint64_t index) const {
  const std::size_t e = EntryIndex(index);
  const TaskEntry& entry = manifest_.entries[e];
  if (entry.list == nullptr) return std::nullopt;
  return entry.list->At(index - first_index_[e], /*with_command=*/false);
}

TaskSpec TaskSource::Render(std::uint64_t index, int attempt) const {
  const std::size_t e = EntryIndex(index);
  const TaskEntry& entry = manifest_.entries[e];
  // Kept from task to task (per thread: Render is const), so that rendering allocates only what
  // the TaskSpec keeps.
  thread_local std::vector<std::uint64_t> digits;
  thread_local std::vector<std::string> values;
  std::optional<CommandList::Task> line;
  if (entry.list != nullptr) {
    line = entry.list->At(index - first_index_[e]);
    digits.clear();
    values.clear();
  } else {
    AxisDigitsInto(entry, index - first_index_[e], digits);
    AxisValuesInto(entry, digits, values);
  }

  TaskSpec spec;
  spec.index = index;
  spec.attempt = attempt;
  spec.id = line ? ListTaskId(entry, *line) : RenderId(entry, values);
  const std::string attempt_text = std::to_string(attempt);
  const Placeholders placeholders{entry, values, &spec.id, &attempt_text};
  const TaskSource::Lookup lookup = std::cref(placeholders);

  if (line) {
    spec.argv = {entry.shell_program, "-c", std::move(line->command)};
    AddDisbatchEnv(entry, *line, spec.env);
    spec.disbatch = true;
  } else if (entry.kind == kPythonKind) {
    spec.kind = entry.kind;
    // A placeholder that is a whole argument keeps its value's JSON type: see JsonTemplate.
    const auto json_lookup = [&](std::string_view name) -> std::string_view {
      if (name == kAttemptPlaceholder) return attempt_text;
      for (std::size_t k = 0; k < entry.matrix.size(); ++k) {
        const MatrixAxis& axis = entry.matrix[k];
        if (axis.name != name) continue;
        return axis.is_range ? std::string_view(values[k]) : axis.json_values[digits[k]];
      }
      return {};
    };
    spec.kind_args = entry.python.call.Render(lookup, json_lookup);
  } else if (!entry.kind.empty()) {
    spec.kind = entry.kind;
    spec.isolate = entry.isolate;
    for (const KindArgument& arg : entry.args) {
      spec.args.emplace_back(arg.name, arg.value.Render(lookup, /*shell_quote=*/false));
    }
  } else if (entry.shell) {
    spec.argv = {entry.shell_program, "-c", entry.script.Render(lookup, /*shell_quote=*/true)};
  } else {
    spec.argv.reserve(entry.argv.size());
    for (const Template& argument : entry.argv) {
      spec.argv.push_back(argument.Render(lookup, /*shell_quote=*/false));
    }
  }
  if (entry.cwd) spec.cwd = ResolveCwd(entry.cwd->Render(lookup, /*shell_quote=*/false));
  for (const auto& [name, value] : entry.env) {
    spec.env.emplace_back(name, value.Render(lookup, /*shell_quote=*/false));
  }
  spec.timeout_ms = entry.timeout_ms;
  spec.retries = entry.retries;
  spec.cores = entry.needs.cores;
  spec.memory = entry.needs.memory;
  return spec;
}

std::vector<TaskSpec> TaskSource::PerWorkerCommands(bool start) const {
  std::vector<TaskSpec> commands;
  for (const TaskEntry& entry : manifest_.entries) {
    if (entry.list == nullptr) continue;
    for (const CommandList::PerEngine& p : entry.list->per_engine()) {
      if (p.start != start) continue;
      TaskSpec spec;
      spec.index = commands.size();
      for (const Template::Part& part : entry.id.parts()) spec.id += part.text;
      spec.id += (spec.id.empty() ? "" : "-") + std::string(start ? "start-" : "stop-") +
                 std::to_string(p.line);
      spec.argv = {entry.shell_program, "-c", p.command};
      const std::string attempt = "1";
      const std::vector<std::string> no_values;
      const Placeholders placeholders{entry, no_values, &spec.id, &attempt};
      const TaskSource::Lookup lookup = std::cref(placeholders);
      if (entry.cwd) spec.cwd = ResolveCwd(entry.cwd->Render(lookup, /*shell_quote=*/false));
      CommandList::Task as_task;
      as_task.line = p.line;
      as_task.disbatch_id = p.ordinal;
      AddDisbatchEnv(entry, as_task, spec.env);
      for (const auto& [name, value] : entry.env) {
        spec.env.emplace_back(name, value.Render(lookup, /*shell_quote=*/false));
      }
      spec.timeout_ms = entry.timeout_ms;
      spec.disbatch = true;
      commands.push_back(std::move(spec));
    }
  }
  return commands;
}

std::optional<TaskSpec> TaskSource::NodeCommandSpec(bool setup) const {
  const std::optional<NodeCommand>& command =
      setup ? manifest_.node_setup : manifest_.node_teardown;
  if (!command) return std::nullopt;
  TaskSpec spec;
  spec.id = setup ? "node-setup" : "node-teardown";
  spec.argv = command->argv;
  spec.timeout_ms = command->timeout_ms;
  return spec;
}

void TaskSource::ForEachTask(std::size_t entry,
                             const std::function<void(std::uint64_t, const Lookup&)>& visit) const {
  const std::uint64_t first = first_index_[entry];
  const TaskEntry& e = manifest_.entries[entry];
  if (e.list != nullptr) {
    // No matrix: a lookup that knows no name, for each task.
    const Lookup none = [](std::string_view) { return std::string_view(); };
    for (std::uint64_t local = 0; local < e.size(); ++local) visit(first + local, none);
    return;
  }
  ForEachOf(e, [&](std::uint64_t local, const Lookup& lookup) { visit(first + local, lookup); });
}

void TaskSource::ForEachId(
    std::size_t entry, const std::function<void(std::uint64_t, const std::string&)>& visit) const {
  const std::uint64_t first = first_index_[entry];
  ForEachIdOf(manifest_.entries[entry],
              [&](std::uint64_t local, const std::string& id) { visit(first + local, id); });
}

namespace {

const MatrixAxis* AxisNamed(const TaskEntry& entry, const std::string& name) {
  for (const MatrixAxis& axis : entry.matrix) {
    if (axis.name == name) return &axis;
  }
  return nullptr;
}

// Whether `c` can occur in a value of `axis`: a range's values are digits and a minus sign.
bool AxisMayContain(const MatrixAxis& axis, char c) {
  if (axis.is_range) return (c >= '0' && c <= '9') || c == '-';
  return std::any_of(axis.values.begin(), axis.values.end(),
                     [c](const std::string& v) { return v.find(c) != std::string::npos; });
}

std::size_t LongestValue(const MatrixAxis& axis) {
  if (axis.is_range)
    return std::max(std::to_string(axis.start).size(), std::to_string(axis.stop).size());
  std::size_t longest = 0;
  for (const std::string& v : axis.values) longest = std::max(longest, v.size());
  return longest;
}

bool UsableText(std::string_view text) {
  return text.find('/') == std::string_view::npos &&
         std::none_of(text.begin(), text.end(), IsControl) && IsValidUtf8(text);
}

// Whether the ids of `entry` are, without rendering one, all usable and all different: every
// matrix name appears in the id, list values are distinct and usable, every placeholder but the
// last is followed by a character its values never hold (so an id can be read back into its
// values), and the longest id fits. `prefix` receives the id's text before its first placeholder.
bool IdsProvablyDistinct(const TaskEntry& entry, std::string& prefix) {
  const auto& parts = entry.id.parts();
  prefix.clear();
  if (entry.list != nullptr) {
    // <id>-<line>[-<n>]: distinct by construction, digits and dashes after the id.
    for (const auto& part : parts) prefix += part.text;
    if (!prefix.empty()) prefix += '-';
    constexpr std::size_t kNumbers = 2 * 20 + 1;  // two 64-bit numbers and a dash
    return UsableText(prefix) && prefix.size() + kNumbers <= kMaxIdLength;
  }
  for (const auto& part : parts) {
    if (part.is_placeholder) break;
    prefix += part.text;
  }
  std::size_t longest = 0;
  bool plain_dots_only = true;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].is_placeholder) {
      if (!UsableText(parts[i].text)) return false;
      longest += parts[i].text.size();
      plain_dots_only =
          plain_dots_only && parts[i].text.find_first_not_of('.') == std::string::npos;
      continue;
    }
    const MatrixAxis* axis = AxisNamed(entry, parts[i].text);
    if (axis == nullptr) return false;
    longest += LongestValue(*axis);
    if (axis->is_range) plain_dots_only = false;
    if (i + 1 < parts.size()) {
      const auto& next = parts[i + 1];
      if (next.is_placeholder || next.text.empty() || AxisMayContain(*axis, next.text[0])) {
        return false;
      }
    }
  }
  if (plain_dots_only || longest > kMaxIdLength) return false;
  for (const MatrixAxis& axis : entry.matrix) {
    if (std::none_of(parts.begin(), parts.end(),
                     [&](const auto& p) { return p.is_placeholder && p.text == axis.name; })) {
      return false;  // two tasks differing only in this name would share an id
    }
    if (axis.is_range) continue;
    std::unordered_set<std::string> seen;
    for (const std::string& v : axis.values) {
      if (v.empty() || !UsableText(v) || !seen.insert(v).second) return false;
    }
  }
  return true;
}

// Two prefixes that differ at a position both have: no id of one entry can equal one of the other.
bool Disjoint(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  return a.compare(0, n, b, 0, n) != 0;
}

}  // namespace

bool TaskSource::IdsProvablyUnique() const {
  std::vector<std::string> prefixes;
  prefixes.reserve(manifest_.entries.size());
  for (const TaskEntry& entry : manifest_.entries) {
    std::string prefix;
    if (!IdsProvablyDistinct(entry, prefix)) return false;
    prefixes.push_back(std::move(prefix));
  }
  // Two prefixes overlap when one begins the other. In sorted order every prefix that lies
  // between such a pair begins with the shorter one too, so comparing neighbours finds an overlap
  // if there is any: O(n log n) instead of every pair, which took minutes at 10^5 entries.
  std::sort(prefixes.begin(), prefixes.end());
  for (std::size_t i = 1; i < prefixes.size(); ++i) {
    if (!Disjoint(prefixes[i - 1], prefixes[i])) return false;
  }
  return true;
}

void TaskSource::CheckUniqueIds() const {
  // The run keeps a little state per task (and this check 8 bytes): a bound on the count keeps a
  // typo in a range from asking for gigabytes.
  if (total_ > kMaxCheckedTasks) {
    throw ManifestError(EntryOf(kMaxCheckedTasks).pos,
                        "the manifest has " + std::to_string(total_) + " tasks; expected at most " +
                            std::to_string(kMaxCheckedTasks) + ", whose ids can be checked");
  }
  // Large matrices with ids like `convert-{n}` need no look at each id: the manifest's shape
  // proves them unique (a 10^7-task check took most of a second before the first task started).
  if (IdsProvablyUnique()) return;
  // First pass: 8 bytes per task. Equal hashes are candidates only; a second pass compares the
  // ids behind them, so memory stays at one hash per task however long the ids are.
  std::vector<std::uint64_t> hashes;
  try {
    hashes.reserve(total_);
  } catch (const std::bad_alloc&) {
    throw ManifestError(manifest_.entries.front().pos,
                        "not enough memory to check the ids of " + std::to_string(total_) +
                            " tasks (8 bytes each); split the manifest");
  }
  ForEachIdOfAll(manifest_.entries,
                 [&hashes](std::uint64_t, const TaskEntry& entry, const std::string& id) {
                   CheckIdIsUsable(entry, id);
                   hashes.push_back(std::hash<std::string>{}(id));
                 });
  SortHashes(hashes);
  std::vector<std::uint64_t> colliding;
  for (std::size_t i = 1; i < hashes.size(); ++i) {
    if (hashes[i] == hashes[i - 1] && (colliding.empty() || colliding.back() != hashes[i])) {
      colliding.push_back(hashes[i]);
    }
  }
  hashes = {};
  if (colliding.empty()) return;

  std::unordered_map<std::string, std::uint64_t> first_index;  // only ids with a colliding hash
  ForEachIdOfAll(
      manifest_.entries, [&](std::uint64_t index, const TaskEntry& entry, const std::string& id) {
        if (!std::binary_search(colliding.begin(), colliding.end(), std::hash<std::string>{}(id))) {
          return;
        }
        const auto [it, added] = first_index.emplace(id, index);
        if (added) return;
        const TaskEntry& first = EntryOf(it->second);
        std::string message = "duplicate task id '" + id + "': also produced by the task at " +
                              FormatPos(first.id_pos);
        if (&first == &entry) {
          message += "; each task of a matrix needs its own id, so use the matrix names in it";
        }
        throw ManifestError(entry.id_pos, message);
      });
}

std::string CommandLine(const TaskSpec& task, std::string_view default_shell) {
  std::string line;
  AppendCommandLine(task, default_shell, line);
  return line;
}

void AppendCommandLine(const TaskSpec& task, std::string_view default_shell, std::string& line) {
  std::size_t size = line.size();
  for (const std::string& word : task.argv) size += word.size() + 3;  // a space, two quotes
  line.reserve(size + default_shell.size());
  for (std::size_t i = 0; i < task.argv.size(); ++i) {
    if (i > 0) line += ' ';
    AppendShellQuoted(i == 0 && task.argv[0].empty() ? default_shell : task.argv[i], line);
  }
}

}  // namespace jobrunner
