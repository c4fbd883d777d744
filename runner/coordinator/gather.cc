#include "coordinator/gather.h"

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>

#include "coordinator/results.h"
#include "posix/file.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace {

using nlohmann::json;

// What a task's last successful attempt left, as results.jsonl records it.
// bugprone-exception-escape: json's noexcept move checks an invariant in a function that
// clang-tidy cannot see is noexcept too.
struct Success {       // NOLINT(bugprone-exception-escape)
  std::string output;  // run-dir-relative (or absolute) path of its bulk output or stdout
  json result;         // a kind's result, or null
};

// A file results.jsonl names, relative to the run directory ("logs/x.1.out", "data/x.1.txt"),
// opened without following a link on the way; nothing for any other path.
std::optional<UniqueFd> OpenOutput(const Dir& run_dir, const std::string& path) {
  const std::size_t slash = path.find('/');
  if (path.empty() || slash == std::string::npos || slash == 0) return std::nullopt;
  StatusOr<Dir> dir = run_dir.OpenSubdirectory(path.substr(0, slash), /*create=*/false);
  if (!dir.ok()) return std::nullopt;
  StatusOr<UniqueFd> file = dir->OpenForRead(path.substr(slash + 1));
  if (!file.ok()) return std::nullopt;
  return std::move(*file);
}

// The numeric fields of `value` added into `sum`; a bare number counts as "value".
void AddNumbers(const json& value, json& sum) {
  if (value.is_number()) {
    sum["value"] = sum.value("value", 0.0) + value.get<double>();
    return;
  }
  if (!value.is_object()) return;
  for (const auto& [name, field] : value.items()) {
    if (field.is_number() && !field.is_boolean()) {
      sum[name] = sum.value(name, 0.0) + field.get<double>();
    }
  }
}

// Whole numbers print as integers, so a sum of line counts reads 4096, not 4096.0.
json Tidy(const json& sum) {
  json tidy = json::object();
  for (const auto& [name, value] : sum.items()) {
    const double v = value.get<double>();
    if (v == static_cast<double>(static_cast<std::int64_t>(v))) {
      tidy[name] = static_cast<std::int64_t>(v);
    } else {
      tidy[name] = v;
    }
  }
  return tidy;
}

std::string ReadSmallFile(const Dir& run_dir, const std::string& path) {
  constexpr std::size_t kLimit = 1 << 20;  // a result, not a data set
  std::optional<UniqueFd> file = OpenOutput(run_dir, path);
  if (!file) return "";
  StatusOr<std::string> text = ReadRest(file->get(), 0, kLimit);
  return text.ok() ? std::move(*text) : "";
}

// Appends the file at `path` to `out`; false when it cannot be read. Throws ResultsError when
// `out` cannot be written.
bool CopyInto(int out, const std::string& out_path, const Dir& run_dir, const std::string& path) {
  constexpr std::size_t kChunk = 1 << 20;
  std::optional<UniqueFd> file = OpenOutput(run_dir, path);
  if (!file) return false;
  for (std::uint64_t offset = 0;;) {
    StatusOr<std::string> chunk = ReadRest(file->get(), offset, kChunk);
    if (!chunk.ok()) return false;
    if (chunk->empty()) return true;
    offset += chunk->size();
    if (Status written = WriteAll(out, *chunk); !written.ok()) {
      throw ResultsError("cannot write " + out_path + ": " + written.message());
    }
  }
}

}  // namespace

std::string GatherLabel(const TaskEntry& entry, std::size_t entry_number) {
  std::string label;
  for (const auto& part : entry.id.parts()) {
    if (!part.is_placeholder) label += part.text;
  }
  // "a-{n}-b" leaves "a--b": separators that met are merged, and none is left at the ends.
  std::string tidy;
  for (char c : label) {
    const bool separator = c == '-' || c == '_' || c == '.';
    if (separator && (tidy.empty() || tidy.back() == c)) continue;
    tidy += c;
  }
  while (!tidy.empty() && (tidy.back() == '-' || tidy.back() == '_' || tidy.back() == '.')) {
    tidy.pop_back();
  }
  return tidy.empty() ? "entry-" + std::to_string(entry_number + 1) : tidy;
}

