#include "posix/oom_watch.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "temp_dir.h"

namespace jobrunner {
namespace {

using std::chrono::seconds;
using testing::TempDir;

void WriteVmstat(const std::string& path, int oom_kills) {
  std::ofstream(path) << "nr_free_pages 1000\npgfault 5\noom_kill " << oom_kills << "\nx 1\n";
}

TEST_CASE("An OOM kill is recent until two readings have passed it") {
  TempDir dir;
  const std::string vmstat = dir / "vmstat";
  WriteVmstat(vmstat, 3);
  OomWatch watch(vmstat);
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(watch.RoseRecently());
  WriteVmstat(vmstat, 4);
  CHECK(watch.RoseRecently());
  watch.Refresh(start + seconds(2));  // the newer reading sees 4, the older still 3
  CHECK(watch.RoseRecently());
  watch.Refresh(start + seconds(2) + std::chrono::milliseconds(500));  // too soon to read again
  CHECK(watch.RoseRecently());
  watch.Refresh(start + seconds(4));
  CHECK_FALSE(watch.RoseRecently());
}

TEST_CASE("Without a readable counter, nothing counts as an OOM kill") {
  TempDir dir;
  OomWatch watch(dir / "missing");
  CHECK_FALSE(watch.RoseRecently());
  std::ofstream(dir / "old") << "nr_free_pages 1000\n";  // a kernel before oom_kill was counted
  OomWatch old(dir / "old");
  CHECK_FALSE(old.RoseRecently());
}

}  // namespace
}  // namespace jobrunner
