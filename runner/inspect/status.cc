#include "inspect/status.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "inspect/failures.h"
#include "inspect/results_file.h"
#include "manifest/units.h"

namespace jobrunner {
namespace {

using json = nlohmann::ordered_json;

std::string LocalTime(std::int64_t unix_ms) {
  const auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::vector<FailedTask> Failures(const std::string& run_dir, const RunHistory& history, bool live) {
  std::vector<FailedTask> failures;
  for (const AttemptLine& line : FinalFailures(run_dir, &history, live)) {
    if (failures.size() == kMaxFailuresShown) break;
    FailedTask f{line.task,        line.index, line.attempt, line.outcome, FailureReason(line),
                 line.stderr_path, {}};
    if (!line.stderr_path.empty()) {
      f.stderr_tail = LastLines(run_dir + "/" + line.stderr_path, kStderrTailLines);
    }
    failures.push_back(std::move(f));
  }
  return failures;
}

std::string CountsLine(const RunStatus& s) {
  std::vector<std::string> parts;
  // In the order a reader asks: what is done, what went wrong, what is going on, what is left.
  const std::pair<TaskState, const char*> order[] = {
      {TaskState::kSucceeded, "succeeded"},   {TaskState::kFailed, "failed"},
      {TaskState::kSkipped, "skipped"},       {TaskState::kInterrupted, "interrupted"},
      {TaskState::kRunning, "running"},       {TaskState::kWaiting, "waiting"},
      {TaskState::kNotStarted, "not started"}};
  for (const auto& [state, name] : order) {
    const std::uint64_t n = s.counts[static_cast<std::size_t>(state)];
    if (n > 0 || state == TaskState::kSucceeded) parts.push_back(fmt::format("{} {}", n, name));
  }
  return fmt::format("{} tasks: {}", s.tasks, fmt::join(parts, ", "));
}

std::string RunLine(const RunStatus& s) {
  std::string line = s.run_dir;
  if (s.run_number == 0) return line + " (no run has started in it yet)";
  const std::string run = s.run_number > 1 ? fmt::format(", run {}", s.run_number) : "";
  switch (s.liveness) {
    case Liveness::kLive:
      return line + fmt::format(" (live{}: started {}, {} ago)", run, LocalTime(s.started_ms),
                                FormatDurationMs(s.now_ms - s.started_ms));
    case Liveness::kEnded:
      return line + fmt::format(" (ended{}: exit status {}, after {}, at {})", run,
                                s.exit_status.value_or(0),
                                FormatDurationMs(s.ended_ms.value_or(s.started_ms) - s.started_ms),
                                LocalTime(s.ended_ms.value_or(s.started_ms)));
    case Liveness::kStopped:
      return line + fmt::format(
                        " (stopped{}: started {}; no end recorded and its lock is free here, so "
                        "it was killed or crashed, or runs on a host whose lock this file system "
                        "does not show; the journal was last written {} ago)",
                        run, LocalTime(s.started_ms), FormatDurationMs(s.now_ms - s.last_event_ms));
  }
  return line;
}

std::string WorkersLine(const RunStatus& s) {
  std::map<std::string, std::vector<int>> ranks_by_host;
  std::uint64_t slots = 0;
  for (const WorkerEntry& w : s.workers) {
    ranks_by_host[w.host].push_back(w.rank);
    slots += w.slots;
  }
  std::vector<std::string> hosts;
  hosts.reserve(ranks_by_host.size());
  for (const auto& [host, ranks] : ranks_by_host) {
    hosts.push_back(fmt::format("{} {} on {}", ranks.size() == 1 ? "rank" : "ranks",
                                fmt::join(ranks, ","), host));
  }
  std::string line =
      fmt::format("{} ({} slots): {}", s.workers.size(), slots, fmt::join(hosts, "; "));
  for (const WorkerEntry& w : s.workers) {
    if (!w.retired.empty()) {
      line += fmt::format("\n         retired: rank {} on {}: {}", w.rank, w.host, w.retired);
    }
  }
  return line;
}

// How long `t` has run by `s.now_ms`. Never less than nothing: the caller read the time before
// the journal, and a task may have started in between (or on a host whose clock is ahead).
std::int64_t RunningMs(const RunStatus& s, const RunningTask& t) {
  return std::max<std::int64_t>(0, s.now_ms - t.start_ms);
}

json OrNull(const std::optional<std::int64_t>& unix_ms) {
  return unix_ms ? json(FormatIsoTime(*unix_ms)) : json(nullptr);
}

}  // namespace

RunStatus ReadRunStatus(const std::string& run_dir, std::int64_t now_ms) {
  const bool locked = RunIsLive(run_dir);
  const JournalReplay replay = ReplayJournal(run_dir);
  const RunHistory& history = replay.history;
  RunStatus s;
  s.run_dir = run_dir;
  s.now_ms = now_ms;
  s.liveness = LivenessOf(locked, history);
  const bool live = s.liveness == Liveness::kLive;
  s.tasks = history.task_count();
  s.counts = history.Counts(live);
  s.last_event_ms = history.last_event_ms();
  if (!history.runs().empty()) {
    const RunEntry& run = history.runs().back();
    s.run_number = run.number;
    s.started_ms = run.start_ms;
    s.ended_ms = run.end_ms;
    if (run.end_ms) s.exit_status = run.exit_status;
    for (const WorkerEntry& w : history.workers()) {
      if (w.run == run.number) s.workers.push_back(w);
    }
  }
  for (const OpenAttempt& open : history.Open()) {
    if (open.start_ms == 0) continue;
    const WorkerEntry* w = history.FindWorker(open.run, open.rank);
    s.running.push_back(RunningTask{open.task_id, open.index, open.attempt, open.rank,
                                    w != nullptr ? w->host : "", open.start_ms});
  }
  std::sort(s.running.begin(), s.running.end(), [](const RunningTask& a, const RunningTask& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.index < b.index;
  });

  // The rate over the last minute up to now, or up to the run's end. A stopped run has none:
  // when it died is unknown, and its last record may be long before.
  const std::int64_t until = live ? s.now_ms : s.ended_ms.value_or(s.last_event_ms);
  s.rate_window_ms = std::min(kRateWindowMs, until - s.started_ms);
  if (s.run_number > 0 && s.rate_window_ms > 0 && s.liveness != Liveness::kStopped) {
    const std::vector<std::int64_t>& settled = history.settled_times();
    const auto recent = std::count_if(settled.begin(), settled.end(), [&](std::int64_t t) {
      return t > until - s.rate_window_ms && t <= until;
    });
    s.rate_per_s = static_cast<double>(recent) * 1000.0 / static_cast<double>(s.rate_window_ms);
  }
  const std::uint64_t settled = s.counts[static_cast<std::size_t>(TaskState::kSucceeded)] +
                                s.counts[static_cast<std::size_t>(TaskState::kFailed)] +
                                s.counts[static_cast<std::size_t>(TaskState::kSkipped)];
  if (live && s.rate_per_s && *s.rate_per_s > 0) {
    s.eta_ms =
        static_cast<std::int64_t>(static_cast<double>(s.tasks - settled) * 1000.0 / *s.rate_per_s);
  }
  s.failures_total = s.counts[static_cast<std::size_t>(TaskState::kFailed)] +
                     s.counts[static_cast<std::size_t>(TaskState::kSkipped)];
  if (s.failures_total > 0) s.failures = Failures(run_dir, history, live);
  return s;
}

std::string FormatRunStatus(const RunStatus& s, std::size_t max_running) {
  std::string out = "run      " + RunLine(s) + "\n";
  out += "tasks    " + CountsLine(s) + "\n";
  if (s.rate_per_s) {
    out += fmt::format("rate     {:.3g} tasks/s over the last {}", *s.rate_per_s,
                       FormatDurationMs(s.rate_window_ms));
    if (s.eta_ms) out += "; ETA " + FormatDurationMs(*s.eta_ms);
    out += "\n";
  }
  if (!s.workers.empty()) out += "workers  " + WorkersLine(s) + "\n";
  if (!s.running.empty()) {
    out += fmt::format("{} {}{}:\n",
                       s.liveness == Liveness::kLive ? "running " : "stopped while running:",
                       s.running.size(), s.running.size() > max_running ? ", oldest first" : "");
    for (std::size_t i = 0; i < s.running.size() && i < max_running; ++i) {
      const RunningTask& t = s.running[i];
      out += fmt::format("  {}  attempt {}  rank {} on {}  for {}\n", t.id, t.attempt, t.rank,
                         t.host, FormatDurationMs(RunningMs(s, t)));
    }
    if (s.running.size() > max_running) {
      out += fmt::format("  ... and {} more\n", s.running.size() - max_running);
    }
  }
  if (s.failures_total > 0) {
    out += fmt::format(
        "failed   {}{}:\n", s.failures_total,
        s.failures_total > s.failures.size()
            ? fmt::format(" (the first {}; `jobrunner failed` lists all)", s.failures.size())
            : "");
    for (const FailedTask& f : s.failures) {
      out += fmt::format("  {}  {}", f.id, OneLine(f.reason));
      if (f.attempt > 0) out += fmt::format("  (attempt {})", f.attempt);
      if (!f.stderr_path.empty()) out += "  " + f.stderr_path;
      out += "\n";
      for (const std::string& line : f.stderr_tail) out += "    | " + OneLine(line) + "\n";
    }
  }
  return out;
}

json RunStatusJson(const RunStatus& s) {
  json counts = json::object();
  for (std::size_t i = 0; i < kTaskStateCount; ++i) {
    counts[std::string(TaskStateName(static_cast<TaskState>(i)))] = s.counts[i];
  }
  json running = json::array();
  for (const RunningTask& t : s.running) {
    running.push_back({{"task", t.id},
                       {"index", t.index},
                       {"attempt", t.attempt},
                       {"worker", t.rank},
                       {"host", t.host},
                       {"start", FormatIsoTime(t.start_ms)},
                       {"running_s", RunningMs(s, t) / 1000.0}});
  }
  json failures = json::array();
  for (const FailedTask& f : s.failures) {
    failures.push_back({{"task", f.id},
                        {"index", f.index},
                        {"attempt", f.attempt},
                        {"outcome", f.outcome},
                        {"reason", f.reason},
                        {"stderr", f.stderr_path.empty() ? json(nullptr) : json(f.stderr_path)},
                        {"stderr_tail", f.stderr_tail}});
  }
  json workers = json::array();
  for (const WorkerEntry& w : s.workers) {
    workers.push_back({{"rank", w.rank},
                       {"host", w.host},
                       {"pid", w.pid},
                       {"slots", w.slots},
                       {"retired", w.retired.empty() ? json(nullptr) : json(w.retired)}});
  }
  const bool started = s.run_number > 0;
  const std::int64_t until =
      s.liveness == Liveness::kLive ? s.now_ms : s.ended_ms.value_or(s.last_event_ms);
  return {
      {"run_dir", s.run_dir},
      {"state", LivenessName(s.liveness)},
      {"run", s.run_number},
      {"exit_status", s.exit_status ? json(*s.exit_status) : json(nullptr)},
      {"tasks", s.tasks},
      {"counts", counts},
      {"started", started ? OrNull(s.started_ms) : json(nullptr)},
      {"ended", OrNull(s.ended_ms)},
      {"elapsed_s", started ? (until - s.started_ms) / 1000.0 : 0.0},
      {"last_event", s.last_event_ms > 0 ? OrNull(s.last_event_ms) : json(nullptr)},
      {"rate_per_s", s.rate_per_s ? json(*s.rate_per_s) : json(nullptr)},
      {"rate_window_s", s.rate_window_ms / 1000.0},
      {"eta_s", s.eta_ms ? json(*s.eta_ms / 1000.0) : json(nullptr)},
      {"running", running},
      {"failures", failures},
      {"failures_total", s.failures_total},
      {"workers", workers},
  };
}

}  // namespace jobrunner
