#pragma once

// Processes that left their task: a task's descendant that changed its process group or session
// (setsid, setpgid, a daemon's double fork) is out of reach of the signals sent to the task's
// group, and would outlive the task. This process is made a child subreaper
// (PR_SET_CHILD_SUBREAPER), so that every descendant whose parent dies becomes its child instead
// of init's; and each task's processes carry a tag in their environment (kTaskTagVariable:
// "<set token>:<task key>"), inherited by everything they start, by which an adopted process is
// told apart from this process's other children (the orphan guard, Open MPI's own helpers) and
// from the other tasks' processes. When a task's main process has ended, every process it left
// has been adopted here (the topmost living descendant of each branch), so killing the adopted
// processes of its tag, level by level, kills all it left.
//
// Limits: a process that clears its environment before exec (env -i) or runs set-uid loses or
// hides the tag, and is not found; a descendant that makes itself a subreaper keeps its orphans.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "posix/unique_fd.h"

namespace jobrunner {

inline constexpr const char* kTaskTagVariable = "JOBRUNNER_TASK_TAG";

// Makes this process a child subreaper; false (with errno set) when the kernel refuses.
bool BecomeChildSubreaper();

// A token no other process set on this machine shares: 16 hex digits from the kernel's randomness.
std::string NewTaskTagToken();

// "<token>:<key>": the value of kTaskTagVariable for task `key`.
std::string TaskTag(const std::string& token, std::uint64_t key);

// The task key in process `pid`'s tag, when the tag is of `token`.
std::optional<std::uint64_t> KeyOfTaggedProcess(pid_t pid, const std::string& token);

// Every living process on this machine whose environment holds kTaskTagVariable beginning with
// "<token>:": what the orphan guard kills when its worker died without doing so.
std::unordered_set<pid_t> ProcessesTagged(const std::string& token);

// The children this process adopted, sorted by the task they belong to. Used by one thread.
class AdoptedProcesses {
 public:
  // Opens this process's list of children, kept open (one fd) for the object's life.
  explicit AdoptedProcesses(std::string token);

  // Kills (SIGKILL) and reaps every adopted process of task `key`, and those of any task for
  // which `running` says false, then what they leave in turn; returns how many of task `key`'s
  // it killed. `known(pid)` is true for the children this process started itself (tasks'
  // main processes), which are left alone, as are the children it had before this object and
  // those Spawn started (its helpers: SpawnedHere).
  // Adopted processes that ended on their own are reaped.
  std::size_t KillLeftOf(std::uint64_t key, const std::function<bool(pid_t)>& known,
                         const std::function<bool(std::uint64_t)>& running);

 private:
  // This process's children: adopted ones become children of its main thread.
  std::vector<pid_t> Children();

  const std::string token_;
  // The children this process had when the object was made: not a task's.
  std::unordered_set<pid_t> foreign_;
  UniqueFd children_file_;  // /proc/PID/task/PID/children, when the kernel has it
  std::vector<char> buffer_ = std::vector<char>(4096);
};

}  // namespace jobrunner
