#include "posix/thread_cpu.h"

#include <sys/resource.h>

namespace jobrunner {
namespace {

std::int64_t Microseconds(const timeval& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000 + time.tv_usec;
}

}  // namespace

CpuTime ThisThreadCpuTime() {
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return {};
  return CpuTime{Microseconds(usage.ru_utime), Microseconds(usage.ru_stime)};
}

}  // namespace jobrunner
