#include "coordinator/gather.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

namespace jobrunner {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// What a task's last successful attempt left, as results.jsonl records it.
struct Success {
  std::string output;  // run-dir-relative (or absolute) path of its bulk output or stdout
  json result;         // a kind's result, or null
};

std::string Resolve(const std::string& run_dir, const std::string& path) {
  return path.empty() || path[0] == '/' ? path : run_dir + "/" + path;
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

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > (1 << 20)) break;  // a result, not a data set
  }
  return text;
}

bool CopyInto(std::ofstream& out, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out << in.rdbuf();
  return true;
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

std::vector<GatherOutcome> GatherOutputs(const TaskSource& source, const std::string& run_dir) {
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
  std::ifstream results(run_dir + "/results.jsonl");
  std::string line;
  while (std::getline(results, line)) {
    const json attempt = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!attempt.is_object() || attempt.value("outcome", "") != "succeeded") continue;
    if (!attempt.contains("index") || !attempt["index"].is_number_unsigned()) continue;
    const std::uint64_t task = attempt["index"].get<std::uint64_t>();
    if (task >= source.size() || labels.count(entry_of(task)) == 0) continue;
    Success s;
    for (const char* field : {"data", "stdout"}) {
      if (attempt.contains(field) && attempt[field].is_string()) {
        s.output = attempt[field].get<std::string>();
        break;
      }
    }
    if (attempt.contains("result")) s.result = attempt["result"];
    successes[task] = std::move(s);
  }

  std::vector<GatherOutcome> outcomes;
  std::error_code ignored;
  fs::create_directories(run_dir + "/gathered", ignored);
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
    const std::string path = run_dir + "/gathered/" + label + (concat ? ".out" : ".json");
    const std::string temp = path + ".partial";
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    std::uint64_t pieces = 0;
    json sum = json::object();
    for (std::uint64_t t = first[e]; t < first[e] + entry.size(); ++t) {
      const Success& s = successes[t];
      if (concat) {
        pieces += !s.output.empty() && CopyInto(out, Resolve(run_dir, s.output));
        continue;
      }
      json value = s.result;
      if (value.is_null() && !s.output.empty()) {
        value = json::parse(ReadSmallFile(Resolve(run_dir, s.output)), nullptr, false);
      }
      if (value.is_number() || value.is_object()) ++pieces;
      AddNumbers(value, sum);
    }
    if (!concat) out << json{{"tasks", entry.size()}, {"sum", Tidy(sum)}}.dump(2) << "\n";
    out.close();
    if (!out || std::rename(temp.c_str(), path.c_str()) != 0) {
      fs::remove(temp, ignored);
      outcome.note = "cannot write " + path;
    } else {
      outcome.path = path;
      outcome.note = std::to_string(pieces) + " of " + std::to_string(entry.size()) +
                     (concat ? " tasks had output" : " tasks had numbers");
    }
    outcomes.push_back(outcome);
  }
  return outcomes;
}

}  // namespace jobrunner
