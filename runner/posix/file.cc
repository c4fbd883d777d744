#include "posix/file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace jobrunner {
namespace {

Status SystemError(int error) { return Status::Error(std::strerror(error), error); }

bool Has(OpenFlags flags, OpenFlags flag) {
  return (static_cast<unsigned>(flags) & static_cast<unsigned>(flag)) != 0;
}

int OpenFlagBits(OpenFlags flags) {
  const bool read = Has(flags, OpenFlags::kRead), write = Has(flags, OpenFlags::kWrite);
  int bits = O_CLOEXEC | (read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY);
  if (Has(flags, OpenFlags::kCreate)) bits |= O_CREAT;
  if (Has(flags, OpenFlags::kExclusive)) bits |= O_EXCL;
  if (Has(flags, OpenFlags::kTruncate)) bits |= O_TRUNC;
  if (Has(flags, OpenFlags::kAppend)) bits |= O_APPEND;
  if (Has(flags, OpenFlags::kDirectory)) bits |= O_DIRECTORY;
  return bits;
}

}  // namespace

StatusOr<UniqueFd> OpenFile(const std::string& path, OpenFlags flags) {
  const int fd = ::open(path.c_str(), OpenFlagBits(flags), 0644);
  if (fd < 0) return SystemError(errno);
  return UniqueFd(fd);
}

StatusOr<std::FILE*> OpenStream(UniqueFd fd, const char* mode) {
  std::FILE* stream = ::fdopen(fd.get(), mode);
  if (stream == nullptr) return SystemError(errno);
  fd.Release();
  return stream;
}

StatusOr<std::uint64_t> FileSize(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return SystemError(errno);
  return static_cast<std::uint64_t>(st.st_size);
}

std::optional<std::uint64_t> RegularFileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

std::optional<std::string> ReadFileTail(int fd, std::size_t max_bytes) {
  StatusOr<std::uint64_t> size = FileSize(fd);
  if (!size.ok()) return std::nullopt;
  const std::uint64_t start = *size > max_bytes ? *size - max_bytes : 0;
  std::string tail(static_cast<std::size_t>(*size - start), '\0');
  StatusOr<std::size_t> read = ReadAt(fd, tail.data(), tail.size(), start);
  if (!read.ok()) return std::nullopt;
  tail.resize(*read);
  return tail;
}

StatusOr<std::size_t> ReadAt(int fd, char* data, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SystemError(errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

StatusOr<std::string> ReadRest(int fd, std::uint64_t offset, std::size_t limit) {
  constexpr std::size_t kChunk = std::size_t{64} * 1024;
  std::string text;
  while (text.size() < limit) {
    const std::size_t had = text.size();
    const std::size_t wanted = std::min(kChunk, limit - had);
    text.resize(had + wanted);
    StatusOr<std::size_t> got = ReadAt(fd, text.data() + had, wanted, offset + had);
    if (!got.ok()) return got.status();
    text.resize(had + *got);
    if (*got < wanted) break;  // the end of the file
  }
  return text;
}

Status ForEachLine(int fd, const std::function<void(std::string_view)>& on_line) {
  constexpr std::size_t kChunk = 1 << 20;
  std::string pending;
  for (std::uint64_t offset = 0;;) {
    StatusOr<std::string> chunk = ReadRest(fd, offset, kChunk);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) break;
    offset += chunk->size();
    pending += *chunk;
    std::size_t start = 0;
    for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      on_line(std::string_view(pending).substr(start, end - start));
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line(pending);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SystemError(n < 0 ? errno : EIO);  // 0: no progress, and none to come
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Status SyncData(int fd) { return ::fdatasync(fd) == 0 ? Status::Ok() : SystemError(errno); }

Status SyncFile(int fd) { return ::fsync(fd) == 0 ? Status::Ok() : SystemError(errno); }

Status Truncate(int fd, std::uint64_t size) {
  return ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? Status::Ok() : SystemError(errno);
}

Status TryLockFile(int fd) {
  return ::flock(fd, LOCK_EX | LOCK_NB) == 0 ? Status::Ok() : SystemError(errno);
}

StatusOr<std::string> MakeTempDirectory(const std::string& prefix) {
  std::string path = prefix + "XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) return SystemError(errno);
  return path;
}

bool IsDiskFull(const Status& status) { return status.code() == ENOSPC || status.code() == EDQUOT; }

}  // namespace jobrunner
