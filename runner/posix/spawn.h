#pragma once

// Starting child processes, the one place that calls posix_spawn (the task processes, the orphan
// guard, `jobrunner launch`'s mpirun and probes), and waiting for the plain ones.
//
// posix_spawn rather than fork: an MPI rank is a big process with threads and pinned memory, and
// glibc's posix_spawn starts the child with CLONE_VFORK, so nothing of it is copied and a failed
// chdir or exec comes back here as an error, not as exit status 127.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "base/status.h"

namespace jobrunner {

// One fd of the child: a copy of this process's `parent_fd`, or /dev/null (opened for reading
// and writing) when that is kDevNull.
struct ChildFd {
  int child_fd;
  int parent_fd;
};
constexpr int kDevNull = -2;

// What to start. A caller that starts many children keeps one and refills it, so that starting
// one allocates nothing once the vectors have grown.
struct SpawnRequest {
  // The program and its arguments, as execve takes them: argv[0] names the program, and a null
  // pointer ends the list. SetCommand fills it.
  std::vector<char*> argv;
  // The file to run when it is not argv[0]; argv[0] is then only the name the child sees.
  const char* program = nullptr;
  // A program name without '/' is looked up in PATH, as a shell does; otherwise (and always
  // without this) it is a path.
  bool search_path = false;
  char* const* envp = nullptr;  // null-terminated "KEY=value"s; nullptr: this process's
  const char* cwd = nullptr;    // nullptr: this process's working directory
  // Set up in order; a mapping may not take its copy from an fd an earlier one has replaced.
  // Standard streams not named here are this process's own.
  std::vector<ChildFd> fds;
  // Every other fd above the standard streams is closed in the child: libraries in this process
  // (MPI among them) may leave fds without close-on-exec, and a task must not hold them. false:
  // the child keeps what this process was given, as a wrapper such as `jobrunner launch` does.
  bool close_other_fds = true;

  // Points argv at `words`, which must outlive the Spawn call.
  void SetCommand(const std::vector<std::string>& words);
};

// Starts the child in a process group of its own (the group id is its pid), so that a signal to
// its group reaches everything it starts and a signal to ours spares it, with no window in which
// a signal to the group could miss it. It starts with no signal blocked and every standard
// signal at its default: an MPI rank may block or ignore some (SIGPIPE above all), which a child
// must not inherit. Returns the pid, or why the child could not start, in words fit for a result
// line: "no such file or directory: foo", "permission denied: ./x", "cannot change directory to D:
// ...".
StatusOr<pid_t> Spawn(const SpawnRequest& request);

// How a child ended: its exit code, or the signal that killed it.
struct ChildEnd {
  int exit_code = 0;
  int signal = 0;  // 0: it exited

  // As a shell reports it: the exit code, or 128 + the signal.
  int ShellStatus() const { return signal != 0 ? ExitStatusOfSignal(signal) : exit_code; }
};

// Whether `pid` is a child Spawn started that has not been reaped yet (through TryReap, Reap or
// ForgetSpawned): how this process's own children are told from the ones it adopted as a
// child subreaper (see adopted_processes.h). Thread-safe.
bool SpawnedHere(pid_t pid);
// For a child reaped other than through TryReap or Reap (a waitid on its pidfd).
void ForgetSpawned(pid_t pid);

// Reaps child `pid` if it has ended; nullopt while it runs (or when it is not ours to reap).
std::optional<ChildEnd> TryReap(pid_t pid);
// Waits for child `pid` to end and reaps it; nullopt when it is not ours to reap.
std::optional<ChildEnd> Reap(pid_t pid);

// SIGKILL to every process of group `pgid`.
void KillProcessGroup(pid_t pgid);

}  // namespace jobrunner
