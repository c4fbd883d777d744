#include "coordinator/results.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "base/text.h"
#include "journal/run_ledger.h"
#include "posix/file.h"
#include "posix/signal_name.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace {

// results.jsonl's name for a command that is not a task (AttemptResult::per_worker).
const char* PerWorkerName(int per_worker) {
  switch (per_worker) {
    case kPerWorkerStart:
      return "start";
    case kPerWorkerStop:
      return "stop";
    case kNodeSetup:
      return "node_setup";
    default:
      return "node_teardown";
  }
}

using nlohmann::json;

// `value`'s decimal digits, at least `width` of them (zero-padded), appended to `out` (a
// std::string, or a JsonLine), two per division: a line has a dozen numbers.
template <class Out>
void AppendDigits(Out& out, std::uint64_t value, int width = 1) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char digits[24];
  char* end = digits + sizeof(digits);
  char* p = end;
  while (value >= 100) {
    const auto pair = static_cast<std::size_t>(value % 100) * 2;
    value /= 100;
    *--p = kPairs[pair + 1];
    *--p = kPairs[pair];
  }
  if (value >= 10) {
    const auto pair = static_cast<std::size_t>(value) * 2;
    *--p = kPairs[pair + 1];
    *--p = kPairs[pair];
  } else {
    *--p = static_cast<char>('0' + value);
  }
  while (end - p < width) *--p = '0';
  out.append(p, static_cast<std::size_t>(end - p));
}

// ISO 8601 in UTC with milliseconds, "2026-11-23T17:39:35.123Z", appended to `out`. The date and
// time of day are formatted once per second: thousands of attempts end within the same one. No
// printf and no string of its own: two of these are written for every attempt.
template <class Out>
void AppendIsoTime(Out& out, std::int64_t unix_ms) {
  thread_local std::int64_t cached_second = -1;
  thread_local char prefix[32];
  thread_local std::size_t prefix_size = 0;
  std::int64_t second = unix_ms / 1000;
  std::int64_t millis = unix_ms % 1000;
  if (millis < 0) {  // before 1970: the second before, and the milliseconds after it
    millis += 1000;
    --second;
  }
  if (second != cached_second) {
    std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    prefix_size = std::strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = second;
  }
  out.append(prefix, prefix_size);
  out.append(".", 1);
  AppendDigits(out, static_cast<std::uint64_t>(millis), 3);
  out.append("Z", 1);
}

std::string IsoTime(std::int64_t unix_ms) {
  std::string text;
  AppendIsoTime(text, unix_ms);
  return text;
}

