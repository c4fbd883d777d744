#include "posix/adopted_processes.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

#include "posix/file.h"
#include "posix/spawn.h"

namespace jobrunner {
namespace {

// Bounds the level-by-level killing of what a task left: a process that forks faster than it is
// killed cannot hold the caller for ever (what is left then is killed with the next task's end).
constexpr int kMaxPasses = 64;
// Environments are read up to this size; a tag past it (a process that grew its environment
// enormously before exec) is not seen.
constexpr std::size_t kMaxEnvironment = 4 << 20;
// An adopted process without a tag is looked at again this many times, a millisecond apart,
// before it is taken for one that is not a task's (see the README's limits).
constexpr int kUndecidedLooks = 20;

std::string ReadSmallFile(const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  char buffer[4096];
  while (text.size() < max && in.read(buffer, sizeof buffer).gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  return text;
}

// The value of kTaskTagVariable in process `pid`'s environment; nullopt when it has none, or
// the environment cannot be read (it ended, it is a zombie, it is not ours to read).
std::optional<std::string> TagOf(pid_t pid) {
  const std::string environment =
      ReadSmallFile("/proc/" + std::to_string(pid) + "/environ", kMaxEnvironment);
  const std::string prefix = std::string(kTaskTagVariable) + "=";
  for (std::size_t at = 0; at < environment.size();) {
    std::size_t end = environment.find('\0', at);
    if (end == std::string::npos) end = environment.size();
    if (environment.compare(at, prefix.size(), prefix) == 0) {
      return environment.substr(at + prefix.size(), end - at - prefix.size());
    }
    at = end + 1;
  }
  return std::nullopt;
}

// The state letter of /proc/PID/stat ('Z' for a zombie); 0 when the process is gone.
char StateOf(pid_t pid) {
  const std::string stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat", 1024);
  const std::size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

// Every process whose parent is this one, from each process's stat: for a kernel without
// /proc/PID/task/TID/children.
std::vector<pid_t> ChildrenByScan() {
  const pid_t self = getpid();
  std::vector<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    const std::string stat = ReadSmallFile(std::string("/proc/") + entry->d_name + "/stat", 1024);
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    char state;
    pid_t parent = 0;
    if (fields >> state >> parent && parent == self) children.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return children;
}

std::optional<std::uint64_t> KeyIn(const std::string& tag, const std::string& token) {
  if (tag.size() <= token.size() + 1 || tag.compare(0, token.size(), token) != 0 ||
      tag[token.size()] != ':') {
    return std::nullopt;
  }
  try {
    return std::stoull(tag.substr(token.size() + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void ReapChild(pid_t pid, int flags) {
  while (waitpid(pid, nullptr, flags) < 0 && errno == EINTR) {
  }
}

}  // namespace

bool BecomeChildSubreaper() { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0; }

std::string NewTaskTagToken() {
  std::uint64_t value = 0;
  if (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
    value =
        (static_cast<std::uint64_t>(getpid()) << 32) ^ static_cast<std::uint64_t>(time(nullptr));
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string TaskTag(const std::string& token, std::uint64_t key) {
  return token + ":" + std::to_string(key);
}

std::optional<std::uint64_t> KeyOfTaggedProcess(pid_t pid, const std::string& token) {
  std::optional<std::string> tag = TagOf(pid);
  return tag ? KeyIn(*tag, token) : std::nullopt;
}

std::unordered_set<pid_t> ProcessesTagged(const std::string& token) {
  std::unordered_set<pid_t> tagged;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return tagged;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    std::optional<std::string> tag = TagOf(static_cast<pid_t>(pid));
    if (tag && KeyIn(*tag, token)) tagged.insert(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return tagged;
}

// Looked at after every task: the file stays open and is read again from its start, which
// costs one system call instead of a path lookup, an open and a close.
AdoptedProcesses::AdoptedProcesses(std::string token) : token_(std::move(token)) {
  const std::string self = std::to_string(getpid());
  StatusOr<UniqueFd> file =
      OpenFile("/proc/" + self + "/task/" + self + "/children", OpenFlags::kRead);
  if (file.ok()) children_file_ = std::move(*file);
  // The children this process has before any task ran (the orphan guard, Open MPI's helpers)
  // are its own.
  for (pid_t pid : Children()) foreign_.insert(pid);
}

std::vector<pid_t> AdoptedProcesses::Children() {
  if (!children_file_) return ChildrenByScan();
  std::vector<pid_t> children;
  for (;;) {
    StatusOr<std::size_t> read = ReadAt(children_file_.get(), buffer_.data(), buffer_.size(), 0);
    if (!read.ok()) return ChildrenByScan();
    if (*read == buffer_.size()) {  // perhaps more: read it all again into twice the room
      buffer_.resize(buffer_.size() * 2);
      continue;
    }
    pid_t pid = 0;
    bool digits = false;
    for (std::size_t i = 0; i < *read; ++i) {
      const char c = buffer_[i];
      if (c >= '0' && c <= '9') {
        pid = pid * 10 + (c - '0');
        digits = true;
      } else if (digits) {
        children.push_back(pid);
        pid = 0;
        digits = false;
      }
    }
    if (digits) children.push_back(pid);
    return children;
  }
}

std::size_t AdoptedProcesses::KillLeftOf(std::uint64_t key, const std::function<bool(pid_t)>& known,
                                         const std::function<bool(std::uint64_t)>& running) {
  std::size_t killed = 0;
  int undecided_looks = 0;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    std::vector<std::pair<pid_t, bool>> victims;  // pid, of task `key`
    std::vector<pid_t> undecided;
    for (pid_t pid : Children()) {
      // This process's own children (helpers it started) are not adopted ones, even once they
      // have ended: a zombie's reaper is the code that started it.
      if (known(pid) || foreign_.count(pid) != 0 || SpawnedHere(pid)) continue;
      std::optional<std::string> tag = TagOf(pid);
      std::optional<std::uint64_t> owner = tag ? KeyIn(*tag, token_) : std::nullopt;
      if (owner) {
        if (*owner == key || !running(*owner)) victims.emplace_back(pid, *owner == key);
        continue;
      }
      // A zombie shows no environment: an adopted process that ended on its own. A living one
      // without a tag is in the middle of an exec (its environment reads empty for a moment),
      // or cleared its environment; it is looked at again, a few times.
      if (StateOf(pid) == 'Z') {
        ReapChild(pid, WNOHANG);
      } else {
        undecided.push_back(pid);
      }
    }
    if (victims.empty()) {
      if (undecided.empty()) break;
      if (++undecided_looks > kUndecidedLooks) {
        // Still no tag: it cleared its environment, or is not a task's. Not looked at again.
        foreign_.insert(undecided.begin(), undecided.end());
        break;
      }
      usleep(1000);
      continue;
    }
    for (const auto& [pid, mine] : victims) kill(pid, SIGKILL);
    for (const auto& [pid, mine] : victims) {
      ReapChild(pid, 0);
      if (mine) ++killed;
    }
  }
  return killed;
}

}  // namespace jobrunner
