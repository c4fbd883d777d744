#include "inspect/run_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "posix/lock_probe.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kTailBytes = std::uint64_t{64} << 10;

bool HoldsRun(const fs::path& dir) {
  std::error_code error;
  return fs::is_regular_file(dir / "journal", error) ||
         fs::is_regular_file(dir / "results.jsonl", error);
}

}  // namespace

StatusOr<std::string> FindRunDir(const std::string& given) {
  std::error_code error;
  if (!given.empty()) {
    const fs::path dir = fs::absolute(given).lexically_normal();
    if (!fs::is_directory(dir, error)) return Status::Error(given + " is not a directory");
    if (!HoldsRun(dir)) {
      return Status::Error(given + " holds no run (neither a journal nor results.jsonl)");
    }
    std::string text = dir.string();
    if (text.size() > 1 && text.back() == '/') text.pop_back();
    return text;
  }
  const fs::path base = fs::absolute("jobrunner-out");
  const fs::path latest = base / kLatestRunLink;
  if (fs::is_symlink(latest, error) && HoldsRun(latest)) {
    return FindRunDir((base / fs::read_symlink(latest, error)).string());
  }
  std::optional<fs::path> newest;
  fs::file_time_type newest_time;
  for (const fs::directory_entry& entry : fs::directory_iterator(base, error)) {
    if (entry.is_symlink(error) || !entry.is_directory(error) || !HoldsRun(entry.path())) continue;
    const fs::file_time_type time = entry.last_write_time(error);
    if (!newest || time > newest_time) {
      newest = entry.path();
      newest_time = time;
    }
  }
  if (!newest) {
    return Status::Error("no run directory given, and none found under " + base.string());
  }
  return FindRunDir(newest->string());
}

std::string_view LivenessName(Liveness liveness) {
  switch (liveness) {
    case Liveness::kLive:
      return "live";
    case Liveness::kEnded:
      return "ended";
    case Liveness::kStopped:
      return "stopped";
  }
  return "unknown";
}

bool RunIsLive(const std::string& run_dir) {
  const StatusOr<bool> locked = IsFileLocked(run_dir + "/.lock");
  return locked.ok() && *locked;
}

Liveness LivenessOf(bool locked, const RunHistory& history) {
  // The lock decides while it is held: a resumed run holds it before it records its own start.
  if (locked) return Liveness::kLive;
  return history.Ended() ? Liveness::kEnded : Liveness::kStopped;
}

JournalReplay ReplayJournal(const std::string& run_dir) {
  const std::string path = run_dir + "/journal";
  std::error_code error;
  if (!fs::exists(path, error)) {
    throw JournalError(run_dir +
                       " has no journal (the run was started with --no-journal, or has not "
                       "started yet)");
  }
  // The header first, for the task count the history is sized by; then the records, streamed.
  std::string header(kJournalHeaderSize, '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(header.data(), static_cast<std::streamsize>(header.size()));
  header.resize(static_cast<std::size_t>(in.gcount()));
  JournalReplay replay;
  replay.history = RunHistory(DecodeJournalHeader(header, path).task_count);
  replay.info = ReadJournal(path, [&](const JournalRecord& r) { replay.history.Apply(r); });
  return replay;
}

std::vector<std::string> LastLines(const std::string& path, std::size_t count) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || count == 0) return lines;
  const std::uint64_t size = static_cast<std::uint64_t>(in.tellg());
  const std::uint64_t from = size > kTailBytes ? size - kTailBytes : 0;
  std::string tail(size - from, '\0');
  in.seekg(static_cast<std::streamoff>(from));
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<std::size_t>(in.gcount()));
  if (!tail.empty() && tail.back() == '\n') tail.pop_back();
  std::size_t end = tail.size();
  while (lines.size() < count) {
    const std::size_t newline = end == 0 ? std::string::npos : tail.rfind('\n', end - 1);
    const std::size_t begin = newline == std::string::npos ? 0 : newline + 1;
    // The first line of a cut tail may be partial; it is still the best there is.
    lines.push_back(tail.substr(begin, end - begin));
    if (newline == std::string::npos) break;
    end = newline;
  }
  std::reverse(lines.begin(), lines.end());
  if (lines.size() == 1 && lines[0].empty()) lines.clear();
  return lines;
}

std::string OneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return line;
}

}  // namespace jobrunner
