#include "posix/memory_cgroups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "posix/file.h"

namespace jobrunner {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// A cgroup or /proc file's text; empty when it cannot be read.
std::string ReadWholeFile(const std::string& path) {
  StatusOr<UniqueFd> file = OpenFile(path, OpenFlags::kRead);
  if (!file.ok()) return {};
  std::string text;
  char buffer[4096];
  for (;;) {
    StatusOr<std::size_t> read = ReadAt(file->get(), buffer, sizeof buffer, text.size());
    if (!read.ok() || *read == 0) return text;
    text.append(buffer, *read);
  }
}

// Cgroup files take one value per write(2); created when missing only in a directory that
// stands for cgroupfs in tests.
Status WriteSmallFile(const std::string& path, const std::string& text) {
  StatusOr<UniqueFd> file = OpenFile(path, OpenFlags::kWrite | OpenFlags::kCreate);
  if (!file.ok()) return file.status();
  return WriteAll(file->get(), text);
}

Status MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return Status::Ok();
  return Status::Error(ErrnoText(errno), errno);
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

bool Contains(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// The directory of cgroup `path` (as /proc/self/cgroup names it) under a mount whose root, as
// mountinfo gives it, is `root`; empty when the cgroup lies outside what that mount shows.
std::string UnderMount(const std::string& mount_point, const std::string& root,
                       const std::string& path) {
  if (root == "/") return path == "/" ? mount_point : mount_point + path;
  if (path == root) return mount_point;
  if (path.compare(0, root.size() + 1, root + "/") == 0) {
    return mount_point + path.substr(root.size());
  }
  return {};
}

// "oom_kill N" in a memory.events (v2) or memory.oom_control (v1) file.
std::uint64_t OomKillCount(const std::string& text) {
  const std::vector<std::string> words = Words(text);
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "oom_kill") return std::strtoull(words[i + 1].c_str(), nullptr, 10);
  }
  return 0;
}

std::unique_ptr<MemoryCgroups> SetUpV2(const std::string& dir, pid_t pid, std::string& why_not) {
  const std::vector<std::string> procs = Words(ReadWholeFile(dir + "/cgroup.procs"));
  if (procs != std::vector<std::string>{std::to_string(pid)}) {
    why_not = "cgroup v2: " + dir + " holds " + std::to_string(procs.size()) +
              " processes; only a cgroup with no process of its own may give memory limits to "
              "others, so each worker needs a delegated cgroup to itself";
    return nullptr;
  }
  const std::string leaf = dir + "/worker";
  if (Status made = MakeDirectory(leaf); !made.ok()) {
    why_not = "cgroup v2: cannot create " + leaf + ": " + made.message();
    return nullptr;
  }
  if (Status moved = WriteSmallFile(leaf + "/cgroup.procs", std::to_string(pid)); !moved.ok()) {
    why_not = "cgroup v2: cannot move into " + leaf + ": " + moved.message();
    return nullptr;
  }
  if (Status enabled = WriteSmallFile(dir + "/cgroup.subtree_control", "+memory"); !enabled.ok()) {
    why_not = "cgroup v2: cannot enable memory in " + dir + ": " + enabled.message();
    (void)WriteSmallFile(dir + "/cgroup.procs", std::to_string(pid));
    return nullptr;
  }
  return std::make_unique<MemoryCgroups>(MemoryCgroups::Version::kV2, dir, leaf);
}

std::unique_ptr<MemoryCgroups> SetUpV1(const std::string& dir, pid_t pid, std::string& why_not) {
  const std::string base = dir + "/jobrunner-" + std::to_string(pid);
  if (Status made = MakeDirectory(base); !made.ok()) {
    why_not = "cgroup v1: cannot create a cgroup in " + dir + ": " + made.message();
    return nullptr;
  }
  return std::make_unique<MemoryCgroups>(MemoryCgroups::Version::kV1, base, dir);
}

}  // namespace

MemoryCgroups::MemoryCgroups(Version version, std::string base, std::string own)
    : version_(version), base_(std::move(base)), own_(std::move(own)) {}

MemoryCgroups::~MemoryCgroups() {
  for (const std::string& cgroup : std::vector<std::string>(busy_)) ::rmdir(cgroup.c_str());
  if (version_ == Version::kV1) ::rmdir(base_.c_str());
}

std::string MemoryCgroups::Describe() const {
  return std::string(version_ == Version::kV2 ? "cgroup v2" : "cgroup v1") + " (" + base_ + ")";
}

