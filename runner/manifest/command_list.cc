#include "manifest/command_list.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <regex>
#include <stdexcept>

#include "manifest/manifest.h"

namespace jobrunner {
namespace {

constexpr std::uint64_t kMarkEvery = 1024;
// Longer than any command the kernel takes as one argument (128 KiB), with room to spare.
constexpr std::size_t kMaxLine = std::size_t{1} << 20;
constexpr std::size_t kReadSize = std::size_t{1} << 16;
constexpr std::size_t kScanReadSize = std::size_t{1} << 20;
// Warnings kept to be shown; the rest are only counted.
constexpr std::size_t kWarningsKept = 20;

constexpr std::string_view kDirective = "#DISBATCH";

// What a line is, as disBatch decides it (its regexes, in its order).
struct Line {
  enum Kind { kComment, kPerEngine, kPrefix, kSuffix, kRepeat, kBarrier, kUnknown, kTask };
  Kind kind = kTask;
  std::string_view text;  // PREFIX/SUFFIX value, PERENGINE or REPEAT command, barrier key
  bool start = false;     // PERENGINE START
  bool check = false;     // BARRIER CHECK
  bool overflow = false;  // a REPEAT number that does not fit 64 bits
  std::uint64_t count = 0, first = 0, step = 1;  // REPEAT n start s step k
};

// Python's \s for bytes.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  // Most lines are commands: their first byte tells, without a call to memcmp for each.
  return text.size() >= prefix.size() && (prefix.empty() || text[0] == prefix[0]) &&
         text.compare(0, prefix.size(), prefix) == 0;
}

std::string_view View(const std::csub_match& m) {
  return m.matched ? std::string_view(m.first, static_cast<std::size_t>(m.length()))
                   : std::string_view();
}

bool ReadCount(std::string_view digits, std::uint64_t& out) {
  out = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(out, 10, &out) ||
        __builtin_add_overflow(out, static_cast<std::uint64_t>(c - '0'), &out)) {
      return false;
    }
  }
  return true;
}

// The regexes of disBatch (disbatch/disBatch.py), in ECMAScript: `.` becomes [\s\S], which
// matches a carriage return as Python's `.` does. Only BARRIER is case-sensitive.
const std::regex& PerEngineRegex() {
  static const std::regex re(R"(^#DISBATCH PERENGINE (START|STOP) ([\s\S]*)$)", std::regex::icase);
  return re;
}
const std::regex& PrefixRegex() {
  static const std::regex re(R"(^#DISBATCH PREFIX ([\s\S]*)$)", std::regex::icase);
  return re;
}
const std::regex& SuffixRegex() {
  static const std::regex re(R"(^#DISBATCH SUFFIX ([\s\S]*)$)", std::regex::icase);
  return re;
}
const std::regex& RepeatRegex() {
  static const std::regex re(
      R"(^#DISBATCH REPEAT\s+([0-9]+)(?:\s+start\s+([0-9]+))?(?:\s+step\s+([0-9]+))?(?: ([\s\S]+))?\s*$)",
      std::regex::icase);
  return re;
}
const std::regex& BarrierRegex() {
  static const std::regex re(R"(^#DISBATCH BARRIER(?: (CHECK))?(?: ([\s\S]*)$)?)");
  return re;
}

Line Classify(std::string_view text) {
  Line line;
  const bool directive = StartsWith(text, kDirective);
  if (!directive) {
    std::size_t i = 0;
    while (i < text.size() && IsSpace(text[i])) ++i;
    line.kind = i == text.size() || text[i] == '#' ? Line::kComment : Line::kTask;
    return line;
  }
  std::cmatch m;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (std::regex_match(begin, end, m, PerEngineRegex())) {
    line.kind = Line::kPerEngine;
    line.start = (m[1].first[2] | 0x20) == 'a';  // stArt or stOp, in any case
    line.text = View(m[2]);
  } else if (std::regex_match(begin, end, m, PrefixRegex())) {
    line.kind = Line::kPrefix;
    line.text = View(m[1]);
  } else if (std::regex_match(begin, end, m, SuffixRegex())) {
    line.kind = Line::kSuffix;
    line.text = View(m[1]);
  } else if (std::regex_match(begin, end, m, RepeatRegex())) {
    line.kind = Line::kRepeat;
    line.overflow = !ReadCount(View(m[1]), line.count) ||
                    (m[2].matched && !ReadCount(View(m[2]), line.first)) ||
                    (m[3].matched && !ReadCount(View(m[3]), line.step));
    line.text = View(m[4]);
  } else if (std::regex_search(begin, end, m, BarrierRegex(),
                               std::regex_constants::match_continuous)) {
    line.kind = Line::kBarrier;
    line.check = m[1].matched;
    line.text = View(m[2]);
  } else if (StartsWith(text, "#DISBATCH ")) {
    line.kind = Line::kUnknown;
  }
  return line;
}

