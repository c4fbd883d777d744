#pragma once

// The CPU time of the calling thread: what an in-process task kind used, measured on the thread
// that ran it (the worker's other threads and children are not counted).

#include <cstdint>

namespace jobrunner {

struct CpuTime {
  std::int64_t user_us = 0;
  std::int64_t system_us = 0;
};

// getrusage(RUSAGE_THREAD); zeros when it cannot be read.
CpuTime ThisThreadCpuTime();

}  // namespace jobrunner
