#include "posix/output_capture.h"

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <utility>

#include "posix/file.h"

namespace jobrunner {

std::string OutputFileExistsNote() {
  return " (jobrunner never overwrites an existing file with an attempt's output: something "
         "else created it)";
}

OutputCapture::OutputCapture(std::shared_ptr<const Dir> dir, std::string name, std::string path,
                             std::uint64_t max_bytes)
    : dir_(std::move(dir)), name_(std::move(name)), path_(std::move(path)), max_bytes_(max_bytes) {}

OutputCapture OutputCapture::Adopt(UniqueFd file, std::string path, std::uint64_t max_bytes) {
  OutputCapture capture;
  capture.file_ = std::move(file);
  capture.path_ = std::move(path);
  capture.max_bytes_ = max_bytes;
  return capture;
}

void OutputCapture::Append(const char* data, std::size_t size) {
  bytes_ += size;
  KeepTail(data, size);
  if (max_bytes_ != 0) size = std::min<std::uint64_t>(size, max_bytes_ - written_);
  if (size == 0 || (dir_ == nullptr && !file_) || !error_.empty()) return;
  if (!file_) {
    StatusOr<UniqueFd> file = dir_->CreateFile(name_);
    if (!file.ok()) {
      error_ = "cannot create output file " + path_ + ": " + file.status().message();
      disk_full_ = IsDiskFull(file.status());
      if (file.status().code() == EEXIST) error_ += OutputFileExistsNote();
      return;
    }
    file_ = std::move(*file);
  }
  Write(data, size);
  written_ += size;
}

void OutputCapture::KeepTail(const char* data, std::size_t size) {
  if (size >= kTailBytes) {
    tail_.assign(data + size - kTailBytes, kTailBytes);
    tail_start_ = 0;
    return;
  }
  for (std::size_t i = 0; i < size; ++i) {
    if (tail_.size() < kTailBytes) {
      tail_.push_back(data[i]);
    } else {
      tail_[tail_start_] = data[i];
      tail_start_ = (tail_start_ + 1) % kTailBytes;
    }
  }
}

std::string OutputCapture::tail() const {
  return tail_.substr(tail_start_) + tail_.substr(0, tail_start_);
}

void OutputCapture::Finish() {
  if (!file_) return;
  if (bytes_ > written_ && error_.empty()) {
    truncated_ = true;
    const std::string marker = "\n[jobrunner: output truncated after " + std::to_string(written_) +
                               " bytes; " + std::to_string(bytes_ - written_) + " bytes dropped]\n";
    Write(marker.data(), marker.size());
  }
  file_.Reset();
}

void OutputCapture::Write(const char* data, std::size_t size) {
  if (!error_.empty()) return;
  if (Status written = WriteAll(file_.get(), std::string_view(data, size)); !written.ok()) {
    error_ = "cannot write output file " + path_ + ": " + written.message();
    disk_full_ = IsDiskFull(written);
  }
}

}  // namespace jobrunner
