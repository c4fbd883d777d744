#include "inspect/report.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <unordered_map>

#include "inspect/entry_groups.h"
#include "inspect/failures.h"
#include "inspect/results_file.h"
#include "inspect/run_files.h"
#include "inspect/timeline.h"
#include "inspect/trace.h"
#include "journal/journal.h"

namespace jobrunner {
namespace {

using nlohmann::json;

// The page: HTML, style and script in one file (runner/inspect/report_page.html), made a string
// at build time. Its script reads the JSON that replaces the placeholder.
constexpr std::string_view kPage =
#include "inspect/report_page.inc"
    ;
constexpr std::string_view kDataPlaceholder = "@REPORT_DATA@";

// Failures listed, and how many of them come with their last output lines.
constexpr std::size_t kFailuresListed = 200;
constexpr std::size_t kFailuresWithTail = 50;
constexpr std::size_t kTailLines = 10;
constexpr std::size_t kMaxManifestShown = std::size_t{256} << 10;

struct LoadedRun {
  std::optional<JournalReplay> journal;
  ResultsFile results;
  Liveness liveness = Liveness::kStopped;
  Timeline timeline;
};

LoadedRun Load(const std::string& run_dir, std::int64_t now_ms) {
  LoadedRun run;
  const bool locked = RunIsLive(run_dir);
  try {
    run.journal = ReplayJournal(run_dir);
  } catch (const JournalError&) {
    // --no-journal: results.jsonl alone.
  }
  const RunHistory* history = run.journal ? &run.journal->history : nullptr;
  run.results = ReadResultsFile(run_dir);
  if (history != nullptr) {
    run.liveness = LivenessOf(locked, *history);
  } else {
    // Without a journal, a summary line says the run ended.
    run.liveness = locked                           ? Liveness::kLive
                   : !run.results.summaries.empty() ? Liveness::kEnded
                                                    : Liveness::kStopped;
  }
  run.timeline = BuildTimeline(run.results, history, run.liveness, now_ms);
  return run;
}

std::string ReadText(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string text(limit, '\0');
  in.read(text.data(), static_cast<std::streamsize>(limit));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

json Counts(const LoadedRun& run) {
  json counts = json::object();
  if (run.journal) {
    const TaskStateCounts c = run.journal->history.Counts(run.liveness == Liveness::kLive);
    for (std::size_t i = 0; i < kTaskStateCount; ++i) {
      counts[std::string(TaskStateName(static_cast<TaskState>(i)))] = c[i];
    }
    return counts;
  }
  // Without a journal: each task's last line.
  std::map<std::uint64_t, const AttemptLine*> last;
  for (const AttemptLine& a : run.results.attempts) last[a.index] = &a;
  for (const auto& [index, line] : last) {
    const std::string state = line->retry ? "waiting" : line->outcome;
    counts[state] = counts.value(state, 0) + 1;
  }
  return counts;
}

json Failures(const std::string& run_dir, const LoadedRun& run) {
  json failures = json::array();
  const RunHistory* history = run.journal ? &run.journal->history : nullptr;
  for (const AttemptLine& f : FinalFailures(run_dir, history, run.liveness == Liveness::kLive)) {
    if (failures.size() == kFailuresListed) break;
    json entry = {{"task", f.task},          {"attempt", f.attempt},
                  {"outcome", f.outcome},    {"reason", FailureReason(f)},
                  {"stderr", f.stderr_path}, {"stdout", f.stdout_path}};
    if (failures.size() < kFailuresWithTail) {
      // stderr says why, when there is one; otherwise the end of stdout may.
      const std::string& log = f.stderr_path.empty() ? f.stdout_path : f.stderr_path;
      if (!log.empty()) {
        entry["tail"] = LastLines(run_dir + "/" + log, kTailLines);
        entry["tail_of"] = log;
      }
    }
    failures.push_back(std::move(entry));
  }
  return failures;
}

json Runs(const LoadedRun& run) {
  json runs = json::array();
  if (!run.journal) return runs;
  const RunHistory& history = run.journal->history;
  for (const RunEntry& r : history.runs()) {
    std::uint64_t slots = 0;
    for (const WorkerEntry& w : history.workers()) slots += w.run == r.number ? w.slots : 0;
    runs.push_back({{"number", r.number},
                    {"start", r.start_ms},
                    {"end", r.end_ms ? json(*r.end_ms) : json(nullptr)},
                    {"exit_status", r.end_ms ? json(r.exit_status) : json(nullptr)},
                    {"workers", r.workers},
                    {"slots", slots}});
  }
  return runs;
}

json Data(const std::string& run_dir, const LoadedRun& run, std::int64_t now_ms) {
  const Timeline& timeline = run.timeline;
  const std::uint64_t tasks = run.journal ? run.journal->info.task_count : 0;
  const EntryGroups groups = ReadEntryGroups(run_dir, tasks);

  json rows = json::array();
  for (const TimelineRow& row : timeline.rows) {
    rows.push_back({{"rank", row.rank},
                    {"host", row.host},
                    {"pid", row.pid},
                    {"slots", row.slots},
                    {"lanes", row.lanes},
                    {"runs", row.runs},
                    {"retired", row.retired}});
  }
  // Attempts as columns of small numbers; task ids and outcome names once each.
  std::vector<std::string> ids, outcomes;
  std::unordered_map<std::string, std::size_t> id_index, outcome_index;
  const auto index_of = [](std::unordered_map<std::string, std::size_t>& index,
                           std::vector<std::string>& names, const std::string& name) {
    auto [it, added] = index.emplace(name, names.size());
    if (added) names.push_back(name);
    return it->second;
  };
  json row = json::array(), lane = json::array(), start = json::array(), duration = json::array();
  json outcome = json::array(), task = json::array(), attempt = json::array(),
       group = json::array();
  for (const TimelineBar& bar : timeline.bars) {
    row.push_back(bar.row);
    lane.push_back(bar.lane);
    start.push_back(bar.start_ms - timeline.start_ms);
    duration.push_back(bar.end_ms - bar.start_ms);
    outcome.push_back(index_of(outcome_index, outcomes, bar.outcome));
    task.push_back(index_of(id_index, ids, bar.task));
    attempt.push_back(bar.attempt);
    group.push_back(groups.Of(bar.index));
  }
  json summaries = json::array();
  for (const json& s : run.results.summaries) summaries.push_back(s);
  std::string manifest = ReadText(run_dir + "/manifest.yaml", kMaxManifestShown);
  return {
      {"title", std::filesystem::path(run_dir).filename().string()},
      {"run_dir", run_dir},
      {"state", LivenessName(run.liveness)},
      {"generated", FormatIsoTime(now_ms)},
      {"tasks", tasks},
      {"counts", Counts(run)},
      {"start", timeline.start_ms},
      {"end", timeline.end_ms},
      {"runs", Runs(run)},
      {"rows", rows},
      {"outcomes", outcomes},
      {"ids", ids},
      {"groups", groups.labels},
      {"attempts",
       {{"row", row},
        {"lane", lane},
        {"start", start},
        {"duration", duration},
        {"outcome", outcome},
        {"task", task},
        {"attempt", attempt},
        {"group", group}}},
      {"failures", Failures(run_dir, run)},
      {"summaries", summaries},
      {"manifest", manifest},
  };
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return Status::Error("cannot write " + path);
  return Status::Ok();
}

}  // namespace

json ReportData(const std::string& run_dir, std::int64_t now_ms) {
  return Data(run_dir, Load(run_dir, now_ms), now_ms);
}

std::string ReportPage(const json& data) {
  // Inside <script>, "</script>" or "<!--" in a string would end or derail the element: every
  // "<" is written as its JSON escape, which reads back the same.
  std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    if (c == '<') {
      escaped += "\\u003c";
    } else {
      escaped += c;
    }
  }
  std::string page(kPage);
  const std::size_t at = page.find(kDataPlaceholder);
  page.replace(at, kDataPlaceholder.size(), escaped);
  return page;
}

Status WriteReport(const std::string& run_dir, const std::string& output,
                   const std::string& trace_path, std::int64_t now_ms) {
  const LoadedRun run = Load(run_dir, now_ms);
  Status written = WriteFile(output, ReportPage(Data(run_dir, run, now_ms)));
  if (!written.ok() || trace_path.empty()) return written;
  return WriteFile(trace_path,
                   ChromeTrace(run.timeline).dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace jobrunner
