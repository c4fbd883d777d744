#include "posix/memory_cgroups.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

namespace fs = std::filesystem;

constexpr pid_t kPid = 4242;

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST_CASE("Cgroup paths come from /proc/self/cgroup under the mounts mountinfo lists") {
  const std::string cgroups = "12:memory:/job/7\n4:cpu,cpuacct:/job/7\n0::/user.slice/app\n";
  const std::string mountinfo =
      "25 30 0:22 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
      "31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n"
      "32 30 0:28 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n";
  const CgroupPaths paths = FindCgroupPaths(cgroups, mountinfo);
  CHECK(paths.v2 == "/sys/fs/cgroup/unified/user.slice/app");
  CHECK(paths.v1_memory == "/sys/fs/cgroup/memory/job/7");
}

TEST_CASE("A mount of part of the hierarchy shows the cgroups below its root only") {
  const std::string mountinfo = "40 35 0:30 /user.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  CHECK(FindCgroupPaths("0::/user.slice/app\n", mountinfo).v2 == "/sys/fs/cgroup/app");
  CHECK(FindCgroupPaths("0::/user.slice\n", mountinfo).v2 == "/sys/fs/cgroup");
  CHECK(FindCgroupPaths("0::/system.slice/x\n", mountinfo).v2.empty());
  CHECK(FindCgroupPaths("0::/user.slicex\n", mountinfo).v2.empty());
}

TEST_CASE("Without a memory cgroup, memory limits are not enforced, and the reason says so") {
  std::string why;
  CHECK(SetUpMemoryCgroups(CgroupPaths{}, kPid, why) == nullptr);
  CHECK(why == "no cgroup with the memory controller is visible");
}

TEST_CASE("A v2 cgroup the worker has to itself becomes a worker leaf and task cgroups") {
  TempDir dir;
  const std::string own = dir.str();
  Write(own + "/cgroup.controllers", "cpu io memory pids\n");
  Write(own + "/cgroup.procs", std::to_string(kPid) + "\n");
  std::string why;
  std::unique_ptr<MemoryCgroups> cgroups = SetUpMemoryCgroups(CgroupPaths{own, ""}, kPid, why);
  REQUIRE(cgroups != nullptr);
  CHECK(cgroups->version() == MemoryCgroups::Version::kV2);
  CHECK(ReadFile(own + "/worker/cgroup.procs") == std::to_string(kPid));
  CHECK(ReadFile(own + "/cgroup.subtree_control") == "+memory");

  StatusOr<std::string> task = cgroups->Create(100 << 20);
  REQUIRE(task.ok());
  CHECK(fs::path(*task).parent_path() == own);
  CHECK(ReadFile(*task + "/memory.max") == std::to_string(100 << 20));
  CHECK(ReadFile(*task + "/memory.swap.max") == "0");
  REQUIRE(cgroups->BeforeSpawn(*task).ok());
  REQUIRE(cgroups->AfterSpawn(*task, 777).ok());
  CHECK(ReadFile(*task + "/cgroup.procs") == "777");

  CHECK(cgroups->OomKills(*task) == 0);
  Write(*task + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  CHECK(cgroups->OomKills(*task) == 1);
  CHECK(*cgroups->Create(1 << 20) != *task);
}

TEST_CASE("A v2 cgroup shared with other processes cannot give limits, and the reason says so") {
  TempDir dir;
  Write(dir / "cgroup.controllers", "memory\n");
  Write(dir / "cgroup.procs", "17\n" + std::to_string(kPid) + "\n");
  std::string why;
  CHECK(SetUpMemoryCgroups(CgroupPaths{dir.str(), ""}, kPid, why) == nullptr);
  CHECK(why.find("holds 2 processes") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "worker"));
}

TEST_CASE("A v1 memory cgroup gets a directory per worker and the spawning thread steps in") {
  TempDir dir;
  Write(dir / "cgroup.controllers", "cpu\n");  // v2 without memory: v1 has it
  std::string why;
  std::unique_ptr<MemoryCgroups> cgroups =
      SetUpMemoryCgroups(CgroupPaths{dir / "v2", dir.str()}, kPid, why);
  REQUIRE(cgroups != nullptr);
  CHECK(cgroups->version() == MemoryCgroups::Version::kV1);
  const std::string base = dir / ("jobrunner-" + std::to_string(kPid));
  CHECK(fs::is_directory(base));

  StatusOr<std::string> task = cgroups->Create(1 << 30);
  REQUIRE(task.ok());
  CHECK(fs::path(*task).parent_path() == base);
  CHECK(ReadFile(*task + "/memory.limit_in_bytes") == std::to_string(1 << 30));
  REQUIRE(cgroups->BeforeSpawn(*task).ok());
  CHECK_FALSE(ReadFile(*task + "/tasks").empty());  // this thread's id
  REQUIRE(cgroups->AfterSpawn(*task, 777).ok());
  CHECK(ReadFile(dir / "tasks") == ReadFile(*task + "/tasks"));  // and back

  Write(*task + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  CHECK(cgroups->OomKills(*task) == 3);
}

TEST_CASE("A cgroup that cannot be made is a reason, not a failure") {
  TempDir dir;
  std::string why;
  CHECK(SetUpMemoryCgroups(CgroupPaths{"", dir / "missing"}, kPid, why) == nullptr);
  CHECK(why.rfind("cgroup v1: cannot create a cgroup in " + (dir / "missing"), 0) == 0);
}

}  // namespace
}  // namespace jobrunner