StatusOr<std::string> MemoryCgroups::Create(std::uint64_t limit) {
  const std::string cgroup = base_ + "/task-" + std::to_string(++created_);
  if (Status made = MakeDirectory(cgroup); !made.ok()) {
    return Status::Error("cannot create cgroup " + cgroup + ": " + made.message(), made.code());
  }
  const std::string bytes = std::to_string(limit);
  const char* limit_file = version_ == Version::kV2 ? "/memory.max" : "/memory.limit_in_bytes";
  if (Status set = WriteSmallFile(cgroup + limit_file, bytes); !set.ok()) {
    ::rmdir(cgroup.c_str());
    return Status::Error("cannot set the memory limit of " + cgroup + ": " + set.message(),
                         set.code());
  }
  // Swap would let a task go past its limit slowly instead of being stopped; where swap is not
  // accounted the file is missing, and nothing is lost by ignoring the failure.
  if (version_ == Version::kV2) {
    (void)WriteSmallFile(cgroup + "/memory.swap.max", "0");
  } else {
    (void)WriteSmallFile(cgroup + "/memory.memsw.limit_in_bytes", bytes);
  }
  return cgroup;
}

Status MemoryCgroups::BeforeSpawn(const std::string& cgroup) {
  if (version_ == Version::kV2) return Status::Ok();
  // A v1 cgroup takes single threads: the child is born in the cgroup of the thread that starts
  // it, and the worker's memory stays charged to the worker (v1 charges a process's owner).
  Status moved = WriteSmallFile(cgroup + "/tasks", std::to_string(gettid()));
  if (!moved.ok()) return Status::Error("cannot enter cgroup " + cgroup + ": " + moved.message());
  return Status::Ok();
}

Status MemoryCgroups::AfterSpawn(const std::string& cgroup, pid_t pid) {
  if (version_ == Version::kV1) {
    Status back = WriteSmallFile(own_ + "/tasks", std::to_string(gettid()));
    if (!back.ok()) return Status::Error("cannot leave cgroup " + cgroup + ": " + back.message());
    return Status::Ok();
  }
  if (pid <= 0) return Status::Ok();
  Status moved = WriteSmallFile(cgroup + "/cgroup.procs", std::to_string(pid));
  if (!moved.ok()) {
    return Status::Error("cannot move the task into cgroup " + cgroup + ": " + moved.message());
  }
  return Status::Ok();
}

std::uint64_t MemoryCgroups::OomKills(const std::string& cgroup) const {
  return OomKillCount(ReadWholeFile(
      cgroup + (version_ == Version::kV2 ? "/memory.events" : "/memory.oom_control")));
}

void MemoryCgroups::Remove(const std::string& cgroup) {
  busy_.erase(std::remove_if(busy_.begin(), busy_.end(),
                             [](const std::string& old) { return ::rmdir(old.c_str()) == 0; }),
              busy_.end());
  // The task's processes are gone, but one killed a moment ago may not have left yet (EBUSY).
  if (::rmdir(cgroup.c_str()) != 0 && errno == EBUSY) busy_.push_back(cgroup);
}

CgroupPaths FindCgroupPaths(std::string_view proc_self_cgroup, std::string_view mountinfo) {
  std::string v2_path, v1_path;
  for (const std::string& line : Split(proc_self_cgroup, '\n')) {
    const std::size_t first = line.find(':');
    const std::size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) v2_path = path;
    if (Contains(Split(controllers, ','), "memory")) v1_path = path;
  }
  CgroupPaths paths;
  for (const std::string& line : Split(mountinfo, '\n')) {
    // "36 25 0:31 / /sys/fs/cgroup/memory rw,... shared:14 - cgroup cgroup rw,memory"
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const std::vector<std::string> before = Words(line.substr(0, dash));
    const std::vector<std::string> after = Words(line.substr(dash + 3));
    if (before.size() < 5 || after.size() < 3) continue;
    const std::string& root = before[3];
    const std::string& mount_point = before[4];
    if (after[0] == "cgroup2" && !v2_path.empty() && paths.v2.empty()) {
      paths.v2 = UnderMount(mount_point, root, v2_path);
    } else if (after[0] == "cgroup" && !v1_path.empty() && paths.v1_memory.empty() &&
               Contains(Split(after[2], ','), "memory")) {
      paths.v1_memory = UnderMount(mount_point, root, v1_path);
    }
  }
  return paths;
}

std::unique_ptr<MemoryCgroups> SetUpMemoryCgroups(const CgroupPaths& paths, pid_t pid,
                                                  std::string& why_not) {
  // The memory controller belongs to one hierarchy: v2 when its cgroups offer it, else v1.
  if (!paths.v2.empty() &&
      Contains(Words(ReadWholeFile(paths.v2 + "/cgroup.controllers")), "memory")) {
    return SetUpV2(paths.v2, pid, why_not);
  }
  if (!paths.v1_memory.empty()) return SetUpV1(paths.v1_memory, pid, why_not);
  why_not = "no cgroup with the memory controller is visible";
  return nullptr;
}

std::unique_ptr<MemoryCgroups> SetUpMemoryCgroups(std::string& why_not) {
  const CgroupPaths paths =
      FindCgroupPaths(ReadWholeFile("/proc/self/cgroup"), ReadWholeFile("/proc/self/mountinfo"));
  return SetUpMemoryCgroups(paths, getpid(), why_not);
}

}  // namespace jobrunner
