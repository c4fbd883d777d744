#include "posix/node_info.h"

#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace jobrunner {
namespace {

// Parses a cpuset list such as "0-3,8,10-11".
bool ParseCpuList(const std::string& text, cpu_set_t& set) {
  CPU_ZERO(&set);
  std::stringstream in(text);
  std::string range;
  int count = 0;
  while (std::getline(in, range, ',')) {
    if (range.empty() || range == "\n") continue;
    int lo = 0, hi = 0;
    char dash = 0;
    std::stringstream r(range);
    if (!(r >> lo)) return false;
    hi = lo;
    if (r >> dash && !(dash == '-' && r >> hi)) return false;
    for (int c = lo; c <= hi && c < CPU_SETSIZE; ++c, ++count) CPU_SET(c, &set);
  }
  return count > 0;
}

// The files of this process's cgroup that hold a setting of `controller`, as /proc/self/cgroup
// names the cgroup: `v2_file` under the unified hierarchy ("0::/path"), else `v1_files` under
// the controller's own v1 hierarchy ("N:cpuset:/path"). Batch systems such as Slurm confine a
// job there.
std::vector<std::string> CgroupFiles(const std::string& controller, const std::string& v2_file,
                                     const std::vector<std::string>& v1_files) {
  std::vector<std::string> files;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) {
      files.push_back("/sys/fs/cgroup" + path + "/" + v2_file);
    } else if (("," + controllers + ",").find("," + controller + ",") != std::string::npos) {
      for (const std::string& file : v1_files) {
        files.push_back("/sys/fs/cgroup/" + controller + path + "/" + file);
      }
    }
  }
  return files;
}

std::vector<std::string> CpusetFiles() {
  return CgroupFiles("cpuset", "cpuset.cpus.effective", {"cpuset.effective_cpus", "cpuset.cpus"});
}

// The CPUs the cgroup allows, or every online CPU when no cgroup says.
cpu_set_t AllowedCpus() {
  cpu_set_t set;
  for (const std::string& path : CpusetFiles()) {
    std::ifstream in(path);
    std::string text;
    if (in && std::getline(in, text) && ParseCpuList(text, set)) return set;
  }
  CPU_ZERO(&set);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (long c = 0; c < online && c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
  return set;
}

// The cgroup memory limits that apply to this process.
std::vector<std::string> MemoryLimitFiles() {
  return CgroupFiles("memory", "memory.max", {"memory.limit_in_bytes"});
}

std::uint64_t MemTotal() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  while (in >> key >> kib) {
    if (key == "MemTotal:") return kib * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

}  // namespace

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

int UsableCores() {
  cpu_set_t set = AllowedCpus();
  int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

std::uint64_t UsableMemory() {
  std::uint64_t memory = MemTotal();
  for (const std::string& path : MemoryLimitFiles()) {
    std::ifstream in(path);
    std::uint64_t limit = 0;
    // "max" (v2) does not parse, and v1's "no limit" is a huge number: both leave MemTotal.
    if (in >> limit && limit > 0 && (memory == 0 || limit < memory)) memory = limit;
  }
  return memory;
}

void ReleaseCpuBinding() {
  cpu_set_t set = AllowedCpus();
  // A failure leaves the binding as it was: tasks still run, only less spread out.
  sched_setaffinity(0, sizeof(set), &set);
}

}  // namespace jobrunner