std::string Shown(std::string_view text) {
  constexpr std::size_t kShown = 60;
  return "'" + std::string(text.substr(0, kShown)) + (text.size() > kShown ? "...'" : "'");
}

}  // namespace

void CommandList::ContentHash::Update(const char* data, std::size_t n) {
  length_ += n;
  std::size_t i = 0;
  for (; fill_ > 0 && i < n; ++i) Add(data[i]);
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, data + i, 8);
    Mix(word);
  }
  for (; i < n; ++i) Add(data[i]);
}

std::uint64_t CommandList::ContentHash::Final() const {
  std::uint64_t h = state_ ^ (pending_ * 0x9E3779B97F4A7C15ull) ^ length_;
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 29);
}

void CommandList::ContentHash::Add(char c) {
  pending_ |= static_cast<std::uint64_t>(static_cast<unsigned char>(c)) << (8 * fill_);
  if (++fill_ < 8) return;
  Mix(pending_);
  pending_ = 0;
  fill_ = 0;
}

// Lines from a file, read in blocks from any offset; a line is a view into the block, valid until
// the next call.
class CommandList::Reader {
 public:
  Reader(std::FILE* file, const std::string& name, std::size_t read_size)
      : file_(file), name_(name), read_size_(read_size) {}

  void Seek(std::uint64_t offset) {
    if (offset >= base_ && offset <= base_ + end_) {
      begin_ = static_cast<std::size_t>(offset - base_);
      return;
    }
    base_ = offset;
    begin_ = end_ = 0;
    eof_ = false;
  }
  std::uint64_t offset() const { return base_ + begin_; }
  void HashWith(ContentHash* hash) { hash_ = hash; }
  // The offset of the first NUL byte read so far; kNone if none. One look per block read instead
  // of one per line: lines are short, and a look per line cost a tenth of a long list's scan.
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};
  std::uint64_t first_nul() const { return first_nul_; }

  // The next line without its end (a \n, and a \r before it); false at the end of the file.
  // `too_long` is set, and false returned, for a line longer than kMaxLine.
  bool Next(std::string_view& line, bool& too_long) {
    too_long = false;
    for (;;) {
      const char* start = buffer_.data() + begin_;
      const void* newline = begin_ < end_ ? std::memchr(start, '\n', end_ - begin_) : nullptr;
      if (newline != nullptr) {
        const std::size_t length = static_cast<const char*>(newline) - start;
        begin_ += length + 1;
        line = std::string_view(start, length);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return true;
      }
      if (end_ - begin_ > kMaxLine) {
        too_long = true;
        return false;
      }
      if (eof_) {
        if (begin_ == end_) return false;
        line = std::string_view(start, end_ - begin_);
        begin_ = end_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return true;
      }
      Refill();
    }
  }

 private:
  void Refill() {
    // Keep the unfinished line, at the front. Only when there is one: before the first read the
    // buffer has no storage, and memmove from a null pointer is undefined even for no bytes.
    if (begin_ < end_) std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    base_ += begin_;
    end_ -= begin_;
    begin_ = 0;
    if (buffer_.size() < end_ + read_size_) buffer_.resize(end_ + read_size_);
    if (std::fseek(file_, static_cast<long>(base_ + end_), SEEK_SET) != 0) Fail();
    const std::size_t n = std::fread(buffer_.data() + end_, 1, read_size_, file_);
    if (n < read_size_ && std::ferror(file_)) Fail();
    if (hash_ != nullptr) hash_->Update(buffer_.data() + end_, n);
    if (first_nul_ == kNone) {
      if (const void* nul = std::memchr(buffer_.data() + end_, '\0', n)) {
        first_nul_ = base_ + (static_cast<const char*>(nul) - buffer_.data());
      }
    }
    end_ += n;
    eof_ = n == 0;
  }
  [[noreturn]] void Fail() const {
    throw ManifestError({name_, 0, 0},
                        std::string("cannot read the command list: ") + std::strerror(errno));
  }

  std::FILE* file_;
  const std::string& name_;
  std::size_t read_size_;
  std::vector<char> buffer_;
  std::uint64_t base_ = 0;  // file offset of buffer_[0]
  std::size_t begin_ = 0;   // next line
  std::size_t end_ = 0;     // of the bytes read
  bool eof_ = false;
  ContentHash* hash_ = nullptr;
  std::uint64_t first_nul_ = kNone;
};

CommandList::CommandList(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}

CommandList::~CommandList() {
  if (file_ != nullptr) (void)std::fclose(file_);  // only read: closing it cannot lose data
}

std::shared_ptr<CommandList> CommandList::Open(const std::string& path, const std::string& name) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw ManifestError({name, 0, 0},
                        std::string("cannot read the command list: ") + std::strerror(errno));
  }
  std::shared_ptr<CommandList> list = FromStream(file, name);
  list->path_ = path;
  return list;
}

