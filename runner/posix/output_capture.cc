#include "posix/output_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace jobrunner {

OutputCapture::OutputCapture(std::string path, std::uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {}

OutputCapture::OutputCapture(OutputCapture&& other) noexcept { *this = std::move(other); }

OutputCapture& OutputCapture::operator=(OutputCapture&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    max_bytes_ = other.max_bytes_;
    bytes_ = other.bytes_;
    written_ = other.written_;
    fd_ = std::exchange(other.fd_, -1);
    truncated_ = other.truncated_;
    error_ = std::move(other.error_);
  }
  return *this;
}

OutputCapture::~OutputCapture() {
  if (fd_ >= 0) close(fd_);
}

void OutputCapture::Append(const char* data, std::size_t size) {
  bytes_ += size;
  if (max_bytes_ != 0) size = std::min<std::uint64_t>(size, max_bytes_ - written_);
  if (size == 0 || path_.empty() || !error_.empty()) return;
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      error_ = "cannot create output file " + path_ + ": " + std::generic_category().message(errno);
      return;
    }
  }
  Write(data, size);
  written_ += size;
}

void OutputCapture::Finish() {
  if (fd_ < 0) return;
  if (bytes_ > written_ && error_.empty()) {
    truncated_ = true;
    const std::string marker = "\n[jobrunner: output truncated after " + std::to_string(written_) +
                               " bytes; " + std::to_string(bytes_ - written_) + " bytes dropped]\n";
    Write(marker.data(), marker.size());
  }
  close(fd_);
  fd_ = -1;
}

void OutputCapture::Write(const char* data, std::size_t size) {
  while (size > 0 && error_.empty()) {
    const ssize_t n = write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = "cannot write output file " + path_ + ": " + std::generic_category().message(errno);
      return;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace jobrunner
