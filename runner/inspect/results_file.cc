#include "inspect/results_file.h"

#include <fmt/format.h>

#include <ctime>
#include <fstream>

#include "posix/signal_name.h"

namespace jobrunner {
namespace {

using nlohmann::json;

std::string StringOr(const json& line, const char* key) {
  auto it = line.find(key);
  return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

template <class Int>
std::optional<Int> IntOr(const json& line, const char* key) {
  auto it = line.find(key);
  if (it == line.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<Int>();
}

std::int64_t TimeOr(const json& line, const char* key) {
  return ParseIsoTime(StringOr(line, key)).value_or(0);
}

AttemptLine ToAttempt(const json& line) {
  AttemptLine a;
  a.task = StringOr(line, "task");
  a.index = IntOr<std::uint64_t>(line, "index").value_or(0);
  a.attempt = IntOr<std::uint32_t>(line, "attempt").value_or(0);
  a.worker = IntOr<int>(line, "worker");
  a.host = StringOr(line, "host");
  a.start_ms = TimeOr(line, "start");
  a.end_ms = TimeOr(line, "end");
  a.outcome = StringOr(line, "outcome");
  a.exit_code = IntOr<int>(line, "exit_code");
  a.signal = IntOr<int>(line, "signal");
  auto retry = line.find("retry");
  a.retry = retry != line.end() && retry->is_boolean() && retry->get<bool>();
  a.stdout_path = StringOr(line, "stdout");
  a.stderr_path = StringOr(line, "stderr");
  a.error = StringOr(line, "error");
  a.reason = StringOr(line, "reason");
  return a;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The digits at text[at, at + n) as a number; nullopt unless all are digits.
std::optional<unsigned> Digits(std::string_view text, std::size_t at, std::size_t n) {
  if (at + n > text.size()) return std::nullopt;
  unsigned value = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<std::int64_t> ParseIsoTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return std::nullopt;
  }
  const auto year = Digits(text, 0, 4), month = Digits(text, 5, 2), day = Digits(text, 8, 2);
  const auto hour = Digits(text, 11, 2), minute = Digits(text, 14, 2);
  const auto second = Digits(text, 17, 2), ms = Digits(text, 20, 3);
  if (!year || !month || !day || !hour || !minute || !second || !ms || *month < 1 || *month > 12 ||
      *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const std::int64_t days = DaysFromCivil(*year, *month, *day);
  return ((days * 24 + *hour) * 60 + *minute) * 60'000 + std::int64_t{*second} * 1000 + *ms;
}

std::string FormatIsoTime(std::int64_t unix_ms) {
  const std::int64_t ms = ((unix_ms % 1000) + 1000) % 1000;
  const auto seconds = static_cast<std::time_t>((unix_ms - ms) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", text, ms);
}

ResultsFile ReadResultsFile(const std::string& run_dir,
                            const std::function<bool(std::string_view)>& keep) {
  ResultsFile results;
  std::ifstream in(run_dir + "/results.jsonl", std::ios::binary);
  std::string text;
  while (std::getline(in, text)) {
    if (in.eof()) break;  // no newline after it: not a whole line yet
    if (keep && !keep(text)) continue;
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object()) continue;
    auto summary = line.find("summary");
    if (summary != line.end()) {
      results.summaries.push_back(*summary);
    } else {
      results.attempts.push_back(ToAttempt(line));
    }
  }
  return results;
}

bool IsFailureOutcome(std::string_view outcome) {
  return !outcome.empty() && outcome != "succeeded" && outcome != "interrupted";
}

std::string FailureReason(const AttemptLine& a) {
  std::string reason;
  if (a.outcome == "succeeded") return reason;
  if (a.outcome == "failed") {
    reason = a.exit_code ? fmt::format("exit status {}", *a.exit_code) : "failed";
  } else if (a.outcome == "signaled") {
    reason =
        a.signal ? fmt::format("signal {} ({})", *a.signal, SignalName(*a.signal)) : "signaled";
  } else if (a.outcome == "timed_out") {
    reason = "timed out";
  } else if (a.outcome == "oom") {
    reason = "killed by the OOM killer";
  } else if (a.outcome == "spawn_error") {
    reason = "could not start";
  } else if (a.outcome == "skipped") {
    reason = a.reason.empty() ? "skipped" : a.reason;
  } else if (a.outcome == "worker_lost") {
    reason = "its worker was lost";
  } else {
    reason = a.outcome;
  }
  if (!a.error.empty()) reason += ": " + a.error;
  return reason;
}

}  // namespace jobrunner
