#pragma once

// The run's journal: an append-only file of checksummed records from which `--resume` learns what
// already happened. docs/journal-format.md has the byte layout and the rules for damaged files.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "journal/journal_record.h"
#include "posix/dir.h"
#include "posix/unique_fd.h"

namespace jobrunner {

// Where journal records go, in order: a JournalWriter, or the coordinator's RecordWriter, which
// hands them to a JournalWriter on a thread of its own.
class JournalSink {
 public:
  virtual ~JournalSink() = default;
  virtual void Add(const JournalRecord& record) = 0;
};

// Appends records with group commit: Add() only buffers, Sync() writes the buffer with one
// write(2) and one fdatasync, so a busy run pays for one disk flush per batch, not per record.
// When to sync is the caller's choice: a run's RecordWriter syncs as soon as records are pending
// and its previous sync has finished.
// After any failed write or sync the writer refuses further work (every Sync() throws again):
// the file may end in a partial record, which a reader drops as a torn tail only if nothing is
// appended after it.
class JournalWriter final : public JournalSink {
 public:
  // Creates the journal `name` in `dir`, failing if it exists. The header is written and synced
  // under the temporary name `name`.new (replacing one that a start cut short left: the caller
  // holds the run directory's lock), which is then renamed to `name`, and the directory synced:
  // `name` never exists without its whole header, so a crash leaves either a journal to resume
  // or no journal at all.
  static JournalWriter Create(const Dir& dir, const std::string& name, std::uint64_t manifest_hash,
                              std::uint64_t task_count);
  // Reopens the journal `name` in `dir` to add records after `valid_end` (from ReadJournal),
  // first cutting off and syncing away any torn tail beyond it.
  static JournalWriter Append(const Dir& dir, const std::string& name, std::uint64_t valid_end);
  // The same, with the journal given by its path (tests, tools).
  static JournalWriter Create(const std::string& path, std::uint64_t manifest_hash,
                              std::uint64_t task_count);
  static JournalWriter Append(const std::string& path, std::uint64_t valid_end);
  // Takes `fd`, open for appending to a journal whose header is already written;
  // `path` names it in error messages. Create and Append are the usual ways in; this lets a caller
  // supply its own descriptor (tests use /dev/full to see a full disk).
  static JournalWriter Adopt(UniqueFd fd, std::string path);

  JournalWriter(JournalWriter&& other) noexcept;
  JournalWriter& operator=(JournalWriter&& other) noexcept;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  // Makes a last attempt to sync what is buffered, then closes the file. A destructor cannot
  // report failure, so call Sync() first wherever the outcome matters.
  ~JournalWriter() override;

  // Buffers `record`; nothing reaches the file until Sync(). Throws JournalError only for a
  // record over kMaxRecordLength.
  void Add(const JournalRecord& record) override;
  // Buffers records framed already (AppendFramedRecord), in the order given.
  void AddFramed(std::string_view framed);
  // Writes everything buffered and waits for it to be on disk. Throws JournalError with the
  // system's reason (e.g. "No space left on device").
  void Sync();

  const std::string& path() const { return path_; }

 private:
  JournalWriter(UniqueFd fd, std::string path);
  [[noreturn]] void Fail(const char* operation, const Status& error);
  void Close() noexcept;

  UniqueFd fd_;
  std::string path_;
  std::string buffer_;
  std::string failure_;  // why the writer stopped; empty while it works
};

// What a journal says about itself, beyond its records.
struct JournalInfo : JournalHeader {
  // Byte offset just after the last intact record (kJournalHeaderSize when there is none): where
  // JournalWriter::Append continues.
  std::uint64_t valid_end = kJournalHeaderSize;
  // Set when a torn last record (a write cut short by a crash) was dropped; says at which offset
  // and how many bytes, for a warning. The records before it are all intact.
  std::optional<std::string> torn_tail;
};

struct JournalContents : JournalInfo {
  std::vector<JournalRecord> records;
};

// Reads a journal, calling `on_record` for each intact record in file order, so a journal of
// millions of records is never held in memory. Throws JournalError when the file cannot be read,
// its header is missing or bad, or a damaged record is followed by more bytes (corruption in the
// middle, which no crash produces); records already passed to `on_record` are then not to be
// trusted either.
JournalInfo ReadJournal(const Dir& dir, const std::string& name,
                        const std::function<void(const JournalRecord&)>& on_record);
// The same, with the journal given by its path.
JournalInfo ReadJournal(const std::string& path,
                        const std::function<void(const JournalRecord&)>& on_record);
// The same, collecting the records.
JournalContents ReadJournal(const std::string& path);

// ReadJournal's rules over a journal held in memory; `name` stands for its path in messages.
JournalInfo ParseJournal(std::string_view bytes, const std::string& name,
                         const std::function<void(const JournalRecord&)>& on_record);
// The same, collecting the records.
JournalContents ParseJournal(std::string_view bytes, const std::string& name);

}  // namespace jobrunner
