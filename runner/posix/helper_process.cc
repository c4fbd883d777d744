#include "posix/helper_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <system_error>

#include "posix/child_environment.h"
#include "posix/orphan_guard.h"

extern char** environ;

namespace jobrunner {
namespace {

using Clock = std::chrono::steady_clock;

// The fds a helper is given: its end of each pipe lands here.
constexpr int kHelperReads = 3;
constexpr int kHelperWrites = 4;

std::string ErrnoText(int error) {
  std::string text = std::generic_category().message(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// A pipe whose fds are above `floor`, close-on-exec, the parent's end non-blocking: dup2 into
// the child's fds 3 and 4 must not replace one of the pipes' own fds.
Status MakePipe(int fds[2], bool parent_reads, int floor) {
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Error("cannot create a pipe: " + ErrnoText(errno));
  for (int i = 0; i < 2; ++i) {
    if (fds[i] > floor) continue;
    const int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, floor + 1);
    const int error = errno;
    close(fds[i]);
    fds[i] = moved;
    if (moved < 0) {
      CloseFd(fds[1 - i]);
      return Status::Error("cannot create a pipe: " + ErrnoText(error));
    }
  }
  if (fcntl(fds[parent_reads ? 0 : 1], F_SETFL, O_NONBLOCK) != 0) {
    return Status::Error("cannot set up a pipe: " + ErrnoText(errno));
  }
  return Status::Ok();
}

// A helper that has ended must not take this process with it: writing to its pipe then fails
// with EPIPE instead of raising SIGPIPE. Blocked for the writing thread only (a write's SIGPIPE
// goes to the thread that wrote), so nothing else about the rank's signals changes.
void BlockSigpipeInThisThread() {
  thread_local const bool blocked = [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return true;
  }();
  (void)blocked;
}

struct SpawnSettings {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSettings() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
    // Its own group, so that a kill reaches whatever it starts; no signal blocked or ignored, as
    // an MPI rank may have them.
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t signals;
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&attr, &signals);
    sigfillset(&signals);
    posix_spawnattr_setsigdefault(&attr, &signals);
  }
  ~SpawnSettings() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSettings(const SpawnSettings&) = delete;
  SpawnSettings& operator=(const SpawnSettings&) = delete;
};

std::vector<char*> ArgvOf(const std::vector<std::string>& words) {
  std::vector<char*> argv;
  for (const std::string& word : words) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  return argv;
}

HelperEnd EndOf(const siginfo_t& info) {
  HelperEnd end;
  if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    end.signal = info.si_status;
  } else {
    end.exit_code = info.si_status;
  }
  return end;
}

std::int64_t MillisecondsLeft(Clock::time_point until) {
  return std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
}

}  // namespace

StatusOr<std::unique_ptr<HelperProcess>> HelperProcess::Start(const HelperRequest& request,
                                                              OrphanGuard* guard) {
  if (request.argv.empty()) return Status::Error("empty command");
  std::unique_ptr<HelperProcess> helper(new HelperProcess());
  int to_helper[2] = {-1, -1};
  int from_helper[2] = {-1, -1};
  Status made = MakePipe(to_helper, /*parent_reads=*/false, kHelperWrites);
  if (made.ok()) made = MakePipe(from_helper, /*parent_reads=*/true, kHelperWrites);
  // The parent's ends belong to the helper object from here on, so every return closes them.
  helper->send_fd_ = to_helper[1];
  helper->receive_fd_ = from_helper[0];
  if (!made.ok()) {
    CloseFd(to_helper[0]);
    CloseFd(from_helper[1]);
    return made;
  }

  SpawnSettings spawn;
  posix_spawn_file_actions_addopen(&spawn.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const int output_flags = O_WRONLY | O_CREAT | O_TRUNC;
  posix_spawn_file_actions_addopen(&spawn.actions, STDOUT_FILENO, request.stdout_path.c_str(),
                                   output_flags, 0644);
  posix_spawn_file_actions_addopen(&spawn.actions, STDERR_FILENO, request.stderr_path.c_str(),
                                   output_flags, 0644);
  posix_spawn_file_actions_adddup2(&spawn.actions, to_helper[0], kHelperReads);
  posix_spawn_file_actions_adddup2(&spawn.actions, from_helper[1], kHelperWrites);
  // Libraries in the parent (MPI among them) may leave fds without close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(&spawn.actions, kHelperWrites + 1);
  ChildEnvironment environment(environ);
  std::vector<char*> argv = ArgvOf(request.argv);
  pid_t pid = -1;
  const int error = posix_spawnp(&pid, argv[0], &spawn.actions, &spawn.attr, argv.data(),
                                 environment.With(request.env));
  CloseFd(to_helper[0]);
  CloseFd(from_helper[1]);
  if (error != 0) return Status::Error(ErrnoText(error) + ": " + request.argv[0]);

  helper->pid_ = pid;
  helper->pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (helper->pid_fd_ < 0) {
    const int pidfd_error = errno;
    helper->KillAndReap();
    return Status::Error("cannot watch " + request.argv[0] + ": " + ErrnoText(pidfd_error));
  }
  helper->guard_ = guard;
  if (guard != nullptr) guard->Watch(pid);
  return helper;
}

HelperProcess::~HelperProcess() {
  if (!reaped()) KillAndReap();
  CloseFd(pid_fd_);
  CloseFd(send_fd_);
  CloseFd(receive_fd_);
}

std::optional<std::size_t> HelperProcess::Send(std::string_view data) {
  BlockSigpipeInThisThread();
  for (;;) {
    const ssize_t n = write(send_fd_, data.data(), data.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    return std::nullopt;  // EPIPE: nobody reads any more
  }
}

bool HelperProcess::Receive(std::string& buffer) {
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = read(receive_fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof chunk) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;  // 0: the end; any other error ends the stream too
  }
}

void HelperProcess::Signal(HelperSignal signal) {
  if (reaped()) return;
  if (signal == HelperSignal::kDumpStack) {
    kill(pid_, SIGUSR2);  // the interpreter only: a child of the call would die of it
  } else {
    kill(-pid_, SIGTERM);
  }
}

HelperEnd HelperProcess::KillAndReap() {
  HelperEnd end;
  if (reaped()) return end;
  // While the child (perhaps a zombie) still holds the group id, the kill cannot reach an
  // unrelated group that reused it.
  kill(-pid_, SIGKILL);
  if (guard_ != nullptr) guard_->Forget(pid_);
  siginfo_t info{};
  int status;
  if (pid_fd_ >= 0) {
    while ((status = waitid(P_PIDFD, pid_fd_, &info, WEXITED)) != 0 && errno == EINTR) {
    }
  } else {
    while ((status = waitid(P_PID, pid_, &info, WEXITED)) != 0 && errno == EINTR) {
    }
  }
  if (status == 0) end = EndOf(info);
  pid_ = -1;
  CloseFd(pid_fd_);
  return end;
}

std::string SignalName(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  return abbreviation != nullptr ? std::string("SIG") + abbreviation
                                 : "signal " + std::to_string(signal);
}

void WaitForFds(std::vector<FdWait>& fds, std::chrono::milliseconds timeout) {
  std::vector<pollfd> polled;
  polled.reserve(fds.size());
  for (const FdWait& wait : fds) {
    polled.push_back({wait.fd, static_cast<short>(wait.want_write ? POLLOUT : POLLIN), 0});
  }
  const int ready = poll(polled.data(), polled.size(), static_cast<int>(timeout.count()));
  for (std::size_t i = 0; i < fds.size(); ++i) fds[i].ready = ready > 0 && polled[i].revents != 0;
}

WakeFd::WakeFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

WakeFd::~WakeFd() { close(fd_); }

void WakeFd::Signal() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = write(fd_, &one, sizeof one);
}

