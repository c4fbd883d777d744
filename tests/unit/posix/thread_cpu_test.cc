#include "posix/thread_cpu.h"

#include <catch2/catch.hpp>
#include <thread>

namespace jobrunner {
namespace {

// Work the optimiser cannot drop, for a few milliseconds of CPU at least.
std::uint64_t Spin() {
  volatile std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 50'000'000; ++i) sum = sum + i;
  return sum;
}

TEST_CASE("A thread's CPU time grows with its own work, not another thread's") {
  const CpuTime before = ThisThreadCpuTime();
  Spin();
  const CpuTime after = ThisThreadCpuTime();
  CHECK(after.user_us + after.system_us > before.user_us + before.system_us);

  CpuTime fresh;
  std::thread([&fresh] { fresh = ThisThreadCpuTime(); }).join();
  // A new thread has used almost nothing: far less than this one's spin.
  CHECK(fresh.user_us < after.user_us - before.user_us);
}

}  // namespace
}  // namespace jobrunner
