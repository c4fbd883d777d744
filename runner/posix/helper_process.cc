#include "posix/helper_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <system_error>

#include "posix/child_environment.h"
#include "posix/file.h"
#include "posix/orphan_guard.h"
#include "posix/pipe.h"

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

// Spawn sets the child's fds up in order, so none may take its copy from an fd below the ones
// it sets: a pipe that got fd 3 would be replaced before it is copied to fd 4.
Status MoveAbove(UniqueFd& fd, int floor) {
  if (fd.get() > floor) return Status::Ok();
  const int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, floor + 1);
  if (moved < 0) return Status::Error("cannot move a pipe's fd: " + ErrnoText(errno), errno);
  fd.Reset(moved);
  return Status::Ok();
}

Status SetNonBlocking(const UniqueFd& fd) {
  if (fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK) == 0) return Status::Ok();
  return Status::Error("cannot set up a pipe: " + ErrnoText(errno), errno);
}

// A pipe whose both ends are above `floor`; the parent's end is non-blocking.
StatusOr<Pipe> PipeForChild(bool parent_reads, int floor) {
  StatusOr<Pipe> pipe = MakePipe(/*nonblocking_read=*/parent_reads);
  if (!pipe.ok()) return pipe;
  for (UniqueFd* end : {&pipe->read_end, &pipe->write_end}) {
    if (Status moved = MoveAbove(*end, floor); !moved.ok()) return moved;
  }
  if (!parent_reads) {
    if (Status set = SetNonBlocking(pipe->write_end); !set.ok()) return set;
  }
  return pipe;
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

UniqueFd PidFd(pid_t pid) { return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))); }

std::int64_t MillisecondsLeft(Clock::time_point until) {
  return std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
}

}  // namespace

StatusOr<std::unique_ptr<HelperProcess>> HelperProcess::Start(const HelperRequest& request,
                                                              OrphanGuard* guard) {
  if (request.argv.empty()) return Status::Error("empty command");
  StatusOr<Pipe> to_helper = PipeForChild(/*parent_reads=*/false, kHelperWrites);
  if (!to_helper.ok()) return to_helper.status();
  StatusOr<Pipe> from_helper = PipeForChild(/*parent_reads=*/true, kHelperWrites);
  if (!from_helper.ok()) return from_helper.status();
  const OpenFlags output = OpenFlags::kWrite | OpenFlags::kCreate | OpenFlags::kTruncate;
  StatusOr<UniqueFd> out = OpenFile(request.stdout_path, output);
  if (!out.ok()) return out.status();
  StatusOr<UniqueFd> err = OpenFile(request.stderr_path, output);
  if (!err.ok()) return err.status();
  for (UniqueFd* fd : {&*out, &*err}) {
    if (Status moved = MoveAbove(*fd, kHelperWrites); !moved.ok()) return moved;
  }

  ChildEnvironment environment(environ);
  SpawnRequest spawn;
  spawn.SetCommand(request.argv);
  spawn.search_path = true;
  spawn.envp = environment.With(request.env);
  spawn.fds = {{0, kDevNull},
               {1, out->get()},
               {2, err->get()},
               {kHelperReads, to_helper->read_end.get()},
               {kHelperWrites, from_helper->write_end.get()}};
  StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) return pid.status();

  std::unique_ptr<HelperProcess> helper(new HelperProcess());
  helper->pid_ = *pid;
  helper->send_fd_ = std::move(to_helper->write_end);
  helper->receive_fd_ = std::move(from_helper->read_end);
  helper->pid_fd_ = PidFd(*pid);
  if (!helper->pid_fd_) {
    const int error = errno;
    helper->KillAndReap();
    return Status::Error("cannot watch " + request.argv[0] + ": " + ErrnoText(error), error);
  }
  helper->guard_ = guard;
  if (guard != nullptr) guard->Watch(*pid);
  return helper;
}

HelperProcess::~HelperProcess() {
  if (!reaped()) KillAndReap();
}