void WakeFd::Clear() const {
  std::uint64_t count;
  [[maybe_unused]] ssize_t ignored = read(fd_, &count, sizeof count);
}

StatusOr<CapturedRun> RunCaptured(const std::vector<std::string>& command, std::string_view input,
                                  std::chrono::milliseconds limit) {
  if (command.empty()) return Status::Error("empty command");
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::Error("cannot create a pipe: " + ErrnoText(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Status::Error("cannot create a pipe: " + ErrnoText(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return Status::Error("cannot create a pipe: " + ErrnoText(errno));
  }
  SpawnSettings spawn;
  posix_spawn_file_actions_adddup2(&spawn.actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&spawn.actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&spawn.actions, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&spawn.actions, STDERR_FILENO + 1);
  ChildEnvironment environment(environ);
  std::vector<char*> argv = ArgvOf(command);
  pid_t pid = -1;
  const int error =
      posix_spawnp(&pid, argv[0], &spawn.actions, &spawn.attr, argv.data(), environment.With({}));
  for (int fd : {in[0], out[1], err[1]}) close(fd);
  int fds[3] = {in[1], out[0], err[0]};
  if (error != 0) {
    for (int& fd : fds) CloseFd(fd);
    return Status::Error(ErrnoText(error) + ": " + command[0]);
  }
  for (int fd : fds) fcntl(fd, F_SETFL, O_NONBLOCK);
  BlockSigpipeInThisThread();
  CapturedRun run;
  const Clock::time_point give_up = Clock::now() + limit;
  bool timed_out = false;
  std::size_t sent = 0;
  if (input.empty()) CloseFd(fds[0]);
  while (fds[0] >= 0 || fds[1] >= 0 || fds[2] >= 0) {
    pollfd polled[3];
    for (int i = 0; i < 3; ++i)
      polled[i] = {fds[i], static_cast<short>(i == 0 ? POLLOUT : POLLIN), 0};
    const int left = static_cast<int>(MillisecondsLeft(give_up));
    if (left == 0) {
      timed_out = true;
      break;
    }
    if (poll(polled, 3, left) < 0 && errno != EINTR) break;
    if (fds[0] >= 0 && polled[0].revents != 0) {
      const ssize_t n = write(fds[0], input.data() + sent, input.size() - sent);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == input.size()) CloseFd(fds[0]);
    }
    for (int i = 1; i < 3; ++i) {
      if (fds[i] < 0 || polled[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = read(fds[i], chunk, sizeof chunk);
      if (n > 0) {
        (i == 1 ? run.output : run.errors).append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(fds[i]);
      }
    }
  }
  for (int& fd : fds) CloseFd(fd);
  // Its output has ended; its exit follows at once, unless it closed them early and lingers.
  const int pid_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (!timed_out && pid_fd >= 0) {
    pollfd exited = {pid_fd, POLLIN, 0};
    timed_out = poll(&exited, 1, static_cast<int>(MillisecondsLeft(give_up))) == 0;
  }
  if (pid_fd >= 0) close(pid_fd);
  kill(-pid, SIGKILL);  // what it left behind, or all of it past the limit
  siginfo_t info{};
  while (waitid(P_PID, pid, &info, WEXITED) != 0 && errno == EINTR) {
  }
  run.end = EndOf(info);
  if (timed_out) {
    return Status::Error(command[0] + " did not finish within " + std::to_string(limit.count()) +
                         " ms");
  }
  return run;
}

}  // namespace jobrunner