std::vector<GatherOutcome> GatherOutputs(const TaskSource& source, const Dir& run_dir) {
  const std::vector<TaskEntry>& entries = source.manifest().entries;
  std::vector<std::uint64_t> first(entries.size());
  std::map<std::size_t, std::string> labels;  // gathered entries only
  std::set<std::string> used;
  std::uint64_t index = 0;
  for (std::size_t e = 0; e < entries.size(); ++e) {
    first[e] = index;
    index += entries[e].size();
    if (entries[e].gather == Gather::kNone) continue;
    std::string label = GatherLabel(entries[e], e);
    if (!used.insert(label).second) label += "-" + std::to_string(e + 1);
    used.insert(label);
    labels[e] = label;
  }
  if (labels.empty()) return {};

  auto entry_of = [&](std::uint64_t task) {
    return static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), task) -
                                    first.begin() - 1);
  };
  std::unordered_map<std::uint64_t, Success> successes;
  auto note = [&](std::string_view line) {
    const json attempt = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!attempt.is_object() || attempt.value("outcome", "") != "succeeded") return;
    if (!attempt.contains("index") || !attempt["index"].is_number_unsigned()) return;
    const std::uint64_t task = attempt["index"].get<std::uint64_t>();
    if (task >= source.size() || labels.count(entry_of(task)) == 0) return;
    Success s;
    for (const char* field : {"data", "stdout"}) {
      if (attempt.contains(field) && attempt[field].is_string()) {
        s.output = attempt[field].get<std::string>();
        break;
      }
    }
    if (attempt.contains("result")) s.result = attempt["result"];
    successes[task] = std::move(s);
  };
  std::vector<GatherOutcome> outcomes;
  StatusOr<UniqueFd> results = run_dir.OpenForRead(kResultsFile);
  Status read = results.ok() ? ForEachLine(results->get(), note) : results.status();
  StatusOr<Dir> gathered = run_dir.OpenSubdirectory(kGatheredDir, /*create=*/true);
  if (!read.ok() || !gathered.ok()) {
    const std::string why =
        !read.ok()
            ? "cannot read " + run_dir.PathOf(kResultsFile) + ": " + read.message()
            : "cannot use " + run_dir.PathOf(kGatheredDir) + ": " + gathered.status().message();
    for (const auto& [e, label] : labels) outcomes.push_back(GatherOutcome{label, "", why});
    return outcomes;
  }
  for (const auto& [e, label] : labels) {
    const TaskEntry& entry = entries[e];
    const bool concat = entry.gather == Gather::kConcat;
    GatherOutcome outcome{label, "", ""};
    std::uint64_t missing = 0;
    for (std::uint64_t t = first[e]; t < first[e] + entry.size(); ++t)
      missing += successes.count(t) == 0;
    if (missing > 0) {
      outcome.note = std::to_string(missing) + " of " + std::to_string(entry.size()) +
                     " tasks have not succeeded; nothing gathered";
      outcomes.push_back(outcome);
      continue;
    }
    const std::string name = label + (concat ? ".out" : ".json");
    const std::string path = gathered->PathOf(name);
    const std::string temp = name + ".partial";
    try {
      // A temporary file a crash left (or a link put there) goes; the new one is created, never
      // opened through a link, and renamed over whatever holds the name.
      if (Status removed = gathered->Remove(temp); !removed.ok()) {
        throw ResultsError("cannot remove " + gathered->PathOf(temp) + ": " + removed.message());
      }
      StatusOr<UniqueFd> out = gathered->CreateFile(temp);
      if (!out.ok()) {
        throw ResultsError("cannot create " + gathered->PathOf(temp) + ": " +
                           out.status().message());
      }
      std::uint64_t pieces = 0;
      json sum = json::object();
      for (std::uint64_t t = first[e]; t < first[e] + entry.size(); ++t) {
        const Success& s = successes[t];
        if (concat) {
          pieces += !s.output.empty() && CopyInto(out->get(), path, run_dir, s.output);
          continue;
        }
        json value = s.result;
        if (value.is_null() && !s.output.empty()) {
          value = json::parse(ReadSmallFile(run_dir, s.output), nullptr, false);
        }
        if (value.is_number() || value.is_object()) ++pieces;
        AddNumbers(value, sum);
      }
      if (!concat) {
        const std::string text = json{{"tasks", entry.size()}, {"sum", Tidy(sum)}}.dump(2) + "\n";
        if (Status written = WriteAll(out->get(), text); !written.ok()) {
          throw ResultsError("cannot write " + path + ": " + written.message());
        }
      }
      if (Status renamed = gathered->Rename(temp, name); !renamed.ok()) {
        throw ResultsError("cannot rename into " + path + ": " + renamed.message());
      }
      outcome.path = path;
      outcome.note = std::to_string(pieces) + " of " + std::to_string(entry.size()) +
                     (concat ? " tasks had output" : " tasks had numbers");
    } catch (const ResultsError& e) {
      (void)gathered->Remove(temp);
      outcome.note = e.what();
    }
    outcomes.push_back(outcome);
  }
  return outcomes;
}

}  // namespace jobrunner
