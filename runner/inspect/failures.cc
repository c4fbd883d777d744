#include "inspect/failures.h"

#include <map>
#include <unordered_set>

#include "inspect/run_files.h"

namespace jobrunner {
namespace {

constexpr std::string_view kSucceeded = "\"outcome\":\"succeeded\"";

// The "index" of a results line, read from its text: a succeeded line need not be parsed whole.
std::optional<std::uint64_t> IndexOf(std::string_view line) {
  constexpr std::string_view kKey = "\"index\":";
  const std::size_t at = line.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t index = 0;
  std::size_t i = at + kKey.size();
  if (i >= line.size() || line[i] < '0' || line[i] > '9') return std::nullopt;
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    index = index * 10 + static_cast<std::uint64_t>(line[i] - '0');
  }
  return index;
}

}  // namespace

std::vector<AttemptLine> FinalFailures(const std::string& run_dir, const RunHistory* history,
                                       bool live) {
  // Both writers of results.jsonl write compact JSON: a success is known by its text, and only
  // the other lines are parsed.
  std::unordered_set<std::uint64_t> succeeded;
  const auto keep = [&](std::string_view line) {
    if (line.find(kSucceeded) == std::string_view::npos) return true;
    if (history == nullptr) {
      if (std::optional<std::uint64_t> index = IndexOf(line)) succeeded.insert(*index);
    }
    return false;
  };
  std::map<std::uint64_t, AttemptLine> last;
  for (AttemptLine& line : ReadResultsFile(run_dir, keep).attempts) {
    last[line.index] = std::move(line);
  }
  std::vector<AttemptLine> failures;
  for (auto& [index, line] : last) {
    bool failed = false;
    if (history != nullptr) {
      if (index >= history->task_count()) continue;
      const TaskState state = history->StateOf(index, live);
      failed = state == TaskState::kFailed || state == TaskState::kSkipped;
    } else {
      failed = succeeded.count(index) == 0 &&
               (line.outcome == "skipped" || (IsFailureOutcome(line.outcome) && !line.retry));
    }
    if (failed) failures.push_back(std::move(line));
  }
  return failures;
}

void PrintFailedTasks(const std::vector<AttemptLine>& failures, std::ostream& out) {
  for (const AttemptLine& f : failures) {
    out << f.task << '\t' << f.outcome << '\t' << OneLine(FailureReason(f)) << '\n';
  }
}

}  // namespace jobrunner
