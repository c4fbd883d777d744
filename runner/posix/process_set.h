#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "posix/dir.h"
#include "schedule/outcome.h"

namespace jobrunner {

// What to run as a child process, and where its output goes.
struct ProcessRequest {
  std::uint64_t key = 0;  // the caller's handle; comes back in ProcessExit
  std::vector<std::string> argv;
  std::string cwd;                                       // empty: the caller's working directory
  std::vector<std::pair<std::string, std::string>> env;  // set on top of the inherited environment
  std::int64_t timeout_ms = 0;                           // 0: no time limit
  // Created on the first byte (no output, no file), new: an attempt whose file exists already
  // does not run (a spawn error), and none is ever overwritten or reached through a link.
  std::string stdout_path;
  std::string stderr_path;
  // The directory both paths are in, held open (a worker's logs/): the files are created in it
  // by name, whatever has become of the path since. Null: each path's directory is opened.
  std::shared_ptr<const Dir> output_dir;
  std::uint64_t max_output = 0;  // per stream; bytes past it are read and dropped
  // Bytes of memory the child and its descendants may use (`memory:`), enforced through a cgroup
  // of its own where the set has them (see memory_cgroups.h); 0: no limit.
  std::uint64_t memory_limit = 0;
};

struct ProcessExit {
  std::uint64_t key = 0;
  Outcome outcome = Outcome::kSucceeded;
  int exit_code = 0;          // when kSucceeded or kFailed
  int signal = 0;             // when kSignaled, or the signal that ended a kTimedOut child
  std::int64_t start_ms = 0;  // unix time in milliseconds
  std::int64_t end_ms = 0;
  std::uint64_t stdout_bytes = 0;  // bytes the child wrote, including any dropped past the cap
  std::uint64_t stderr_bytes = 0;
  bool stdout_truncated = false;  // the file holds max_output bytes and a truncation marker
  bool stderr_truncated = false;
  // Processes the child left running when it ended (its group's, and those that left the
  // group), which were then killed.
  std::uint32_t left_running = 0;
  // The output could not be written because the disk or a quota is full: the attempt is
  // reported interrupted, with the path and reason in `error` (see Outcome::kInterrupted).
  bool disk_full = false;
  std::string error;  // kSpawnError: what failed ("no such file: foo"); otherwise empty
  int pid = 0;        // 0: it never started
  // From wait4: CPU time of the child and of the descendants it waited for, and the largest
  // resident set of any of them.
  std::int64_t cpu_user_us = 0;
  std::int64_t cpu_system_us = 0;
  std::int64_t max_rss_kb = 0;
  std::string stderr_tail;  // the last bytes of its stderr (OutputCapture::kTailBytes at most)
  std::uint64_t memory_limit = 0;  // bytes its cgroup enforced; 0: none
  std::uint64_t oom_kills = 0;     // processes the OOM killer killed in its cgroup
};

// The children of one worker. Single-threaded: the owner calls Wait in its loop.
class ProcessSet {
 public:
  virtual ~ProcessSet() = default;

  // Starts a child. Never throws for the child's own problems: a missing executable, a cwd that
  // does not exist or an output file that cannot be opened comes back from Wait as kSpawnError.
  virtual void Start(ProcessRequest request) = 0;

  // Children started and not yet returned by Wait.
  virtual std::size_t Running() const = 0;

  // Waits up to `max_wait` (0: just look) for children to end; returns early as soon as one has.
  // Meanwhile copies the children's output to their files and enforces timeouts.
  virtual std::vector<ProcessExit> Wait(std::chrono::milliseconds max_wait) = 0;

  // Sends SIGKILL to every child's process group and reaps them; for shutdown and aborts.
  virtual void KillAll() = 0;

  // Also end Wait early when `fd` becomes readable (Wait does not read it); each call adds one,
  // and -1 forgets them all. How work done on other threads (task kinds, Python helpers) wakes
  // the owner's loop.
  virtual void WakeOn(int /*fd*/) {}

  // Whether process `pid` is one of the children's processes, or was the main process of one that
  // ended lately: the key of its child, if so. How a signal one of them sent is recognised.
  virtual std::optional<std::uint64_t> ChildOf(int /*pid*/) const { return std::nullopt; }

  // Whether ProcessRequest::memory_limit is enforced here, and how ("cgroup v1 (/sys/...)") or
  // why not.
  struct MemoryLimits {
    bool enforced = false;
    std::string note;
  };
  virtual MemoryLimits memory_limits() const { return {false, "not enforced by this set"}; }
};

class OrphanGuard;

// Children via posix_spawn, each in its own process group with stdin from /dev/null and its
// stdout/stderr through pipes into capped files. A timeout sends SIGTERM to the group, then
// SIGKILL after `kill_grace`. When a child ends, whatever it left running is killed: its group,
// and its descendants that left the group (this process becomes a child subreaper; see
// adopted_processes.h). `guard`, if given (and outliving the set), learns of every live group,
// to kill them, and the processes tagged as theirs, should this process die without doing so.
// A child with a memory limit gets a cgroup of its own where this process may make one
// (memory_cgroups.h). A child killed by the OOM killer ends kOom: its cgroup's counter says so,
// or, without one, the node's (oom_watch.h).
std::unique_ptr<ProcessSet> MakePosixProcessSet(std::chrono::milliseconds kill_grace,
                                                OrphanGuard* guard = nullptr);

}  // namespace jobrunner
