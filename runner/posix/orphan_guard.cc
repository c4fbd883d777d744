#include "posix/orphan_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "posix/adopted_processes.h"
#include "posix/signals.h"
#include "posix/spawn.h"

namespace jobrunner {
namespace {

constexpr int kTableFd = 3;  // where the guard finds the table
constexpr std::size_t kTableBytes = OrphanGuard::kTableEntries * sizeof(std::int32_t);
// Tagged processes are killed in rounds until none is left alive (a process may fork between
// the guard's look and its kill), at most this many.
constexpr int kTaggedRounds = 50;

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
  UniqueFd table_fd(memfd_create("jobrunner-orphan-guard", MFD_CLOEXEC));
  if (!table_fd || ftruncate(table_fd.get(), kTableBytes) != 0) {
    error = Failed("orphan guard table");
    return nullptr;
  }
  std::int32_t* table = MapTable(table_fd.get());
  int fds[2];
  if (table == nullptr || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    error = Failed(table == nullptr ? "orphan guard table" : "socketpair");
    if (table != nullptr) munmap(table, kTableBytes);
    return nullptr;
  }
  UniqueFd ours(fds[0]), guards(fds[1]);
  SpawnRequest spawn;
  std::string token = NewTaskTagToken();
  const std::vector<std::string> command = {"jobrunner", "--orphan-guard", token};
  spawn.SetCommand(command);
  spawn.program = executable.c_str();
  spawn.fds = {{STDIN_FILENO, guards.get()}, {kTableFd, table_fd.get()}};
  StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) {
    munmap(table, kTableBytes);
    error = "cannot start " + executable + " --orphan-guard: " + pid.status().message();
    return nullptr;
  }
  // The guard has its copies; the table stays mapped here after its fd is closed.
  return std::unique_ptr<OrphanGuard>(new OrphanGuard(std::move(ours), table, std::move(token)));
}

OrphanGuard::~OrphanGuard() { munmap(table_, kTableBytes); }

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

int RunOrphanGuard(const std::string& task_tag_token) {
  // The terminal's Ctrl-C and mpirun's signals are for the worker; the guard outlives them to
  // do its one job. So does a drain's SIGUSR1, which Slurm sends to every process of a job step
  // when srun forwards it or `scancel --signal=USR1` names the step.
  IgnoreInterruptSignals();
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
  for (std::size_t i = 0; table != nullptr && i < OrphanGuard::kTableEntries; ++i) {
    const std::int32_t pgid = __atomic_load_n(&table[i], __ATOMIC_ACQUIRE);
    if (pgid > 0) kill(-pgid, SIGKILL);
  }
  // Processes that left their groups are found by their tags. A worker that ended in order has
  // killed them already; reading every process's environment then finds none, at the cost of a
  // moment once per worker.
  for (int round = 0; round < kTaggedRounds; ++round) {
    const std::unordered_set<pid_t> tagged = ProcessesTagged(task_tag_token);
    if (tagged.empty()) break;
    for (pid_t pid : tagged) kill(pid, SIGKILL);
    usleep(10'000);  // for the killed to be gone before the next look
  }
  return table == nullptr ? 1 : 0;
}

}  // namespace jobrunner
