#include "posix/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <unordered_set>

extern char** environ;

namespace jobrunner {
namespace {

// "no such file or directory": in the middle of a sentence.
std::string ErrnoText(int error) {
  std::string text = std::generic_category().message(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// posix_spawn's two settings objects, released however Spawn returns.
struct SpawnAttributes {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttributes() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

// Whether `name` (without '/') names a file in some directory of this process's PATH.
bool FoundInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return true;  // not a PATH lookup
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/bin:/usr/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = end > start ? dirs.substr(start, end - start) : ".";
    if (access((dir + "/" + name).c_str(), F_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// glibc's posix_spawn reports a failing chdir or exec as its return value, both often ENOENT;
// looking at the cwd afterwards tells them apart without a cost on the successful path.
std::string DescribeSpawnError(int error, const SpawnRequest& request) {
  if (request.cwd != nullptr) {
    struct stat st;
    int cwd_error = 0;
    if (stat(request.cwd, &st) != 0 || (S_ISDIR(st.st_mode) && access(request.cwd, X_OK) != 0)) {
      cwd_error = errno;
    } else if (!S_ISDIR(st.st_mode)) {
      cwd_error = ENOTDIR;
    }
    if (cwd_error != 0) {
      return std::string("cannot change directory to ") + request.cwd + ": " + ErrnoText(cwd_error);
    }
  }
  const std::string program = request.program != nullptr ? request.program : request.argv[0];
  // A bare name is looked up in PATH, and glibc reports EACCES when any PATH directory was
  // unreadable even if the program exists nowhere: say it was not found when that is the truth,
  // in the words a shell uses.
  if (request.search_path && (error == EACCES || error == ENOENT) &&
      program.find('/') == std::string::npos && !FoundInPath(program)) {
    return "command not found: " + program;
  }
  return ErrnoText(error) + ": " + program;
}

// Without WUNTRACED or WCONTINUED, waitpid reports only children that have ended.
ChildEnd EndOf(int wait_status) {
  if (WIFSIGNALED(wait_status)) return ChildEnd{0, WTERMSIG(wait_status)};
  return ChildEnd{WEXITSTATUS(wait_status), 0};
}

// The children Spawn started and nobody has reaped yet.
std::mutex g_spawned_mutex;
std::unordered_set<pid_t> g_spawned;

std::optional<ChildEnd> WaitFor(pid_t pid, int flags) {
  int status = 0;
  pid_t reaped;
  while ((reaped = waitpid(pid, &status, flags)) < 0 && errno == EINTR) {
  }
  if (reaped != pid) return std::nullopt;
  ForgetSpawned(pid);
  return EndOf(status);
}

}  // namespace

void SpawnRequest::SetCommand(const std::vector<std::string>& words) {
  argv.clear();
  for (const std::string& word : words) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
}

StatusOr<pid_t> Spawn(const SpawnRequest& request) {
  if (request.argv.empty() || request.argv[0] == nullptr) return Status::Error("empty command");
  SpawnAttributes spawn;
  posix_spawnattr_setflags(&spawn.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&spawn.attr, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&spawn.attr, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&spawn.attr, &signals);

  if (request.cwd != nullptr) posix_spawn_file_actions_addchdir_np(&spawn.actions, request.cwd);
  int highest = STDERR_FILENO;
  for (const ChildFd& fd : request.fds) {
    if (fd.parent_fd == kDevNull) {
      posix_spawn_file_actions_addopen(&spawn.actions, fd.child_fd, "/dev/null", O_RDWR, 0);
    } else {
      posix_spawn_file_actions_adddup2(&spawn.actions, fd.parent_fd, fd.child_fd);
    }
    highest = std::max(highest, fd.child_fd);
  }
  if (request.close_other_fds)
    posix_spawn_file_actions_addclosefrom_np(&spawn.actions, highest + 1);

  pid_t pid = 0;
  const char* program = request.program != nullptr ? request.program : request.argv[0];
  char* const* envp = request.envp != nullptr ? request.envp : environ;
  const int error =
      request.search_path
          ? posix_spawnp(&pid, program, &spawn.actions, &spawn.attr, request.argv.data(), envp)
          : posix_spawn(&pid, program, &spawn.actions, &spawn.attr, request.argv.data(), envp);
  if (error != 0) return Status::Error(DescribeSpawnError(error, request), error);
  std::lock_guard<std::mutex> lock(g_spawned_mutex);
  g_spawned.insert(pid);
  return pid;
}

bool SpawnedHere(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_spawned_mutex);
  return g_spawned.count(pid) != 0;
}

void ForgetSpawned(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_spawned_mutex);
  g_spawned.erase(pid);
}

std::optional<ChildEnd> TryReap(pid_t pid) { return WaitFor(pid, WNOHANG); }

std::optional<ChildEnd> Reap(pid_t pid) { return WaitFor(pid, 0); }

void KillProcessGroup(pid_t pgid) { kill(-pgid, SIGKILL); }

}  // namespace jobrunner
