#pragma once

#include <utility>

namespace jobrunner {

// Owns one file descriptor and closes it when destroyed or reset: every fd jobrunner holds lives in
// one of these, so none leaks on an early return or an exception, and none is closed twice.
// Move-only; a moved-from UniqueFd holds nothing.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

  // Closes the fd held, if any, and holds `fd` instead (-1: nothing).
  void Reset(int fd = -1) noexcept;
  // Gives up the fd without closing it, to a new owner (a stdio stream).
  int Release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace jobrunner
