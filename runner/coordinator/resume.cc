#include "coordinator/resume.h"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>

#include "base/clock.h"
#include "coordinator/interrupted.h"
#include "posix/default_shell.h"
#include "posix/file.h"
#include "rundir/run_dir.h"
#include "schedule/resume_point.h"

namespace jobrunner {
namespace {

std::string Quoted(const std::string& line) {
  constexpr std::size_t kShown = 60;
  return "'" + (line.size() > kShown ? line.substr(0, kShown) + "..." : line) + "'";
}

// The command of an attempt known only from the journal, which does not say which shell its
// worker had: this host's default stands in for it.
std::string RecoveredCommand(const TaskSource& source, std::uint64_t index, std::uint32_t attempt) {
  return CommandLine(source.Render(index, static_cast<int>(attempt)), DefaultShell());
}

}  // namespace

std::string DescribeManifestChange(const std::string& before, const std::string& now,
                                   std::uint64_t tasks_before, std::uint64_t tasks_now) {
  std::string out = tasks_before == tasks_now
                        ? fmt::format("the same {} tasks", tasks_now)
                        : fmt::format("{} tasks before, {} now", tasks_before, tasks_now);
  std::istringstream a(before), b(now);
  std::string line_a, line_b;
  for (int line = 1;; ++line) {
    bool more_a = static_cast<bool>(std::getline(a, line_a));
    bool more_b = static_cast<bool>(std::getline(b, line_b));
    if (!more_a && !more_b) break;
    if (more_a && more_b && line_a == line_b) continue;
    out += fmt::format("; line {} was {}, is {}", line, more_a ? Quoted(line_a) : "absent",
                       more_b ? Quoted(line_b) : "absent");
    break;
  }
  return out;
}

std::string DescribeListChange(const Dir& run_dir, const std::string& copy_name,
                               const std::string& now_path, const std::string& name) {
  std::ifstream now(now_path, std::ios::binary);
  std::string line_now;
  std::uint64_t line = 0;
  std::string change;
  const auto compare = [&](const std::string* before) {
    ++line;
    const bool more_now = static_cast<bool>(std::getline(now, line_now));
    if (before != nullptr && more_now && *before == line_now) return;
    change = name + ":" + std::to_string(line) + " was " + (before ? Quoted(*before) : "absent") +
             ", is " + (more_now ? Quoted(line_now) : "absent");
  };
  StatusOr<UniqueFd> copy = run_dir.OpenForRead(copy_name);
  if (!copy.ok() && copy.status().code() == ENOENT) {
    return name +
           ": the run has no whole copy of the list it started with (it was stopped "
           "while it copied it to " +
           run_dir.PathOf(copy_name) + "), so the changed line is not known";
  }
  if (copy.ok()) {
    const Status read = ForEachLine(copy->get(), [&](std::string_view text) {
      if (!change.empty()) return;
      const std::string before(text);
      compare(&before);
    });
    if (!read.ok()) change.clear();
  }
  if (change.empty() && std::getline(now, line_now)) {
    change = name + ":" + std::to_string(line + 1) + " was absent, is " + Quoted(line_now);
  }
  return change;
}

JournalWriter PrepareResume(const ResumeOptions& options, const Dir& run_dir,
                            const TaskSource& source, RunLedger& ledger, ResultsWriter& results,
                            Reporter& reporter) {
  JournalInfo info;
  try {
    info = ReadJournal(run_dir, kJournalFile, [&](const JournalRecord& r) { ledger.Apply(r); });
  } catch (const JournalError& e) {
    throw ResumeError(std::string(e.what()) + "; cannot resume " + run_dir.path());
  }
  if (info.torn_tail) reporter.Warn("journal: " + *info.torn_tail + " (ignored)");
  if (ledger.highest_attempt() > static_cast<std::uint32_t>(kMaxAttempt)) {
    const std::uint64_t task = ledger.highest_attempt_task();
    throw ResumeError(fmt::format(
        "the journal records attempt {} of task {}, more than the {} a task may have: it was "
        "altered or damaged; cannot resume {}",
        ledger.highest_attempt(),
        task < source.size() ? source.Id(task) : "number " + std::to_string(task), kMaxAttempt,
        run_dir.path()));
  }

  if (info.manifest_hash != options.input_hash) {
    const std::string change = options.describe_change(info.task_count);
    if (!options.force) {
      throw ResumeError(fmt::format(
          "the manifest differs from the one {} was started with ({}); resume with the original "
          "manifest, or add --force to go on with this one (tasks are matched by their position "
          "in the manifest)",
          run_dir.path(), change));
    }
    reporter.Warn("resuming with a changed manifest (" + change + ")");
  } else if (!options.manifest_text.empty() && !ReadRunFile(run_dir, kManifestCopyFile)) {
    WriteManifestCopy(run_dir, options.manifest_text);
  }

  JournalWriter journal = JournalWriter::Append(run_dir, kJournalFile, info.valid_end);

  // Lines a crash kept out of results.jsonl come back from the journal; an attempt dropped from
  // a worker's queue never ran (it has neither start nor end time) and has no line.
  const auto recorded = results.RecordedAttempts();
  std::uint64_t recovered = 0;
  std::optional<TaskOutputRecord> output;  // the one just before a TaskFinished, if any
  ReadJournal(run_dir, kJournalFile, [&](const JournalRecord& record) {
    if (const auto* o = std::get_if<TaskOutputRecord>(&record)) {
      output = *o;
      return;
    }
    std::optional<TaskOutputRecord> mine = std::exchange(output, std::nullopt);
    if (const auto* s = std::get_if<TaskSkippedRecord>(&record)) {
      if (s->index >= source.size() || recorded.count({s->index, 0}) != 0) return;
      results.Skipped(source.Id(s->index), s->index, s->reason, /*recovered=*/true);
      ++recovered;
      return;
    }
    const auto* r = std::get_if<TaskFinishedRecord>(&record);
    if (r == nullptr || r->index >= source.size()) return;
    if (r->outcome == JournalOutcome::kInterrupted && r->start_ms == 0 && r->end_ms == 0) return;
    if (recorded.count({r->index, r->attempt}) != 0) return;
    const bool matches = mine && mine->index == r->index && mine->attempt == r->attempt;
    results.FromJournal(source.Id(r->index), *r, /*recovered=*/true, matches ? &*mine : nullptr,
                        RecoveredCommand(source, r->index, r->attempt));
    ++recovered;
  });
  if (recovered > 0) {
    reporter.Info("restored " + std::to_string(recovered) +
                  " results.jsonl lines from the journal");
  }

  // A run that died without recording its end: with one rank, the worker died with the
  // coordinator, and what it had in flight counts toward "killed its worker" (run_ledger.h).
  if (!ledger.last_run_ended()) {
    for (const std::string& id :
         RecordInFlightAsLost(source, SystemClock(), /*recovered=*/true,
                              /*worker_rank=*/0, ledger, journal, results)) {
      reporter.Warn("task " + id +
                    " failed: it killed or stopped its worker (the worker's only "
                    "task at " +
                    std::to_string(kWorkerDeathsToFail) + " of its deaths)");
    }
  }
  const std::size_t interrupted =
      RecordInFlightAsInterrupted(source, SystemClock(), /*recovered=*/true, ledger, journal,
                                  results, [&source](const RunLedger::Unfinished& u) {
                                    return RecoveredCommand(source, u.index, u.attempt);
                                  });
  if (interrupted > 0) {
    reporter.Info(std::to_string(interrupted) +
                  " tasks were running when the run stopped; they run again");
  }
  journal.Sync();
  results.Flush();
  return journal;
}

}  // namespace jobrunner
