#include "orphan_guard.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

namespace jobrunner {
namespace {

// One message: '+' or '-' and a process group id.
struct Message {
  char op;
  std::int32_t pgid;
} __attribute__((packed));

}  // namespace

std::unique_ptr<OrphanGuard> OrphanGuard::Start(const std::string& executable, std::string& error) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    error = std::string("socketpair: ") + std::strerror(errno);
    return nullptr;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own group, so that a signal to the worker's group (mpirun ending a job) spares it.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  char* argv[] = {const_cast<char*>("jobrunner"), const_cast<char*>("--orphan-guard"), nullptr};
  pid_t pid = 0;
  int result = posix_spawn(&pid, executable.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (result != 0) {
    close(fds[0]);
    error = "cannot start " + executable + " --orphan-guard: " + std::strerror(result);
    return nullptr;
  }
  return std::unique_ptr<OrphanGuard>(new OrphanGuard(fds[0]));
}

OrphanGuard::~OrphanGuard() { close(fd_); }

void OrphanGuard::Send(char op, pid_t pgid) {
  Message m{op, static_cast<std::int32_t>(pgid)};
  // MSG_NOSIGNAL: a guard that died must not take the worker down with SIGPIPE. Its death only
  // means tasks may outlive a later crash of the worker, as they would without a guard.
  while (send(fd_, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

void OrphanGuard::Watch(pid_t pgid) { Send('+', pgid); }
void OrphanGuard::Forget(pid_t pgid) { Send('-', pgid); }

int RunOrphanGuard() {
  // The terminal's Ctrl-C and mpirun's signals are for the worker; the guard outlives them to
  // do its one job. So does a drain's SIGUSR1, which Slurm sends to every process of a job step
  // when srun forwards it or `scancel --signal=USR1` names the step.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  std::unordered_set<pid_t> groups;
  Message m{};
  std::size_t have = 0;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, reinterpret_cast<char*>(&m) + have, sizeof m - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
    if (have < sizeof m) continue;
    have = 0;
    if (m.op == '+') groups.insert(m.pgid);
    if (m.op == '-') groups.erase(m.pgid);
  }
  for (pid_t pgid : groups) kill(-pgid, SIGKILL);
  return 0;
}

}  // namespace jobrunner
