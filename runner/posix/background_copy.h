#pragma once

// A file copied into another on a thread of its own, so that whoever needs the copy only later
// need not wait for it: the run directory's copy of a long command list is made while its first
// tasks already run.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <thread>

#include "base/status.h"
#include "posix/unique_fd.h"

namespace jobrunner {

class BackgroundCopy {
 public:
  // Called with every block copied, in order, on the copying thread (a hash of what was copied).
  using Observer = std::function<void(const char* data, std::size_t size)>;
  // Called on the copying thread once every byte is copied, with their count, before done():
  // what makes the copy count as made (a rename to its own name); its Status is status().
  using Finish = std::function<Status(std::uint64_t bytes)>;

  // Starts copying the bytes of the file open in `from` (read with pread from offset 0 to its
  // end, on an fd of its own: the caller may go on reading `from` meanwhile) to `to`, from its
  // start.
  BackgroundCopy(std::FILE* from, UniqueFd to, Observer observe, Finish finish = nullptr);
  // Waits for the copy to end.
  ~BackgroundCopy();
  BackgroundCopy(const BackgroundCopy&) = delete;
  BackgroundCopy& operator=(const BackgroundCopy&) = delete;

  // Whether the copy has ended.
  bool done() const { return done_.load(std::memory_order_acquire); }
  // Once done(): how it ended (a read or write error, as a Status), the bytes copied, and the
  // copy's fd, which the caller then owns.
  Status status() const { return status_; }
  std::uint64_t bytes() const { return bytes_; }
  UniqueFd TakeCopy() { return std::move(to_); }

 private:
  void Run();

  UniqueFd from_;
  UniqueFd to_;
  Observer observe_;
  Finish finish_;
  Status status_ = Status::Ok();
  std::uint64_t bytes_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace jobrunner
