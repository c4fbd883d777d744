#include <filesystem>
#include <system_error>
#include <utility>

#include "base/text.h"
#include "journal/journal.h"
#include "posix/file.h"

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

// A new file's name is only durable once its directory is synced; without this a crash could lose
// the journal even though its header was synced.
void SyncParentDirectory(const std::string& path) {
  StatusOr<UniqueFd> directory =
      OpenFile(DirectoryOf(path), OpenFlags::kRead | OpenFlags::kDirectory);
  if (!directory.ok()) {
    throw JournalError(SystemError(path, "opening its directory", directory.status()));
  }
  if (Status synced = SyncFile(directory->get()); !synced.ok()) {
    throw JournalError(SystemError(path, "syncing its directory", synced));
  }
}

}  // namespace

JournalWriter::JournalWriter(UniqueFd fd, std::string path)
    : fd_(std::move(fd)), path_(std::move(path)) {}

JournalWriter JournalWriter::Adopt(UniqueFd fd, std::string path) {
  return JournalWriter(std::move(fd), std::move(path));
}

JournalWriter JournalWriter::Create(const std::string& path, std::uint64_t manifest_hash,
                                    std::uint64_t task_count) {
  StatusOr<UniqueFd> fd = OpenFile(
      path, OpenFlags::kWrite | OpenFlags::kCreate | OpenFlags::kExclusive | OpenFlags::kAppend);
  if (!fd.ok()) throw JournalError(SystemError(path, "creating", fd.status()));
  JournalWriter writer(std::move(*fd), path);
  try {
    writer.buffer_ = EncodeJournalHeader({kJournalFormatVersion, manifest_hash, task_count});
    writer.Sync();
    SyncParentDirectory(path);
  } catch (const JournalError&) {
    // A journal without its header can never be resumed; leaving it would only make a retry
    // fail with "file exists".
    writer.Close();
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    throw;
  }
  return writer;
}

JournalWriter JournalWriter::Append(const std::string& path, std::uint64_t valid_end) {
  StatusOr<UniqueFd> fd = OpenFile(path, OpenFlags::kWrite | OpenFlags::kAppend);
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

JournalWriter::JournalWriter(JournalWriter&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      buffered_records_(std::exchange(other.buffered_records_, 0)),
      oldest_buffered_(other.oldest_buffered_),
      failure_(std::move(other.failure_)) {}

JournalWriter& JournalWriter::operator=(JournalWriter&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    buffered_records_ = std::exchange(other.buffered_records_, 0);
    oldest_buffered_ = other.oldest_buffered_;
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

void JournalWriter::Add(const JournalRecord& record, const Clock& clock) {
  AppendFramedRecord(record, buffer_);
  if (buffered_records_++ == 0) oldest_buffered_ = clock.Now();
}

bool JournalWriter::SyncDue(std::chrono::steady_clock::time_point now) const {
  return buffered_records_ > 0 &&
         (buffered_records_ >= kSyncRecords || now - oldest_buffered_ >= kSyncInterval);
}

void JournalWriter::Sync() {
  if (!failure_.empty()) throw JournalError(failure_);
  if (buffer_.empty()) return;
  if (Status written = WriteAll(fd_.get(), buffer_); !written.ok()) Fail("write", written);
  // After a failed fdatasync the kernel may have dropped the dirty pages, so retrying could
  // report success for data that never reached the disk: Fail() makes the writer refuse.
  if (Status synced = SyncData(fd_.get()); !synced.ok()) Fail("fdatasync", synced);
  buffer_.clear();
  buffered_records_ = 0;
}

void JournalWriter::Fail(const char* operation, const Status& error) {
  failure_ = SystemError(path_, operation, error);
  throw JournalError(failure_);
}

}  // namespace jobrunner
