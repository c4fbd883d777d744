#include "posix/orphan_guard.h"

#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace jobrunner {
namespace {

constexpr int kTableFd = 3;  // where the guard finds the table
constexpr std::size_t kTableBytes = OrphanGuard::kTableEntries * sizeof(std::int32_t);

std::int32_t* MapTable(int fd) {
  void* table = mmap(nullptr, kTableBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return table == MAP_FAILED ? nullptr : static_cast<std::int32_t*>(table);
}

// What the worker stores, the guard reads only after the worker is gone; release stores keep the
// compiler from deferring or dropping them all the same.
void Store(std::int32_t* entry, std::int32_t value) {
  __atomic_store_n(entry, value, __ATOMIC_RELEASE);
}

std::string Failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::unique_ptr<OrphanGuard> OrphanGuard::Start(const std::string& executable, std::string& error) {
  const int table_fd = memfd_create("jobrunner-orphan-guard", MFD_CLOEXEC);
  if (table_fd < 0 || ftruncate(table_fd, kTableBytes) != 0) {
    error = Failed("orphan guard table");
    if (table_fd >= 0) close(table_fd);
    return nullptr;
  }
  std::int32_t* table = MapTable(table_fd);
  int fds[2];
  if (table == nullptr || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    error = Failed(table == nullptr ? "orphan guard table" : "socketpair");
    if (table != nullptr) munmap(table, kTableBytes);
    close(table_fd);
    return nullptr;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, table_fd, kTableFd);
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
  close(table_fd);  // the mapping stays
  if (result != 0) {
    close(fds[0]);
    munmap(table, kTableBytes);
    error = "cannot start " + executable + " --orphan-guard: " + std::strerror(result);
    return nullptr;
  }
  return std::unique_ptr<OrphanGuard>(new OrphanGuard(fds[0], table));
}

OrphanGuard::~OrphanGuard() {
  close(socket_fd_);
  munmap(table_, kTableBytes);
}

void OrphanGuard::Watch(pid_t pgid) {
  std::size_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else if (used_ < kTableEntries) {
    slot = used_++;
  } else {
    return;
  }
  slot_[pgid] = slot;
  Store(&table_[slot], static_cast<std::int32_t>(pgid));
}

void OrphanGuard::Forget(pid_t pgid) {
  auto it = slot_.find(pgid);
  if (it == slot_.end()) return;
  Store(&table_[it->second], 0);
  free_.push_back(it->second);
  slot_.erase(it);
}

int RunOrphanGuard() {
  // The terminal's Ctrl-C and mpirun's signals are for the worker; the guard outlives them to
  // do its one job. So does a drain's SIGUSR1, which Slurm sends to every process of a job step
  // when srun forwards it or `scancel --signal=USR1` names the step.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  const std::int32_t* table = MapTable(kTableFd);
  close(kTableFd);
  // Nothing is sent over the socket: the read returns when the worker's end closes, as the
  // kernel closes it however the worker ends.
  for (;;) {
    char byte;
    const ssize_t n = read(STDIN_FILENO, &byte, 1);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  if (table == nullptr) return 1;
  for (std::size_t i = 0; i < OrphanGuard::kTableEntries; ++i) {
    const std::int32_t pgid = __atomic_load_n(&table[i], __ATOMIC_ACQUIRE);
    if (pgid > 0) kill(-pgid, SIGKILL);
  }
  return 0;
}

}  // namespace jobrunner
