#pragma once

// File reading and writing shared by the built-in file kinds: streamed in chunks (a file may be
// far larger than memory), cancellable between chunks, errors as exceptions naming the file.

#include <fcntl.h>
#include <jobrunner/task_kind.h>
#include <unistd.h>

#include <cerrno>
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
// an error never leaves a half-written file under the final name.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)), temp_(path_ + ".partial") {
    fd_ = open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) FailOn("cannot create", temp_);
  }
  ~AtomicFile() {
    if (fd_ >= 0) {
      close(fd_);
      unlink(temp_.c_str());
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) FailOn("cannot write", temp_);
      data += n;
      size -= static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
    }
  }
  void Commit() {
    if (close(fd_) != 0) {
      fd_ = -1;
      unlink(temp_.c_str());
      FailOn("cannot write", temp_);
    }
    fd_ = -1;
    if (rename(temp_.c_str(), path_.c_str()) != 0) {
      unlink(temp_.c_str());
      FailOn("cannot rename into", path_);
    }
  }
  std::uint64_t written() const { return written_; }

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
};

}  // namespace jobrunner::jobs
