#include "posix/oom_watch.h"

#include <cstdlib>
#include <cstring>

#include "posix/file.h"

namespace jobrunner {

OomWatch::OomWatch(std::string vmstat_path)
    : path_(std::move(vmstat_path)),
      older_(Read()),
      newer_(older_),
      newer_at_(std::chrono::steady_clock::now()) {}

std::uint64_t OomWatch::Read() const {
  StatusOr<UniqueFd> file = OpenFile(path_, OpenFlags::kRead);
  if (!file.ok()) return 0;
  // oom_kill is near the end of some 200 lines; the whole file is a few kilobytes.
  std::string text;
  char buffer[8192];
  for (;;) {
    StatusOr<std::size_t> read = ReadAt(file->get(), buffer, sizeof buffer, text.size());
    if (!read.ok() || *read == 0) break;
    text.append(buffer, *read);
  }
  const std::size_t at = text.find("\noom_kill ");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + std::strlen("\noom_kill "), nullptr, 10);
}

void OomWatch::Refresh(std::chrono::steady_clock::time_point now) {
  if (now - newer_at_ < std::chrono::seconds(1)) return;
  older_ = newer_;
  newer_ = Read();
  newer_at_ = now;
}

bool OomWatch::RoseRecently() const { return Read() > older_; }

}  // namespace jobrunner
