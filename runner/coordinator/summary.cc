#include "coordinator/summary.h"

#include <algorithm>
#include <sstream>

#include "manifest/units.h"

namespace jobrunner {
namespace {

// One task a line, with the last line of its stderr and its log under it.
void ListFailures(const std::vector<FailureNote>& notes, std::uint64_t total,
                  std::ostringstream& out) {
  for (const FailureNote& note : notes) {
    out << "    " << note.task << ": " << note.what;
    if (note.attempt > 1) out << " (attempt " << note.attempt << ")";
    out << "\n";
    if (!note.lines.empty()) out << "      | " << note.lines.back() << "\n";
    if (!note.log.empty()) out << "      log: " << note.log << "\n";
  }
  if (total > notes.size()) {
    out << "    ... and " << total - notes.size() << " more, in results.jsonl\n";
  }
}

}  // namespace

void SlowestTasks::Offer(const std::string& id, int attempt, std::int64_t duration_ms) {
  if (keep_ == 0) return;
  if (heap_.size() < keep_) {
    heap_.push(SlowTask{id, attempt, duration_ms});
  } else if (duration_ms > heap_.top().duration_ms) {
    heap_.pop();
    heap_.push(SlowTask{id, attempt, duration_ms});
  }
}

std::vector<SlowTask> SlowestTasks::Sorted() const {
  auto copy = heap_;
  std::vector<SlowTask> out;
  while (!copy.empty()) {
    out.push_back(copy.top());
    copy.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string FormatSummary(const RunSummary& s) {
  std::ostringstream out;
  out << "jobrunner: " << s.tasks << " tasks in " << FormatDurationMs(s.wall_ms) << ": ";
  bool first = true;
  for (int i = 0; i < kOutcomeCount; ++i) {
    if (s.by_outcome[i] == 0 && i != 0) continue;
    out << (first ? "" : ", ") << s.by_outcome[i] << " " << OutcomeName(static_cast<Outcome>(i));
    first = false;
  }
  if (s.not_run > 0) out << ", " << s.not_run << " not run";
  out << " (" << s.attempts << " attempts, " << s.retried << " retried)\n";
  if (!s.stopped.empty()) out << "  stopped: " << s.stopped << "\n";
  if (!s.failed.empty()) {
    out << "  not succeeded (" << s.failed_total << "):\n";
    ListFailures(s.failed, s.failed_total, out);
  }
  if (!s.failed_earlier.empty()) {
    out << "  failed in earlier runs, not run again (" << s.failed_earlier_total
        << "; --retry-failed runs them):\n";
    ListFailures(s.failed_earlier, s.failed_earlier_total, out);
  }
  for (const std::string& worker : s.retired) out << "  retired worker: " << worker << "\n";
  if (!s.slowest.empty()) {
    out << "  slowest:";
    const char* separator = " ";
    for (const SlowTask& t : s.slowest) {
      out << separator << t.id
          << (t.attempt > 1 ? " (attempt " + std::to_string(t.attempt) + ")" : "") << " "
          << FormatDurationMs(t.duration_ms);
      separator = ", ";
    }
    out << "\n";
  }
  out << "  results: " << s.run_dir << "/results.jsonl\n";
  return out.str();
}

}  // namespace jobrunner
