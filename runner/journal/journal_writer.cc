#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/text.h"
#include "journal/journal.h"

namespace jobrunner {
namespace {

std::string SystemError(const std::string& path, const std::string& operation, int error) {
  std::string message = "journal " + path + ": " + operation + " failed: " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) {
    message += " (free space on the disk holding the run directory, then resume the run)";
  }
  return message;
}

// A new file's name is only durable once its directory is synced; without this a crash could lose
// the journal even though its header was synced.
void SyncParentDirectory(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw JournalError(SystemError(path, "opening its directory", errno));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (result != 0) throw JournalError(SystemError(path, "syncing its directory", error));
}

}  // namespace

JournalWriter::JournalWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

JournalWriter JournalWriter::Adopt(int fd, std::string path) {
  return JournalWriter(fd, std::move(path));
}

JournalWriter JournalWriter::Create(const std::string& path, std::uint64_t manifest_hash,
                                    std::uint64_t task_count) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw JournalError(SystemError(path, "creating", errno));
  JournalWriter writer(fd, path);
  try {
    writer.buffer_ = EncodeJournalHeader({kJournalFormatVersion, manifest_hash, task_count});
    writer.Sync();
    SyncParentDirectory(path);
  } catch (const JournalError&) {
    // A journal without its header can never be resumed; leaving it would only make a retry
    // fail with "file exists".
    writer.Close();
    ::unlink(path.c_str());
    throw;
  }
  return writer;
}

JournalWriter JournalWriter::Append(const std::string& path, std::uint64_t valid_end) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw JournalError(SystemError(path, "opening", errno));
  JournalWriter writer(fd, path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) writer.Fail("fstat", errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (valid_end < kJournalHeaderSize || valid_end > size) {
    throw JournalError("journal " + path + ": cannot append after byte " +
                       std::to_string(valid_end) + " of a " + std::to_string(size) +
                       "-byte file; read it again");
  }
  if (size > valid_end) {
    // A torn tail must go before anything is appended, or it would become corruption in the
    // middle of the file. The cut is synced so it cannot reappear after a crash.
    if (::ftruncate(fd, static_cast<off_t>(valid_end)) != 0) writer.Fail("truncating", errno);
    if (::fdatasync(fd) != 0) writer.Fail("fdatasync", errno);
  }
  return writer;
}

JournalWriter::JournalWriter(JournalWriter&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      buffered_records_(std::exchange(other.buffered_records_, 0)),
      oldest_buffered_(other.oldest_buffered_),
      failure_(std::move(other.failure_)) {}

JournalWriter& JournalWriter::operator=(JournalWriter&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
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
  if (fd_ < 0) return;
  try {
    Sync();
  } catch (...) {
    // Nowhere to report from here; callers that care have called Sync() themselves.
  }
  ::close(fd_);
  fd_ = -1;
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
  std::size_t written = 0;
  while (written < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  // After a failed fdatasync the kernel may have dropped the dirty pages, so retrying could
  // report success for data that never reached the disk: Fail() makes the writer refuse.
  if (::fdatasync(fd_) != 0) Fail("fdatasync", errno);
  buffer_.clear();
  buffered_records_ = 0;
}

void JournalWriter::Fail(const char* operation, int error) {
  failure_ = SystemError(path_, operation, error);
  throw JournalError(failure_);
}

}  // namespace jobrunner
