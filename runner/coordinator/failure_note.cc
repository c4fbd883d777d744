#include "coordinator/failure_note.h"

#include <fmt/format.h>

#include "manifest/units.h"
#include "posix/signal_name.h"

namespace jobrunner {
namespace {

// What a shell's exit status says beyond its number: 127 and 126 are its own, and 128 + N is how
// it reports a command it ran that signal N killed.
std::string ShellMeaning(int exit_code) {
  if (exit_code == 127) return ": command not found";
  if (exit_code == 126) return ": command found but not executable";
  if (exit_code > 128 && exit_code < 128 + 65) {
    return ": a command it ran was killed by " + SignalName(exit_code - 128);
  }
  return "";
}

std::string Exited(int exit_code, const CommandShape& shape) {
  return fmt::format("failed with exit status {}{}", exit_code,
                     shape.shell ? ShellMeaning(exit_code) : "");
}

std::string TimedOut(int signal, const CommandShape& shape) {
  std::string text = "timed out";
  if (shape.timeout_ms > 0) text += " after " + FormatDurationMs(shape.timeout_ms);
  // SIGKILL comes only after the grace: the task did not stop on SIGTERM.
  if (signal != 0 && SignalName(signal) == "SIGKILL")
    text += " and was killed, having ignored SIGTERM";
  return text;
}

std::string KilledByOom(std::uint64_t memory_limit) {
  if (memory_limit == 0) return "was killed by the kernel's OOM killer: the node ran out of memory";
  return "was killed by the OOM killer: it went past its memory limit of " +
         FormatByteSize(memory_limit);
}

}  // namespace

std::string DescribeEnd(const AttemptResult& r, const CommandShape& shape) {
  // A task kind's error (a Python exception, an interpreter that died) says more than its status.
  const std::string detail = r.error.empty() ? "" : ": " + r.error;
  switch (r.outcome) {
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      // A task kind says what went wrong in words; a command, by its exit status.
      return r.error.empty() ? Exited(r.exit_code, shape) : "failed: " + r.error;
    case Outcome::kSignaled:
      return "was killed by " + SignalName(r.signal) + detail;
    case Outcome::kOom:
      return KilledByOom(r.memory_limit) + detail;
    case Outcome::kTimedOut:
      return TimedOut(r.signal, shape) + detail;
    case Outcome::kSpawnError:
      return "could not start: " + r.error;
    case Outcome::kInterrupted:
      return "was interrupted";
    case Outcome::kSkipped:
      return "was skipped";
  }
  return "ended";
}

std::string DescribeEnd(const RunLedger::Failure& f, const CommandShape& shape) {
  switch (f.outcome) {
    case JournalOutcome::kFailed:
      return Exited(f.exit_code, shape);
    case JournalOutcome::kSignaled:
      return "was killed by " + SignalName(f.signal);
    case JournalOutcome::kOom:
      return "was killed by the OOM killer";
    case JournalOutcome::kTimedOut:
      return TimedOut(f.signal, shape);
    case JournalOutcome::kSpawnError:
      return "could not start";
    case JournalOutcome::kWorkerLost:
      return "was lost with its worker";
    default:
      return std::string(JournalOutcomeName(f.outcome));
  }
}

std::vector<std::string> LastLines(std::string_view tail, bool cut, std::size_t max_lines,
                                   std::size_t max_width) {
  // A first line whose start was cut off is no line; it stays only when it is all there is.
  if (cut) {
    const std::size_t newline = tail.find('\n');
    if (newline != std::string_view::npos && newline + 1 < tail.size()) {
      tail.remove_prefix(newline + 1);
    }
  }
  std::vector<std::string> lines;
  std::size_t end = tail.size();
  while (end > 0 && lines.size() < max_lines) {
    std::size_t start = tail.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    std::string_view raw = tail.substr(start, end - start);
    end = start == 0 ? 0 : start - 1;
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r')) {
      raw.remove_suffix(1);
    }
    if (raw.empty()) continue;
    // Control characters (escape sequences above all) would act on the terminal; UTF-8 passes.
    std::string line;
    for (char c : raw) {
      const auto byte = static_cast<unsigned char>(c);
      line += byte == '\t' ? ' ' : (byte < 0x20 || byte == 0x7f) ? '?' : c;
    }
    if (line.size() > max_width) {
      std::size_t keep = max_width - 3;
      while (keep > 0 && (static_cast<unsigned char>(line[keep]) & 0xC0) == 0x80) --keep;
      line = line.substr(0, keep) + "...";
    }
    lines.insert(lines.begin(), std::move(line));
  }
  return lines;
}

}  // namespace jobrunner