std::shared_ptr<CommandList> CommandList::FromStream(std::FILE* file, const std::string& name) {
  std::shared_ptr<CommandList> list(new CommandList(file, name));
  list->Scan();
  return list;
}

void CommandList::Scan() {
  Reader reader(file_, name_, kScanReadSize);
  ContentHash hash;
  reader.HashWith(&hash);
  const auto fail = [this](std::uint64_t line, const std::string& message) {
    throw ManifestError({name_, static_cast<int>(std::min<std::uint64_t>(line, INT32_MAX)), 0},
                        message);
  };
  const auto warn = [this](std::uint64_t line, std::string message) {
    if (warnings_.size() < kWarningsKept) warnings_.push_back(Warning{line, std::move(message)});
    ++warning_count_;
  };
  State state;
  std::uint64_t next_mark = 0;
  std::uint64_t starts = 0, stops = 0;
  bool per_engine_allowed = true;  // until the first line that is none of these: PREFIX, ...
  std::string_view text;
  bool too_long = false;
  for (; reader.Next(text, too_long); state.offset = reader.offset(), ++state.line) {
    if (reader.first_nul() < reader.offset()) {  // in this line: those before had none
      fail(state.line, "a NUL byte; a command cannot hold one");
    }
    const Line line = Classify(text);
    const auto count_tasks = [&](std::uint64_t n) {
      if (n == 0) return;
      if (state.task >= next_mark) {
        marks_.push_back(state);
        next_mark = state.task + kMarkEvery;
      }
      if (__builtin_add_overflow(state.task, n, &state.task) ||
          __builtin_add_overflow(state.disbatch_id, n, &state.disbatch_id)) {
        fail(state.line, "more than 2^64 - 1 tasks");
      }
    };
    switch (line.kind) {
      case Line::kComment: {
        // `#disbatch ...`, ` #DISBATCH ...`: disBatch reads these as comments, silently.
        std::size_t i = 0;
        while (i < text.size() && IsSpace(text[i])) ++i;
        std::string lower(text.substr(i, 12));
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        lower.erase(std::remove_if(lower.begin(), lower.end(), IsSpace), lower.end());
        if (StartsWith(lower, "#disbatch")) {
          warn(state.line, "read as a comment, not a directive: " + Shown(text) +
                               " (a directive starts with #DISBATCH, in capitals, at the start of "
                               "the line)");
        }
        break;
      }
      case Line::kPerEngine:
        if (!per_engine_allowed) {
          fail(state.line,
               "#DISBATCH PERENGINE after the first task, REPEAT or BARRIER; per-engine commands "
               "must come before them (only comments, PREFIX and SUFFIX may come first)");
        }
        per_engine_.push_back(PerEngine{line.start, state.line, line.start ? starts++ : stops++,
                                        (state.prefixes ? prefixes_[state.prefixes - 1] : "") +
                                            std::string(line.text) +
                                            (state.suffixes ? suffixes_[state.suffixes - 1] : "")});
        break;
      case Line::kPrefix:
        prefixes_.emplace_back(line.text);
        ++state.prefixes;
        break;
      case Line::kSuffix:
        suffixes_.emplace_back(line.text);
        ++state.suffixes;
        break;
      case Line::kRepeat:
        per_engine_allowed = false;
        if (line.overflow) fail(state.line, "a REPEAT number larger than 2^64 - 1");
        count_tasks(line.count);
        break;
      case Line::kBarrier: {
        per_engine_allowed = false;
        const std::string_view after = text.substr(std::string_view("#DISBATCH BARRIER").size());
        if (!after.empty() && after[0] != ' ') {
          warn(state.line, "read as BARRIER, as disBatch does: " + Shown(text));
        } else if (line.check && after.size() > 6 && after[6] != ' ') {
          warn(state.line, "read as BARRIER CHECK, as disBatch does: " + Shown(text));
        }
        barriers_.push_back(
            Barrier{state.task, state.line, line.check, std::string(line.text), state.disbatch_id});
        ++state.disbatch_id;
        break;
      }
      case Line::kUnknown:
        per_engine_allowed = false;
        warn(state.line, "unknown directive, skipped: " + Shown(text));
        break;
      case Line::kTask:
        per_engine_allowed = false;
        if (StartsWith(text, kDirective)) {
          warn(state.line,
               "runs as a command, as disBatch does (a directive has a space after "
               "#DISBATCH): " +
                   Shown(text));
        }
        count_tasks(1);
        break;
    }
  }
  if (too_long) {
    fail(state.line, "a line longer than " + std::to_string(kMaxLine >> 20) +
                         " MiB; a command that long cannot be run");
  }
  tasks_ = state.task;
  lines_ = state.line - 1;
  file_size_ = reader.offset();
  hash_ = hash.Final();
  reader_ = std::make_unique<Reader>(file_, name_, kReadSize);
}

