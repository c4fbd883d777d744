#include "results.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace jobrunner {
namespace {

using nlohmann::json;

// ISO 8601 in UTC with milliseconds: "2026-11-23T17:39:35.123Z".
std::string IsoTime(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return text;
}

json Relative(const std::string& run_dir, const std::string& path) {
  if (path.empty()) return nullptr;
  if (path.compare(0, run_dir.size() + 1, run_dir + "/") == 0)
    return path.substr(run_dir.size() + 1);
  return path;
}

}  // namespace

ResultsWriter::ResultsWriter(const std::string& run_dir)
    : run_dir_(run_dir), path_(run_dir + "/results.jsonl") {
  out_.open(path_, std::ios::out | std::ios::trunc);
  if (!out_) throw std::runtime_error("cannot create " + path_);
}

void ResultsWriter::Attempt(const std::string& task_id, const AttemptResult& r, int worker_rank,
                            const std::string& host, bool will_retry) {
  json line = {
      {"task", task_id},
      {"index", r.index},
      {"attempt", r.attempt},
      {"worker", worker_rank},
      {"host", host},
      {"start", IsoTime(r.start_ms)},
      {"end", IsoTime(r.end_ms)},
      {"duration_s", static_cast<double>(r.end_ms - r.start_ms) / 1000.0},
      {"outcome", OutcomeName(r.outcome)},
      {"exit_code", r.outcome == Outcome::kSucceeded || r.outcome == Outcome::kFailed
                        ? json(r.exit_code)
                        : json(nullptr)},
      {"signal", r.signal != 0 ? json(r.signal) : json(nullptr)},
      {"retry", will_retry},
      {"stdout", Relative(run_dir_, r.stdout_path)},
      {"stderr", Relative(run_dir_, r.stderr_path)},
      {"stdout_bytes", r.stdout_bytes},
      {"stderr_bytes", r.stderr_bytes},
  };
  if (r.stdout_truncated) line["stdout_truncated"] = true;
  if (r.stderr_truncated) line["stderr_truncated"] = true;
  if (!r.error.empty()) line["error"] = r.error;
  out_ << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

void ResultsWriter::Summary(const RunSummary& s) {
  json counts = json::object();
  for (int i = 0; i < kOutcomeCount; ++i) {
    counts[std::string(OutcomeName(static_cast<Outcome>(i)))] = s.by_outcome[i];
  }
  counts["not_run"] = s.not_run;
  json slowest = json::array();
  for (const SlowTask& t : s.slowest) {
    slowest.push_back(
        {{"task", t.id}, {"attempt", t.attempt}, {"duration_s", t.duration_ms / 1000.0}});
  }
  json line = {{"summary",
                {{"tasks", s.tasks},
                 {"outcomes", counts},
                 {"attempts", s.attempts},
                 {"retried", s.retried},
                 {"wall_s", s.wall_ms / 1000.0},
                 {"slowest", slowest},
                 {"exit_status", s.exit_status}}}};
  out_ << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

void ResultsWriter::Flush() {
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write " + path_ + " (disk full?)");
}

}  // namespace jobrunner