std::optional<std::size_t> HelperProcess::Send(std::string_view data) {
  BlockSigpipeInThisThread();
  for (;;) {
    const ssize_t n = write(send_fd_.get(), data.data(), data.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    return std::nullopt;  // EPIPE: nobody reads any more
  }
}

bool HelperProcess::Receive(std::string& buffer) {
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = read(receive_fd_.get(), chunk, sizeof chunk);
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

ChildEnd HelperProcess::KillAndReap() {
  ChildEnd end;
  if (reaped()) return end;
  // While the child (perhaps a zombie) still holds the group id, the kill cannot reach an
  // unrelated group that reused it.
  KillProcessGroup(pid_);
  if (guard_ != nullptr) guard_->Forget(pid_);
  end = Reap(pid_).value_or(ChildEnd{});
  pid_ = -1;
  pid_fd_.Reset();
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

StatusOr<CapturedRun> RunCaptured(const std::vector<std::string>& command, std::string_view input,
                                  std::chrono::milliseconds limit) {
  if (command.empty()) return Status::Error("empty command");
  StatusOr<Pipe> in = PipeForChild(/*parent_reads=*/false, STDERR_FILENO);
  if (!in.ok()) return in.status();
  StatusOr<Pipe> out = PipeForChild(/*parent_reads=*/true, STDERR_FILENO);
  if (!out.ok()) return out.status();
  StatusOr<Pipe> err = PipeForChild(/*parent_reads=*/true, STDERR_FILENO);
  if (!err.ok()) return err.status();
  ChildEnvironment environment(environ);
  SpawnRequest spawn;
  spawn.SetCommand(command);
  spawn.search_path = true;
  spawn.envp = environment.With({});
  spawn.fds = {{0, in->read_end.get()}, {1, out->write_end.get()}, {2, err->write_end.get()}};
  StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) return pid.status();
  in->read_end.Reset();
  out->write_end.Reset();
  err->write_end.Reset();
  UniqueFd fds[3] = {std::move(in->write_end), std::move(out->read_end), std::move(err->read_end)};

  BlockSigpipeInThisThread();
  CapturedRun run;
  const Clock::time_point give_up = Clock::now() + limit;
  bool timed_out = false;
  std::size_t sent = 0;
  if (input.empty()) fds[0].Reset();
  while (fds[0] || fds[1] || fds[2]) {
    pollfd polled[3];
    for (int i = 0; i < 3; ++i) {
      polled[i] = {fds[i].get(), static_cast<short>(i == 0 ? POLLOUT : POLLIN), 0};
    }
    const int left = static_cast<int>(MillisecondsLeft(give_up));
    if (left == 0) {
      timed_out = true;
      break;
    }
    if (poll(polled, 3, left) < 0 && errno != EINTR) break;
    if (fds[0] && polled[0].revents != 0) {
      const ssize_t n = write(fds[0].get(), input.data() + sent, input.size() - sent);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == input.size()) fds[0].Reset();
    }
    for (int i = 1; i < 3; ++i) {
      if (!fds[i] || polled[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = read(fds[i].get(), chunk, sizeof chunk);
      if (n > 0) {
        (i == 1 ? run.output : run.errors).append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fds[i].Reset();
      }
    }
  }
  for (UniqueFd& fd : fds) fd.Reset();
  // Its output has ended; its exit follows at once, unless it closed them early and lingers.
  if (!timed_out) {
    UniqueFd exited = PidFd(*pid);
    if (exited) {
      pollfd wait = {exited.get(), POLLIN, 0};
      timed_out = poll(&wait, 1, static_cast<int>(MillisecondsLeft(give_up))) == 0;
    }
  }
  KillProcessGroup(*pid);  // what it left behind, or all of it past the limit
  run.end = Reap(*pid).value_or(ChildEnd{});
  if (timed_out) {
    return Status::Error(command[0] + " did not finish within " + std::to_string(limit.count()) +
                         " ms");
  }
  return run;
}

}  // namespace jobrunner
