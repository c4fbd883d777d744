#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobrunner {

// A task file with one shell command a line, as GNU parallel, TACC's launcher and disBatch read
// it, including disBatch's `#DISBATCH` directives (PREFIX, SUFFIX, REPEAT, BARRIER [CHECK]
// [key], PERENGINE START/STOP), parsed as disBatch parses them (docs in the README, "Coming from
// disBatch").
//
// The file is read once at Open, fast (memchr over large blocks), to count its tasks, find its
// barriers and per-engine commands, and note every 1024th task's byte offset with the directives
// in force there. A task's line is read again only when the task is asked for: memory stays a
// few bytes per thousand tasks, however long the file. Reads in increasing order (how tasks are
// handed out) continue where the last one stopped.
class CommandList {
 public:
  // The task a line (or one repetition of a REPEAT line) stands for.
  struct Task {
    std::uint64_t line = 0;          // 1-based; every repetition of a REPEAT has the REPEAT's line
    bool repeated = false;           // made by a REPEAT line
    std::uint64_t repetition = 0;    // 0-based, among the tasks of its REPEAT line
    std::uint64_t repeat_index = 0;  // DISBATCH_REPEAT_INDEX: start + repetition * step
    std::uint64_t disbatch_id = 0;   // DISBATCH_TASKID: disBatch's count, barriers included
    std::string command;             // PREFIX + text + SUFFIX, when asked for
  };
  // `#DISBATCH BARRIER [CHECK] [key]`: the tasks before it (index < before_task) must all have
  // ended before any task after it starts; with CHECK, a failure among the tasks since the
  // barrier before it ends the run.
  struct Barrier {
    std::uint64_t before_task = 0;
    std::uint64_t line = 0;
    bool check = false;
    std::string key;  // empty: none
    std::uint64_t disbatch_id = 0;
  };
  // `#DISBATCH PERENGINE START|STOP command`: run by every worker before its first task (START)
  // or after its last (STOP).
  struct PerEngine {
    bool start = true;
    std::uint64_t line = 0;
    std::uint64_t ordinal = 0;  // among the START, or among the STOP commands: DISBATCH_TASKID
    std::string command;        // PREFIX + text + SUFFIX as in force on its line
  };
  // Something worth telling that does not stop the run: an unknown directive, a line that looks
  // like a directive but is read as a comment or a command.
  struct Warning {
    std::uint64_t line = 0;
    std::string message;
  };

  // Reads `path` ("-" is not special here; see FromStream). `name` is how messages name the file
  // (file:line). Throws ManifestError, at the line, for what cannot run: a PERENGINE line after
  // the first task, a REPEAT count that does not fit 64 bits, a NUL byte, a line over 1 MiB; and
  // when the file cannot be read.
  static std::shared_ptr<CommandList> Open(const std::string& path, const std::string& name);
  // The same, from a stream it now owns and may seek in (a temporary copy of stdin).
  static std::shared_ptr<CommandList> FromStream(std::FILE* file, const std::string& name);

  ~CommandList();
  CommandList(const CommandList&) = delete;
  CommandList& operator=(const CommandList&) = delete;

  const std::string& name() const { return name_; }
  // The file tasks are read from: Open's, then ReadFrom's; empty for a stream.
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return tasks_; }
  std::uint64_t lines() const { return lines_; }
  // A hash of the file's bytes (ContentHash), to tell on --resume whether it changed.
  std::uint64_t content_hash() const { return hash_; }
  // The bytes the list was read from.
  std::uint64_t file_size() const { return file_size_; }
  // The stream tasks are read from now: Open's, FromStream's, then ReadFrom's.
  std::FILE* stream() const { return file_; }
  const std::vector<Barrier>& barriers() const { return barriers_; }
  const std::vector<PerEngine>& per_engine() const { return per_engine_; }
  const std::vector<Warning>& warnings() const { return warnings_; }
  std::uint64_t warning_count() const { return warning_count_; }

  // Task `index` (0 <= index < size()), with its command when `with_command`.
  Task At(std::uint64_t index, bool with_command = true) const;

  // Calls visit(index, task) for every task in order, without commands; one pass over the file.
  void ForEach(const std::function<void(std::uint64_t, const Task&)>& visit) const;

  // Reads tasks from now on from `file` (which it then owns), open on `path`, a copy of the file
  // made after Open (the run directory's own), so that editing the original during a run changes
  // nothing. Throws ManifestError when `file` is null or its size differs. Const: what the list
  // holds stays the same.
  void ReadFrom(std::FILE* file, const std::string& path) const;
  // The same once a copy made elsewhere is whole (on another thread, while the first tasks are
  // read from the original): `take_copy` is asked at each look-up and returns null until then,
  // then the copy (checked to hold the bytes the list was read from), which the list reads from
  // and owns. It throws ManifestError when the copy cannot be had or differs; the look-up passes
  // that on. Destroying the list destroys `take_copy` (after the list's file is closed).
  void ReadFromWhenReady(std::function<std::FILE*()> take_copy, const std::string& path) const;

  // The hash content_hash() is, over bytes given in any pieces: a word at a time, with the bytes
  // of a word split between two calls carried over.
  class ContentHash {
   public:
    void Update(const char* data, std::size_t n);
    std::uint64_t Final() const;

   private:
    void Add(char c);
    void Mix(std::uint64_t word) {
      state_ = (state_ ^ word) * 0x100000001B3ull;
      state_ ^= state_ >> 32;
    }
    std::uint64_t state_ = 14695981039346656037ull;
    std::uint64_t pending_ = 0;
    int fill_ = 0;
    std::uint64_t length_ = 0;
  };

 private:
  // Where reading may resume: the start of a line, and what was in force there.
  struct State {
    std::uint64_t offset = 0;
    std::uint64_t line = 1;  // of the line at `offset`
    std::uint64_t task = 0;  // the index of the next task
    std::uint64_t disbatch_id = 0;
    std::uint32_t prefixes = 0;  // PREFIX directives read so far
    std::uint32_t suffixes = 0;
  };
  class Reader;

  CommandList(std::FILE* file, std::string name);
  void Scan();
  // Moves `state` forward, line by line, to the line that holds task `index`; fills `task`.
  void Seek(State& state, std::uint64_t index, Task& task, bool with_command) const;

  mutable std::FILE* file_;
  std::string name_;
  mutable std::string path_;
  std::uint64_t file_size_ = 0;
  std::uint64_t tasks_ = 0;
  std::uint64_t lines_ = 0;
  std::uint64_t hash_ = 0;
  std::vector<State> marks_;  // every kMarkEvery tasks, at the start of the line of the first
  std::vector<std::string> prefixes_;  // the value of each PREFIX directive, in file order
  std::vector<std::string> suffixes_;
  std::vector<Barrier> barriers_;
  std::vector<PerEngine> per_engine_;
  std::vector<Warning> warnings_;  // the first few
  std::uint64_t warning_count_ = 0;
  // Where the last two look-ups ended: one follows the tasks handed out, the other the results
  // coming back, so that both go forward from where they were instead of from a mark.
  mutable State render_cursor_;
  mutable State locate_cursor_;
  mutable std::unique_ptr<Reader> reader_;
  mutable std::function<std::FILE*()> take_copy_;  // until ReadFromWhenReady's copy is read from
  mutable std::string copy_path_;
};

}  // namespace jobrunner
