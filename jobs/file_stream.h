#pragma once

// File reading and writing shared by the built-in file kinds: streamed in chunks (a file may be
// far larger than memory), cancellable between chunks, errors as exceptions naming the file.

#include <fcntl.h>
#include <jobrunner/task_kind.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace jobrunner::jobs {

inline constexpr std::size_t kChunkBytes = 1 << 20;

[[noreturn]] inline void FailOn(const std::string& what, const std::string& path) {
  const std::string message = what + " " + path + ": " + std::strerror(errno);
  if (errno == ENOSPC || errno == EDQUOT) throw DiskFullError(message);
  throw std::runtime_error(message);
}

// Calls `consume(data, size)` for each chunk of the file; returns the bytes read. Throws
// std::runtime_error when the file cannot be read or the task is cancelled.
template <class Consume>
std::uint64_t ReadChunks(const std::string& path, TaskContext& context, Consume consume) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) FailOn("cannot open", path);
  std::vector<char> buffer(kChunkBytes);
  std::uint64_t total = 0;
  for (;;) {
    if (context.Cancelled()) {
      close(fd);
      throw std::runtime_error("cancelled while reading " + path);
    }
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      close(fd);
      errno = saved;
      FailOn("cannot read", path);
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    consume(buffer.data(), static_cast<std::size_t>(n));
  }
  close(fd);
  return total;
}

// A file written under a temporary name and renamed into place by Commit, so that a crash or
// an error never leaves a half-written file under the final name. The temporary file is always
// created new, never through a link (one left by a crash, or planted there, is removed first:
// unlinking a link never touches what it points to), and the rename replaces whatever is at the
// final name without following it. With Parent::kNoLink the directory itself may not be a link
// either: for a file in the run directory (TaskContext::OutputFile), where links are refused.
class AtomicFile {
 public:
  enum class Parent { kLinksFollowed, kNoLink };

  explicit AtomicFile(std::string path, Parent parent = Parent::kLinksFollowed)
      : path_(std::move(path)) {
    const std::size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : path_.substr(0, slash);
    name_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    temp_ = name_ + ".partial";
    const int no_link = parent == Parent::kNoLink ? O_NOFOLLOW : 0;
    dir_fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | no_link);
    if (dir_fd_ < 0) FailOn("cannot open the directory of", path_);
    unlinkat(dir_fd_, temp_.c_str(), 0);
    fd_ =
        openat(dir_fd_, temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int saved = errno;
      close(dir_fd_);
      errno = saved;
      FailOn("cannot create", path_ + ".partial");
    }
  }
  ~AtomicFile() {
    if (fd_ >= 0) {
      close(fd_);
      unlinkat(dir_fd_, temp_.c_str(), 0);
    }
    close(dir_fd_);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) FailOn("cannot write", path_ + ".partial");
      data += n;
      size -= static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
    }
  }
  void Commit() {
    if (close(fd_) != 0) {
      fd_ = -1;
      unlinkat(dir_fd_, temp_.c_str(), 0);
      FailOn("cannot write", path_ + ".partial");
    }
    fd_ = -1;
    if (renameat(dir_fd_, temp_.c_str(), dir_fd_, name_.c_str()) != 0) {
      const int saved = errno;
      unlinkat(dir_fd_, temp_.c_str(), 0);
      errno = saved;
      FailOn("cannot rename into", path_);
    }
  }
  std::uint64_t written() const { return written_; }

 private:
  std::string path_;
  std::string name_;  // in the directory dir_fd_ holds
  std::string temp_;
  int dir_fd_ = -1;
  int fd_ = -1;
  std::uint64_t written_ = 0;
};

}  // namespace jobrunner::jobs