// `path` relative to `run_dir` when it lies inside it; else as given.
std::string_view RelativeToRunDir(std::string_view run_dir, std::string_view path) {
  if (path.size() > run_dir.size() && path.compare(0, run_dir.size(), run_dir) == 0 &&
      path[run_dir.size()] == '/') {
    return path.substr(run_dir.size() + 1);
  }
  return path;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// One JSON object written field by field, straight into the lines waiting for results.jsonl: an
// attempt line is written for every task, and building a json tree for it (a map, an allocation
// per field), or even a string of its own, cost more than the rest of the line's work. The line
// is written through a pointer into room made for it up front (`expected` bytes, more if it needs
// them), rather than appended piece by piece, each append checking the string's capacity.
class JsonLine {
 public:
  JsonLine(std::string& out, std::size_t expected) : out_(out), start_(out.size()) {
    out_.resize(start_ + expected);
    next_ = out_.data() + start_;
    end_ = out_.data() + out_.size();
    append("{", 1);
  }
  JsonLine(const JsonLine&) = delete;
  JsonLine& operator=(const JsonLine&) = delete;
  // A line left unfinished (something threw) is taken back whole.
  ~JsonLine() {
    if (!finished_) out_.resize(start_);
  }

  JsonLine& Str(const char* key, std::string_view value) {
    Key(key);
    if (Plain(value)) {
      append("\"", 1);
      append(value.data(), value.size());
      append("\"", 1);
    } else {
      const std::string escaped = Dump(json(std::string(value)));  // replaces invalid UTF-8
      append(escaped.data(), escaped.size());
    }
    return *this;
  }
  JsonLine& Time(const char* key, std::int64_t unix_ms) {
    Key(key);
    append("\"", 1);
    AppendIsoTime(*this, unix_ms);
    append("\"", 1);
    return *this;
  }
  JsonLine& Null(const char* key) {
    Key(key);
    append("null", 4);
    return *this;
  }
  template <class Integer>
  JsonLine& Int(const char* key, Integer value) {
    Key(key);
    auto magnitude = static_cast<std::uint64_t>(value);
    if constexpr (std::is_signed_v<Integer>) {
      if (value < 0) {
        append("-", 1);
        magnitude = 0 - magnitude;  // the most negative value has no positive twin
      }
    }
    AppendDigits(*this, magnitude);
    return *this;
  }
  JsonLine& Bool(const char* key, bool value) {
    Key(key);
    if (value) {
      append("true", 4);
    } else {
      append("false", 5);
    }
    return *this;
  }
  // Milliseconds as seconds with three decimals, exactly.
  JsonLine& Seconds(const char* key, std::int64_t ms) { return Fixed(key, ms, 1000, 3); }
  // Microseconds as seconds with six decimals, exactly.
  JsonLine& SecondsOfMicros(const char* key, std::int64_t us) {
    return Fixed(key, us, 1'000'000, 6);
  }
  JsonLine& Raw(const char* key, std::string_view json_text) {
    Key(key);
    append(json_text.data(), json_text.size());
    return *this;
  }
  // Closes the object and ends its line.
  void Finish() {
    append("}\n", 2);
    out_.resize(static_cast<std::size_t>(next_ - out_.data()));
    finished_ = true;
  }

  // Writes `n` bytes; AppendDigits and AppendIsoTime write through it.
  void append(const char* bytes, std::size_t n) {
    if (static_cast<std::size_t>(end_ - next_) < n) MakeRoom(n);
    CopyBytes(next_, bytes, n);
    next_ += n;
  }

 private:
  // memcpy in moves of fixed size: most pieces of a line are a few bytes long, and GCC turned
  // std::memcpy of them into `rep movsq`, whose start-up took two thirds of the line's time.
  static void CopyBytes(char* to, const char* from, std::size_t n) {
    if (n >= 16) {
      for (std::size_t i = 0; i + 16 <= n; i += 16) std::memcpy(to + i, from + i, 16);
      std::memcpy(to + n - 16, from + n - 16, 16);  // the rest, overlapping what went before
    } else if (n >= 8) {
      std::memcpy(to, from, 8);
      std::memcpy(to + n - 8, from + n - 8, 8);
    } else if (n >= 4) {
      std::memcpy(to, from, 4);
      std::memcpy(to + n - 4, from + n - 4, 4);
    } else {
      for (std::size_t i = 0; i < n; ++i) to[i] = from[i];
    }
  }
  void MakeRoom(std::size_t n) {
    const auto used = static_cast<std::size_t>(next_ - out_.data());
    out_.resize(std::max(out_.size() * 2, used + n + 256));
    next_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  // `value` / `unit` with `digits` decimals (unit = 10^digits), exactly: no floating point.
  JsonLine& Fixed(const char* key, std::int64_t value, std::int64_t unit, int digits) {
    Key(key);
    std::uint64_t magnitude = static_cast<std::uint64_t>(value);
    if (value < 0) {
      append("-", 1);
      magnitude = 0 - magnitude;
    }
    const auto u = static_cast<std::uint64_t>(unit);
    AppendDigits(*this, magnitude / u);
    append(".", 1);
    AppendDigits(*this, magnitude % u, digits);
    return *this;
  }
  // Whether `value` goes between quotes as it is: printable ASCII, no quote, no backslash. Sixteen
  // bytes at a time where it can: every attempt's line has a few dozen bytes of paths and command.
  static bool Plain(std::string_view value) {
    const char* p = value.data();
    const std::size_t n = value.size();
    std::size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
      // Signed bytes: those from 0x80 up are negative, so "below 0x20" takes them in too.
      const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
      const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
      auto bad = [&](std::size_t at) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
        const __m128i b =
            _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)),
                         _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        return _mm_movemask_epi8(b) != 0;
      };
      for (; i + 16 <= n; i += 16) {
        if (bad(i)) return false;
      }
      return !bad(n - 16);  // the rest, overlapping what went before
    }
#endif
    for (; i < n; ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    }
    return true;
  }
  // `,"key":`, written in place.
  void Key(std::string_view key) {
    const std::size_t n = key.size() + 4;
    if (static_cast<std::size_t>(end_ - next_) < n) MakeRoom(n);
    if (next_ > out_.data() + start_ + 1) *next_++ = ',';
    *next_++ = '"';
    CopyBytes(next_, key.data(), key.size());
    next_ += key.size();
    *next_++ = '"';
    *next_++ = ':';
  }

  std::string& out_;
  const std::size_t start_;
  char* next_ = nullptr;
  char* end_ = nullptr;
  bool finished_ = false;
};

std::string Failure(const std::string& what, const std::string& path, const Status& error) {
  return what + " " + path + ": " + error.message();
}

