#include <utility>

#include "base/text.h"
#include "journal/journal.h"
#include "posix/file.h"
#include "posix/this_process.h"

namespace jobrunner {
namespace {

std::string SystemError(const std::string& path, const std::string& operation,
                        const Status& error) {
  std::string message = "journal " + path + ": " + operation + " failed: " + error.message();
  if (IsDiskFull(error)) {
    message += " (free space on the disk holding the run directory, then resume the run)";
  }
  return message;
}

StatusOr<Dir> DirectoryHolding(const std::string& path) { return Dir::Open(DirectoryOf(path)); }

}  // namespace

JournalWriter::JournalWriter(UniqueFd fd, std::string path)
    : fd_(std::move(fd)), path_(std::move(path)) {}

JournalWriter JournalWriter::Adopt(UniqueFd fd, std::string path) {
  return JournalWriter(std::move(fd), std::move(path));
}

JournalWriter JournalWriter::Create(const Dir& dir, const std::string& name,
                                    std::uint64_t manifest_hash, std::uint64_t task_count) {
  const std::string path = dir.PathOf(name);
  const std::string temp = name + ".new";
  auto fail = [&](const std::string& operation, const Status& error) {
    // A journal without its header can never be resumed: the temporary file goes.
    (void)dir.Remove(temp);
    throw JournalError(SystemError(path, operation, error));
  };
  if (StatusOr<Dir::Entry> there = dir.Look(name);
      !there.ok() || there->kind != Dir::Kind::kMissing) {
    throw JournalError(
        SystemError(path, "creating", there.ok() ? Status::Error("File exists") : there.status()));
  }
  if (Status removed = dir.Remove(temp); !removed.ok()) fail("removing " + temp, removed);
  StatusOr<UniqueFd> fd = dir.CreateFile(temp);
  if (!fd.ok()) fail("creating " + temp, fd.status());
  const std::string header =
      EncodeJournalHeader({kJournalFormatVersion, manifest_hash, task_count});
  if (Status written = WriteAll(fd->get(), header); !written.ok()) fail("write", written);
  if (Status synced = SyncData(fd->get()); !synced.ok()) fail("fdatasync", synced);
  TestCrashPoint("journal-header-synced");
  if (Status renamed = dir.RenameNoReplace(temp, name); !renamed.ok()) {
    fail("renaming " + temp + " to " + name, renamed);
  }
  // The new name is durable only once the directory is synced.
  if (Status synced = dir.Sync(); !synced.ok()) {
    throw JournalError(SystemError(path, "syncing its directory", synced));
  }
  return JournalWriter(std::move(*fd), path);
}

JournalWriter JournalWriter::Create(const std::string& path, std::uint64_t manifest_hash,
                                    std::uint64_t task_count) {
  StatusOr<Dir> dir = DirectoryHolding(path);
  if (!dir.ok()) throw JournalError(SystemError(path, "opening its directory", dir.status()));
  return Create(*dir, BaseNameOf(path), manifest_hash, task_count);
}

JournalWriter JournalWriter::Append(const Dir& dir, const std::string& name,
                                    std::uint64_t valid_end) {
  const std::string path = dir.PathOf(name);
  StatusOr<UniqueFd> fd = dir.OpenForAppend(name);
  if (!fd.ok()) throw JournalError(SystemError(path, "opening", fd.status()));
  JournalWriter writer(std::move(*fd), path);
  StatusOr<std::uint64_t> file_size = FileSize(writer.fd_.get());
  if (!file_size.ok()) writer.Fail("fstat", file_size.status());
  const std::uint64_t size = *file_size;
  if (valid_end < kJournalHeaderSize || valid_end > size) {
    throw JournalError("journal " + path + ": cannot append after byte " +
                       std::to_string(valid_end) + " of a " + std::to_string(size) +
                       "-byte file; read it again");
  }
  if (size > valid_end) {
    // A torn tail must go before anything is appended, or it would become corruption in the
    // middle of the file. The cut is synced so it cannot reappear after a crash.
    if (Status cut = Truncate(writer.fd_.get(), valid_end); !cut.ok())
      writer.Fail("truncating", cut);
    if (Status synced = SyncData(writer.fd_.get()); !synced.ok()) writer.Fail("fdatasync", synced);
  }
  return writer;
}

JournalWriter JournalWriter::Append(const std::string& path, std::uint64_t valid_end) {
  StatusOr<Dir> dir = DirectoryHolding(path);
  if (!dir.ok()) throw JournalError(SystemError(path, "opening its directory", dir.status()));
  return Append(*dir, BaseNameOf(path), valid_end);
}

JournalWriter::JournalWriter(JournalWriter&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      failure_(std::move(other.failure_)) {}

JournalWriter& JournalWriter::operator=(JournalWriter&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    failure_ = std::move(other.failure_);
  }
  return *this;
}

JournalWriter::~JournalWriter() { Close(); }

void JournalWriter::Close() noexcept {
  if (!fd_) return;
  try {
    Sync();
  } catch (...) {
    // Nowhere to report from here; callers that care have called Sync() themselves.
  }
  fd_.Reset();
}

void JournalWriter::Add(const JournalRecord& record) { AppendFramedRecord(record, buffer_); }

void JournalWriter::AddFramed(std::string_view framed) { buffer_ += framed; }

void JournalWriter::Sync() {
  if (!failure_.empty()) throw JournalError(failure_);
  if (buffer_.empty()) return;
  if (Status written = WriteAll(fd_.get(), buffer_); !written.ok()) Fail("write", written);
  // After a failed fdatasync the kernel may have dropped the dirty pages, so retrying could
  // report success for data that never reached the disk: Fail() makes the writer refuse.
  if (Status synced = SyncData(fd_.get()); !synced.ok()) Fail("fdatasync", synced);
  buffer_.clear();
}

void JournalWriter::Fail(const char* operation, const Status& error) {
  failure_ = SystemError(path_, operation, error);
  throw JournalError(failure_);
}

}  // namespace jobrunner
