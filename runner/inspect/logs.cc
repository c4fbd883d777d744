#include "inspect/logs.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "inspect/results_file.h"
#include "inspect/run_files.h"
#include "journal/journal.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kFollowInterval{250};
// Attempt numbers beyond the highest known that logs/ is asked about: attempts that began too
// recently for the journal to say so.
constexpr int kAttemptsAhead = 3;

// Whether a results line names `key` ("task": and the id as JSON), without parsing it.
bool NamesTask(std::string_view line, std::string_view key) {
  for (std::size_t at = line.find(key); at != std::string_view::npos; at = line.find(key, at + 1)) {
    const std::size_t after = at + key.size();
    if (after < line.size() && (line[after] == ',' || line[after] == '}')) return true;
  }
  return false;
}

// Results lines of one task, read from where the last call stopped: --follow looks for the
// attempt's line without reading the whole file each time.
class TaskLines {
 public:
  TaskLines(const std::string& run_dir, const std::string& task)
      : path_(run_dir + "/results.jsonl"),
        key_("\"task\":" +
             nlohmann::json(task).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {}

  // The attempt numbers of the task's lines added since the last call.
  std::vector<int> NewAttempts() {
    std::vector<int> attempts;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return attempts;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // a line still being written
      offset_ += line.size() + 1;
      if (!NamesTask(line, key_)) continue;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("attempt") && j["attempt"].is_number_integer()) {
        attempts.push_back(j["attempt"].get<int>());
      }
    }
    return attempts;
  }

 private:
  std::string path_;
  std::string key_;
  std::uint64_t offset_ = 0;
};

// Copies the bytes of `path` from `offset` on to `out`; returns the new offset.
std::uint64_t CopyFrom(const std::string& path, std::uint64_t offset, std::ostream& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return offset;
  in.seekg(static_cast<std::streamoff>(offset));
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    out.write(buffer, in.gcount());
    offset += static_cast<std::uint64_t>(in.gcount());
  }
  out.flush();
  return offset;
}

}  // namespace

std::vector<int> KnownAttempts(const std::string& run_dir, const std::string& task) {
  std::set<int> attempts;
  for (int attempt : TaskLines(run_dir, task).NewAttempts()) {
    if (attempt > 0) attempts.insert(attempt);
  }
  std::error_code error;
  if (fs::exists(run_dir + "/journal", error)) {
    try {
      for (const OpenAttempt& open : ReplayJournal(run_dir).history.Open()) {
        if (open.task_id == task) attempts.insert(static_cast<int>(open.attempt));
      }
    } catch (const JournalError&) {
      // results.jsonl and logs/ still say what they can.
    }
  }
  const int highest = attempts.empty() ? 0 : *attempts.rbegin();
  for (int attempt = 1; attempt <= highest + kAttemptsAhead; ++attempt) {
    for (const char* stream : {"out", "err"}) {
      if (fs::exists(AttemptLogPath(run_dir, task, attempt, stream), error)) {
        attempts.insert(attempt);
      }
    }
  }
  return {attempts.begin(), attempts.end()};
}

Status PrintTaskLog(const LogsRequest& request, std::ostream& out, std::string& note) {
  const std::vector<int> known = KnownAttempts(request.run_dir, request.task);
  if (known.empty()) {
    return Status::Error(
        fmt::format("{} has no task {} (results.jsonl, the journal and logs/ do not name it)",
                    request.run_dir, request.task));
  }
  const int attempt = request.attempt.value_or(known.back());
  if (std::find(known.begin(), known.end(), attempt) == known.end()) {
    return Status::Error(fmt::format("task {} has no attempt {} (known: {})", request.task, attempt,
                                     fmt::join(known, ", ")));
  }
  const char* stream = request.stderr_stream ? "err" : "out";
  const std::string path = AttemptLogPath(request.run_dir, request.task, attempt, stream);
  std::uint64_t offset = CopyFrom(path, 0, out);
  if (request.follow) {
    TaskLines lines(request.run_dir, request.task);
    for (;;) {
      const std::vector<int> ended = lines.NewAttempts();
      const bool over = std::find(ended.begin(), ended.end(), attempt) != ended.end() ||
                        !RunIsLive(request.run_dir);
      offset = CopyFrom(path, offset, out);
      if (over) break;
      std::this_thread::sleep_for(kFollowInterval);
    }
  }
  std::error_code error;
  if (!fs::exists(path, error)) {
    note = fmt::format("task {} attempt {} wrote nothing to {}", request.task, attempt,
                       request.stderr_stream ? "stderr" : "stdout");
  }
  return Status::Ok();
}

}  // namespace jobrunner