// A crash can cut the last line short; it is dropped, and --resume writes it again from the
// journal.
void DropPartialLastLine(int fd, const std::string& path) {
  StatusOr<std::uint64_t> size = FileSize(fd);
  if (!size.ok()) throw ResultsError(Failure("cannot read", path, size.status()));
  std::uint64_t end = *size;
  char c = '\n';
  while (end > 0) {
    StatusOr<std::size_t> read = ReadAt(fd, &c, 1, end - 1);
    if (!read.ok()) throw ResultsError(Failure("cannot read", path, read.status()));
    if (*read != 1) throw ResultsError("cannot read " + path + ": it shrank while being read");
    if (c == '\n') break;
    --end;
  }
  if (end != *size) {
    if (Status cut = Truncate(fd, end); !cut.ok()) {
      throw ResultsError(Failure("cannot repair", path, cut));
    }
  }
}

}  // namespace

ResultsWriter::ResultsWriter(const Dir& run_dir, bool append)
    : run_dir_(run_dir.path()), path_(run_dir.PathOf(kResultsFile)) {
  StatusOr<UniqueFd> file = append ? run_dir.OpenForAppend(kResultsFile)
                                   : run_dir.CreateFile(kResultsFile, /*readable=*/true);
  if (append && !file.ok() && file.status().code() == ENOENT) {
    file = run_dir.CreateFile(kResultsFile, /*readable=*/true);
  }
  if (!file.ok()) {
    throw ResultsError(Failure(append ? "cannot open" : "cannot create", path_, file.status()));
  }
  file_ = std::move(*file);
  if (append) DropPartialLastLine(file_.get(), path_);
  StatusOr<Dir> logs = run_dir.OpenSubdirectory(kLogsDir, /*create=*/false);
  if (logs.ok()) logs_ = std::move(*logs);
}

namespace {

Dir OpenDirectory(const std::string& path) {
  StatusOr<Dir> dir = Dir::Open(path);
  if (!dir.ok()) throw ResultsError(Failure("cannot open", path, dir.status()));
  return std::move(*dir);
}

}  // namespace

ResultsWriter::ResultsWriter(const std::string& run_dir, bool append)
    : ResultsWriter(OpenDirectory(run_dir), append) {}

void ResultsWriter::Line(const std::string& text) {
  buffer_ += text;
  buffer_ += '\n';
}

void ResultsWriter::Attempt(const std::string& task_id, const AttemptResult& r, int worker_rank,
                            const std::string& host, bool will_retry,
                            const std::string& result_json, const std::string& command) {
  AttemptLine(task_id, r, worker_rank, host, will_retry, result_json, command);
}

void ResultsWriter::PerWorker(const std::string& id, const AttemptResult& r, int worker_rank,
                              const std::string& host, const std::string& command) {
  AttemptLine(id, r, worker_rank, host, /*will_retry=*/false, "", command);
}

void ResultsWriter::AttemptLine(const std::string& task_id, const AttemptResult& r, int worker_rank,
                                const std::string& host, bool will_retry,
                                const std::string& result_json, const std::string& command) {
  // Room for the fixed fields and, doubled, the texts: a text needs more only when escaped.
  const std::size_t texts = task_id.size() + host.size() + r.stdout_path.size() +
                            r.stderr_path.size() + r.error.size() + r.data_path.size() +
                            result_json.size() + command.size();
  JsonLine line(buffer_, 640 + 2 * texts);
  line.Str("task", task_id);
  if (r.per_worker != 0) {
    line.Null("index").Int("attempt", r.attempt);
  } else {
    line.Int("index", r.index).Int("attempt", r.attempt);
  }
  line.Int("worker", worker_rank).Str("host", host);
  line.Time("start", r.start_ms).Time("end", r.end_ms);
  line.Seconds("duration_s", r.end_ms - r.start_ms).Str("outcome", OutcomeName(r.outcome));
  if (r.outcome == Outcome::kSucceeded || r.outcome == Outcome::kFailed) {
    line.Int("exit_code", r.exit_code);
  } else {
    line.Null("exit_code");
  }
  if (r.signal != 0) {
    line.Int("signal", r.signal).Str("signal_name", SignalName(r.signal));
  } else {
    line.Null("signal");
  }
  line.Bool("retry", will_retry);
  // What the task's process used, from wait4, or an in-process kind's thread.
  if (r.pid != 0) {
    line.Int("pid", r.pid);
  } else {
    line.Null("pid");
  }
  if (r.cpu_measured) {
    line.SecondsOfMicros("cpu_user_s", r.cpu_user_us);
    line.SecondsOfMicros("cpu_system_s", r.cpu_system_us);
  } else {
    line.Null("cpu_user_s").Null("cpu_system_s");
  }
  if (r.max_rss_kb > 0) {
    line.Int("max_rss_kb", r.max_rss_kb);
  } else {
    line.Null("max_rss_kb");
  }
  if (r.memory_limit != 0) line.Int("memory_limit_bytes", r.memory_limit);
  if (r.oom_kills != 0) line.Int("oom_kills", r.oom_kills);
  for (const auto& [key, path] :
       {std::pair{"stdout", &r.stdout_path}, {"stderr", &r.stderr_path}}) {
    if (path->empty()) {
      line.Null(key);
    } else {
      line.Str(key, RelativeToRunDir(run_dir_, *path));
    }
  }
  line.Int("stdout_bytes", r.stdout_bytes).Int("stderr_bytes", r.stderr_bytes);
  if (r.stdout_truncated) line.Bool("stdout_truncated", true);
  if (r.stderr_truncated) line.Bool("stderr_truncated", true);
  if (!r.error.empty()) line.Str("error", r.error);
  if (r.left_running > 0) line.Int("left_running", r.left_running);
  if (r.disk_full) line.Bool("disk_full", true);
  if (!result_json.empty()) {
    // A kind whose ToJson wrote something that is not JSON still has its text kept, as a string.
    if (json::accept(result_json)) {
      line.Raw("result", result_json);
    } else {
      line.Str("result", result_json);
    }
  }
  if (!r.data_path.empty()) line.Str("data", RelativeToRunDir(run_dir_, r.data_path));
  if (!command.empty()) line.Str("command", command);
  if (r.per_worker != 0) line.Str("per_worker", PerWorkerName(r.per_worker));
  line.Finish();
}

