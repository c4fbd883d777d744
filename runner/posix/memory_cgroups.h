#pragma once

// Memory limits for tasks (`memory:` in the manifest), enforced by giving each such task a cgroup
// of its own, below the worker's, with the limit set on it. The kernel then OOM-kills the task
// when it goes past its limit, and the cgroup's counter says so for certain.
//
// Which cgroup a worker may divide depends on the machine:
//  - cgroup v2 with the memory controller: only a cgroup without processes may hand controllers
//    to children, so the worker must be alone in its cgroup (a delegated one, as
//    `systemd-run --user --scope -p Delegate=yes` makes); it then moves itself into a leaf
//    `worker` and creates the tasks' cgroups beside it. A child moves into its cgroup right after
//    it is started: what it allocates in its first microseconds is not counted.
//  - cgroup v1 with the memory controller (where v2 does not have it), writable by the worker (as
//    root, or delegated): the tasks' cgroups go below `jobrunner-<pid>` in the worker's cgroup,
//    and the spawning thread steps into the task's cgroup for the spawn, so that the child is
//    born there.
// Anything else (no writable cgroup, a v2 cgroup shared with other processes, as mpirun's ranks
// share one) leaves `memory:` counted for placement but not enforced; FindMemoryCgroups says why.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace jobrunner {

class MemoryCgroups {
 public:
  enum class Version { kV1, kV2 };

  // `base`: the directory the tasks' cgroups are created in; `own`: the worker's cgroup (v1:
  // where the spawning thread returns to).
  MemoryCgroups(Version version, std::string base, std::string own);
  ~MemoryCgroups();  // removes the tasks' cgroups left, and v1's base
  MemoryCgroups(const MemoryCgroups&) = delete;
  MemoryCgroups& operator=(const MemoryCgroups&) = delete;

  Version version() const { return version_; }
  // "cgroup v2 (/sys/fs/cgroup/...)": for logs.
  std::string Describe() const;

  // Creates a cgroup for one task with `limit` bytes of memory; returns its path.
  StatusOr<std::string> Create(std::uint64_t limit);
  // Call just before and just after spawning the task's process (`pid`; -1 when the spawn
  // failed): with v1 the calling thread spends the spawn in the task's cgroup, with v2 the child
  // is moved into it afterwards.
  Status BeforeSpawn(const std::string& cgroup);
  Status AfterSpawn(const std::string& cgroup, pid_t pid);
  // How many processes the OOM killer killed in the task's cgroup (its oom_kill counter).
  std::uint64_t OomKills(const std::string& cgroup) const;
  // Removes the task's cgroup once its processes are gone; one still busy is tried again at the
  // next Remove and at the end.
  void Remove(const std::string& cgroup);

 private:
  Version version_;
  std::string base_;
  std::string own_;
  std::uint64_t created_ = 0;
  std::vector<std::string> busy_;  // cgroups whose removal failed so far
};

// Where this process's cgroups are, from the text of /proc/self/cgroup and /proc/self/mountinfo:
// the directory of its cgroup v2 (empty when there is none) and of its v1 memory cgroup (empty
// when there is none).
struct CgroupPaths {
  std::string v2;
  std::string v1_memory;
};
CgroupPaths FindCgroupPaths(std::string_view proc_self_cgroup, std::string_view mountinfo);

// Prepares the cgroups of this process (see the top of this file) for per-task memory limits;
// nullptr, with the reason in `why_not`, where the machine does not allow it. `paths` and `pid`
// are this process's (the parameters let tests point at a directory that stands for cgroupfs).
std::unique_ptr<MemoryCgroups> SetUpMemoryCgroups(const CgroupPaths& paths, pid_t pid,
                                                  std::string& why_not);
// The same for this process as the system shows it.
std::unique_ptr<MemoryCgroups> SetUpMemoryCgroups(std::string& why_not);

}  // namespace jobrunner
