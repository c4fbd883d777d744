#include "posix/background_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "posix/file.h"

namespace jobrunner {
namespace {

constexpr std::size_t kBlock = std::size_t{1} << 20;

}  // namespace

BackgroundCopy::BackgroundCopy(std::FILE* from, UniqueFd to, Observer observe, Finish finish)
    : from_(::fcntl(::fileno(from), F_DUPFD_CLOEXEC, 0)),
      to_(std::move(to)),
      observe_(std::move(observe)),
      finish_(std::move(finish)) {
  if (!from_) {
    status_ = Status::Error(std::strerror(errno), errno);
    done_.store(true, std::memory_order_release);
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

BackgroundCopy::~BackgroundCopy() {
  if (thread_.joinable()) thread_.join();
}

void BackgroundCopy::Run() {
  std::vector<char> block(kBlock);
  for (;;) {
    StatusOr<std::size_t> n = ReadAt(from_.get(), block.data(), block.size(), bytes_);
    if (!n.ok()) {
      status_ = n.status();
      break;
    }
    if (*n == 0) {
      if (finish_) status_ = finish_(bytes_);
      break;
    }
    if (Status written = WriteAll(to_.get(), std::string_view(block.data(), *n)); !written.ok()) {
      status_ = written;
      break;
    }
    if (observe_) observe_(block.data(), *n);
    bytes_ += *n;
  }
  from_.Reset();
  done_.store(true, std::memory_order_release);
}

}  // namespace jobrunner