void ResultsWriter::FromJournal(const std::string& task_id, const TaskFinishedRecord& r,
                                bool recovered, const TaskOutputRecord* output,
                                const std::string& command) {
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
  if (r.outcome == JournalOutcome::kWorkerLost) {
    // Lost with its worker: interrupted like any attempt a stopping run cuts short, until the
    // evidence says the task itself kills or stops its worker (run_ledger.h).
    if (r.will_retry) line["outcome"] = OutcomeName(Outcome::kInterrupted);
    line["worker_lost"] = true;
    line["error"] = r.will_retry
                        ? "in flight when its worker died or stopped answering (" +
                              std::to_string(r.exit_code) + " attempt(s) in flight there)"
                        : "killed or stopped its worker: the worker's only attempt in flight at " +
                              std::to_string(kWorkerDeathsToFail) + " of its deaths";
  }
  // The output files an attempt wrote are where the worker put them; the journal need not say.
  for (const auto& [key, stream] : {std::pair{"stdout", "out"}, {"stderr", "err"}}) {
    const std::optional<AttemptLogFile> log =
        logs_ ? FindAttemptLog(*logs_, AttemptLogName(task_id, static_cast<int>(r.attempt), stream))
              : std::nullopt;
    line[key] = log ? json(std::string(kLogsDir) + "/" + log->name) : json(nullptr);
    line[std::string(key) + "_bytes"] = log ? log->size : 0;
  }
  if (output != nullptr && !output->result.empty()) {
    line["result"] = json::parse(output->result, nullptr, /*allow_exceptions=*/false);
    if (line["result"].is_discarded()) line["result"] = output->result;
  }
  if (output != nullptr && !output->data.empty()) line["data"] = output->data;
  if (!command.empty()) line["command"] = command;
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
  if (!s.stopped.empty()) line["summary"]["stopped"] = s.stopped;
  Line(Dump(line));
}

void ResultsWriter::TakeLines(std::string& into) { MoveTextTo(into, buffer_); }

void ResultsWriter::Flush() {
  Write(buffer_);
  buffer_.clear();
}

void ResultsWriter::Write(std::string_view lines) {
  if (Status written = WriteAll(file_.get(), lines); !written.ok()) {
    throw ResultsError(Failure("cannot write", path_, written));
  }
}

std::string PathInRunDir(const std::string& run_dir, const std::string& path) {
  return std::string(RelativeToRunDir(run_dir, path));
}

std::set<std::pair<std::uint64_t, std::uint32_t>> ResultsWriter::RecordedAttempts() const {
  std::set<std::pair<std::uint64_t, std::uint32_t>> seen;
  auto note = [&seen](std::string_view text) {
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (line.is_object() && line.contains("index") && line.contains("attempt") &&
        line["index"].is_number_unsigned() && line["attempt"].is_number_unsigned()) {
      seen.emplace(line["index"].get<std::uint64_t>(), line["attempt"].get<std::uint32_t>());
    }
  };
  // Read through the file already open: no second open of a name that could have been replaced.
  if (Status read = ForEachLine(file_.get(), note); !read.ok()) {
    throw ResultsError(Failure("cannot read", path_, read));
  }
  return seen;
}

}  // namespace jobrunner