void CommandList::Seek(State& state, std::uint64_t index, Task& task, bool with_command) const {
  reader_->Seek(state.offset);
  std::string_view text;
  bool too_long = false;
  for (;; state.offset = reader_->offset(), ++state.line) {
    if (!reader_->Next(text, too_long)) {
      throw ManifestError({name_, 0, 0}, "the command list changed while the run was reading it");
    }
    const Line line = Classify(text);
    std::uint64_t repetition = 0;
    switch (line.kind) {
      case Line::kPrefix:
        ++state.prefixes;
        continue;
      case Line::kSuffix:
        ++state.suffixes;
        continue;
      case Line::kBarrier:
        ++state.disbatch_id;
        continue;
      case Line::kRepeat:
        if (index - state.task >= line.count) {
          state.task += line.count;
          state.disbatch_id += line.count;
          continue;
        }
        repetition = index - state.task;
        task.repeated = true;
        task.repetition = repetition;
        task.repeat_index = line.first + repetition * line.step;
        text = line.text;
        break;
      case Line::kTask:
        if (index != state.task) {
          ++state.task;
          ++state.disbatch_id;
          continue;
        }
        break;
      default:
        continue;
    }
    task.line = state.line;
    task.disbatch_id = state.disbatch_id + repetition;
    if (with_command) {
      task.command = (state.prefixes ? prefixes_[state.prefixes - 1] : "") + std::string(text) +
                     (state.suffixes ? suffixes_[state.suffixes - 1] : "");
    }
    return;  // `state` stays at the start of this line: the next look-up may want it again
  }
}

CommandList::Task CommandList::At(std::uint64_t index, bool with_command) const {
  if (take_copy_) {
    // Asked once: whatever it returns or throws, a copy is given only once.
    std::function<std::FILE*()> take = std::move(take_copy_);
    take_copy_ = nullptr;
    if (std::FILE* copy = take()) {
      ReadFrom(copy, copy_path_);
    } else {
      take_copy_ = std::move(take);
    }
  }
  State& cursor = with_command ? render_cursor_ : locate_cursor_;
  auto mark = std::upper_bound(marks_.begin(), marks_.end(), index,
                               [](std::uint64_t i, const State& s) { return i < s.task; });
  State start = mark == marks_.begin() ? State{} : *(mark - 1);
  if (cursor.task <= index && cursor.task >= start.task) start = cursor;
  Task task;
  Seek(start, index, task, with_command);
  cursor = start;
  return task;
}

void CommandList::ForEach(const std::function<void(std::uint64_t, const Task&)>& visit) const {
  Reader reader(file_, name_, kScanReadSize);
  std::string_view text;
  bool too_long = false;
  Task task;
  std::uint64_t index = 0;
  for (task.line = 1; reader.Next(text, too_long); ++task.line) {
    const Line line = Classify(text);
    if (line.kind == Line::kBarrier) ++task.disbatch_id;
    if (line.kind == Line::kTask) {
      task.repeated = false;
      task.repetition = task.repeat_index = 0;
      visit(index++, task);
      ++task.disbatch_id;
    }
    if (line.kind != Line::kRepeat) continue;
    task.repeated = true;
    for (std::uint64_t i = 0; i < line.count; ++i) {
      task.repetition = i;
      task.repeat_index = line.first + i * line.step;
      visit(index++, task);
      ++task.disbatch_id;
    }
  }
}

void CommandList::ReadFrom(std::FILE* file, const std::string& path) const {
  if (file == nullptr) {
    throw ManifestError({name_, 0, 0}, "cannot read the run's copy of the command list " + path +
                                           ": " + std::strerror(errno));
  }
  if (std::fseek(file, 0, SEEK_END) != 0) {
    const int error = errno;
    (void)std::fclose(file);  // only read; the seek's error is the one to report
    throw ManifestError({name_, 0, 0}, "cannot read the run's copy of the command list " + path +
                                           ": " + std::strerror(error));
  }
  const long size = std::ftell(file);
  if (size < 0 || static_cast<std::uint64_t>(size) != file_size_) {
    (void)std::fclose(file);  // only read
    throw ManifestError({name_, 0, 0},
                        "the command list changed while the run started; start "
                        "it again");
  }
  (void)std::fclose(file_);  // the original, only read; the run reads its copy from now on
  file_ = file;
  path_ = path;
  reader_ = std::make_unique<Reader>(file_, name_, kReadSize);
  render_cursor_ = locate_cursor_ = State{};
}

void CommandList::ReadFromWhenReady(std::function<std::FILE*()> take_copy,
                                    const std::string& path) const {
  take_copy_ = std::move(take_copy);
  copy_path_ = path;
}

}  // namespace jobrunner
