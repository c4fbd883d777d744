#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace jobrunner {

// Whether the kernel's OOM killer has struck on this node lately, for a task that has no cgroup
// of its own to say so: /proc/vmstat counts every OOM kill of the node (oom_kill, Linux 4.13 and
// later), and anyone may read it.
//
// The rule: a task that died of a SIGKILL that jobrunner did not send, when the node's count rose
// within about the two seconds before, was OOM-killed. A `kill -9` from elsewhere at the moment
// of another process's OOM kill would be misread as one; an OOM kill of one of the task's own
// children, after which the task went on, is not seen at all.
class OomWatch {
 public:
  explicit OomWatch(std::string vmstat_path = "/proc/vmstat");

  // Takes a new reading once a second has passed since the last: cheap to call often.
  void Refresh(std::chrono::steady_clock::time_point now);
  // Whether the count rose since the older of the last two readings (one to two seconds ago).
  bool RoseRecently() const;

 private:
  std::uint64_t Read() const;

  std::string path_;
  std::uint64_t older_ = 0;
  std::uint64_t newer_ = 0;
  std::chrono::steady_clock::time_point newer_at_;
};

}  // namespace jobrunner
