#include "results.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
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
  if (path.compare(0, run_dir.size() + 1, run_dir + "/") == 0) {
    return path.substr(run_dir.size() + 1);
  }
  return path;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// A crash can cut the last line short; it is dropped, and --resume writes it again from the
// journal.
void DropPartialLastLine(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw ResultsError(Errno("cannot read", path));
  off_t end = st.st_size;
  char c = '\n';
  while (end > 0) {
    if (pread(fd, &c, 1, end - 1) != 1) throw ResultsError(Errno("cannot read", path));
    if (c == '\n') break;
    --end;
  }
  if (end != st.st_size && ftruncate(fd, end) != 0) {
    throw ResultsError(Errno("cannot repair", path));
  }
}

}  // namespace

ResultsWriter::ResultsWriter(const std::string& run_dir, bool append)
    : run_dir_(run_dir), path_(run_dir + "/results.jsonl") {
  int mode = append ? O_RDWR : O_WRONLY | O_TRUNC;  // appending reads back the last line
  fd_ = open(path_.c_str(), mode | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw ResultsError(Errno("cannot create", path_));
  if (append) DropPartialLastLine(fd_, path_);
}

ResultsWriter::~ResultsWriter() {
  if (fd_ >= 0) close(fd_);
}

void ResultsWriter::Line(const std::string& text) {
  buffer_ += text;
  buffer_ += '\n';
}

void ResultsWriter::Attempt(const std::string& task_id, const AttemptResult& r, int worker_rank,
                            const std::string& host, bool will_retry,
                            const std::string& result_json) {
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
  if (!result_json.empty()) {
    json result = json::parse(result_json, nullptr, /*allow_exceptions=*/false);
    // A kind whose ToJson wrote something that is not JSON still has its text kept.
    line["result"] = result.is_discarded() ? json(result_json) : std::move(result);
  }
  if (!r.data_path.empty()) line["data"] = Relative(run_dir_, r.data_path);
  Line(Dump(line));
}

void ResultsWriter::FromJournal(const std::string& task_id, const TaskFinishedRecord& r,
                                bool recovered) {
  bool exited = r.outcome == JournalOutcome::kSucceeded || r.outcome == JournalOutcome::kFailed;
  json line = {
      {"task", task_id},
      {"index", r.index},
      {"attempt", r.attempt},
      {"worker", r.worker_rank},
      {"host", nullptr},
      {"start", r.start_ms ? json(IsoTime(r.start_ms)) : json(nullptr)},
      {"end", r.end_ms ? json(IsoTime(r.end_ms)) : json(nullptr)},
      {"duration_s",
       r.start_ms && r.end_ms ? json((r.end_ms - r.start_ms) / 1000.0) : json(nullptr)},
      {"outcome", JournalOutcomeName(r.outcome)},
      {"exit_code", exited ? json(r.exit_code) : json(nullptr)},
      {"signal", r.signal != 0 ? json(r.signal) : json(nullptr)},
      {"retry", r.will_retry},
  };
  if (recovered) line["recovered"] = true;
  Line(Dump(line));
}

void ResultsWriter::Skipped(const std::string& task_id, std::uint64_t index,
                            const std::string& reason, bool recovered) {
  json line = {
      {"task", task_id},      {"index", index},        {"attempt", 0},
      {"worker", nullptr},    {"host", nullptr},       {"start", nullptr},
      {"end", nullptr},       {"duration_s", nullptr}, {"outcome", OutcomeName(Outcome::kSkipped)},
      {"exit_code", nullptr}, {"signal", nullptr},     {"retry", false},
      {"reason", reason},
  };
  if (recovered) line["recovered"] = true;
  Line(Dump(line));
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
  json retired = json::array();
  for (int rank : s.retired_workers) retired.push_back(rank);
  json line = {{"summary",
                {{"tasks", s.tasks},
                 {"outcomes", counts},
                 {"settled_earlier", s.settled_earlier},
                 {"succeeded_total", s.succeeded_total},
                 {"attempts", s.attempts},
                 {"retried", s.retried},
                 {"run", s.run_number},
                 {"wall_s", s.wall_ms / 1000.0},
                 {"slowest", slowest},
                 {"retired_workers", retired},
                 {"exit_status", s.exit_status}}}};
  Line(Dump(line));
}

void ResultsWriter::Flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ResultsError(Errno("cannot write", path_));
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

std::set<std::pair<std::uint64_t, std::uint32_t>> RecordedAttempts(const std::string& run_dir) {
  std::set<std::pair<std::uint64_t, std::uint32_t>> seen;
  std::ifstream in(run_dir + "/results.jsonl");
  std::string text;
  while (std::getline(in, text)) {
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (line.is_object() && line.contains("index") && line.contains("attempt")) {
      seen.emplace(line["index"].get<std::uint64_t>(), line["attempt"].get<std::uint32_t>());
    }
  }
  return seen;
}

}  // namespace jobrunner
