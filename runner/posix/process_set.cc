// The only file that deals with child processes directly: spawning, signalling, reaping.

#include "posix/process_set.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "base/clock.h"
#include "base/text.h"
#include "posix/adopted_processes.h"
#include "posix/child_environment.h"
#include "posix/file.h"
#include "posix/memory_cgroups.h"
#include "posix/oom_watch.h"
#include "posix/orphan_guard.h"
#include "posix/output_capture.h"
#include "posix/pipe.h"
#include "posix/spawn.h"
#include "posix/unique_fd.h"

extern char** environ;

namespace jobrunner {
namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: deadlines survive clock changes

// After the main child is reaped and its group killed, the pipes normally reach EOF at once. A
// grandchild that left the group (setsid) may still hold them open; give up on it after this.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(100);
constexpr std::size_t kReadBufferSize = std::size_t{64} * 1024;
// A pipe that is refilled as fast as it is read must not keep Wait from timers and other children.
constexpr int kMaxReadsPerWakeup = 16;

std::string ErrnoText(int error) { return std::generic_category().message(error); }

std::int64_t Microseconds(const timeval& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000 + time.tv_usec;
}

// This process's peak resident set (VmHWM in /proc/self/status), in KiB; 0 when unknown.
std::int64_t PeakRssKb() {
  StatusOr<UniqueFd> file = OpenFile("/proc/self/status", OpenFlags::kRead);
  if (!file.ok()) return 0;
  char text[4096];
  StatusOr<std::size_t> read = ReadAt(file->get(), text, sizeof text - 1, 0);
  if (!read.ok()) return 0;
  text[*read] = '\0';
  const char* line = std::strstr(text, "\nVmHWM:");
  return line == nullptr ? 0 : std::strtoll(line + std::strlen("\nVmHWM:"), nullptr, 10);
}

// The parent's read end is non-blocking, so that one busy pipe never holds up the others.
std::string MakeOutputPipe(Pipe& pipe) {
  StatusOr<Pipe> made = MakePipe(/*nonblocking_read=*/true);
  if (!made.ok()) return "cannot create pipe: " + made.status().message();
  pipe = std::move(*made);
  return {};
}

// Output files are created only when the first byte arrives, so what would keep one from being
// created is looked for here, before anything runs: a missing or read-only directory, or a file
// (or link) already at its name, which jobrunner never overwrites (a worker never reuses an
// attempt's file name, so something else made it). An attempt whose output would be lost is a
// spawn error, not a task failure. A file that still cannot be created later (planted meanwhile,
// the disk full) turns the finished child's outcome into kSpawnError too. `dir` receives the
// directory the file goes in; `checked`, that directory once it was found writable.
std::string PrepareOutputFile(const ProcessRequest& request, const std::string& path,
                              std::shared_ptr<const Dir>& dir, const Dir*& checked) {
  auto failure = [&path](const std::string& why) {
    return "cannot create output file " + path + ": " + why;
  };
  if (request.output_dir != nullptr) {
    dir = request.output_dir;
  } else {
    StatusOr<Dir> opened = Dir::Open(DirectoryOf(path));
    if (!opened.ok()) return failure(opened.status().message());
    dir = std::make_shared<const Dir>(std::move(*opened));
  }
  if (dir.get() != checked) {
    if (Status writable = dir->CheckWritable(); !writable.ok()) return failure(writable.message());
    checked = dir.get();
  }
  StatusOr<Dir::Entry> there = dir->Look(BaseNameOf(path));
  if (!there.ok()) return failure(there.status().message());
  if (there->kind == Dir::Kind::kLink) return failure(Dir::kLinkRefused);
  if (there->kind != Dir::Kind::kMissing) return failure("File exists" + OutputFileExistsNote());
  return {};
}

struct Child {
  ProcessExit result;
  pid_t pid = -1;        // also the process group id
  UniqueFd pidfd;        // closed once reaped
  UniqueFd stdout_pipe;  // closed at EOF
  UniqueFd stderr_pipe;
  // The parent keeps a copy of each pipe's write end until the child is reaped, so that the
  // child's exit does not wake Poll twice (pipes hung up, then the pidfd): a silent task costs
  // one wake-up, for its exit, instead of two.
  UniqueFd stdout_write;
  UniqueFd stderr_write;
  OutputCapture stdout_capture;
  OutputCapture stderr_capture;
  Clock::time_point term_at = Clock::time_point::max();
  Clock::time_point kill_at = Clock::time_point::max();
  Clock::time_point drain_until = Clock::time_point::max();
  bool timed_out = false;
  bool killed_here = false;  // KillAll's SIGKILL, which no OOM killer sent
  std::string cgroup;        // its own memory cgroup, if it has a limit and the set has cgroups

  bool reaped() const { return !pidfd; }
  bool pipes_open() const { return stdout_pipe || stderr_pipe; }
};

class PosixProcessSet final : public ProcessSet {
 public:
  PosixProcessSet(std::chrono::milliseconds kill_grace, OrphanGuard* guard);
  ~PosixProcessSet() override { KillAll(); }

  void Start(ProcessRequest request) override;
  std::size_t Running() const override { return children_.size() + finished_.size(); }
  std::vector<ProcessExit> Wait(std::chrono::milliseconds max_wait) override;
  void KillAll() override;
  void WakeOn(int fd) override {
    if (fd < 0) {
      wake_fds_.clear();
    } else {
      wake_fds_.push_back(fd);
    }
  }
  std::optional<std::uint64_t> ChildOf(int pid) const override;
  MemoryLimits memory_limits() const override {
    return cgroups_ ? MemoryLimits{true, cgroups_->Describe()}
                    : MemoryLimits{false, "not enforced: " + no_cgroups_};
  }

 private:
  std::string StartChild(const ProcessRequest& request, Child& child);
  // Spawns with the child in its memory cgroup when it has one.
  StatusOr<pid_t> SpawnInCgroup(const ProcessRequest& request, Child& child);
  // Whether a child that died of a SIGKILL it was not sent by this set was OOM-killed.
  bool KilledByOom(const Child& child);
  void FireTimers(Clock::time_point now);
  Clock::time_point NextDeadline() const;
  void Poll(Clock::duration timeout);
  void Reap(Child& child, int wait_flags);
  // Reads what the pipe holds now; `to_end`: also past a short read, for a pipe whose writer
  // is gone, so that its EOF is seen now rather than at the next Poll.
  void ReadPipe(UniqueFd& pipe, OutputCapture& capture, bool to_end = false);
  void CollectFinished(Clock::time_point now);

  // What `child`, which has ended or been killed, left running: killed, and counted.
  std::uint32_t KillLeftOf(const Child& child);

  const std::chrono::milliseconds kill_grace_;
  OrphanGuard* guard_;
  const std::string tag_token_;  // in every child's kTaskTagVariable
  AdoptedProcesses adopted_;
  UniqueFd dev_null_;  // every child's stdin; opened once rather than once per spawn
  ChildEnvironment environment_;
  SpawnRequest spawn_;  // refilled for every child, so that starting one allocates nothing
  std::vector<std::unique_ptr<Child>> children_;
  std::vector<ProcessExit> finished_;  // not yet returned by Wait
  std::vector<pollfd> poll_fds_;       // reused by every Poll
  std::vector<int> wake_fds_;
  bool woken_ = false;  // a wake fd was readable at the last Poll
  std::vector<std::pair<Child*, UniqueFd*>> poll_owners_;  // same index; nullptr: the pidfd
  std::vector<char> buffer_;
  // The main processes of the children that ended last (pid, key), oldest first: a signal one
  // sent just before it ended is looked at after it has been reaped.
  std::deque<std::pair<pid_t, std::uint64_t>> ended_;
  std::string no_cgroups_;                  // why tasks cannot have cgroups, when they cannot
  std::unique_ptr<MemoryCgroups> cgroups_;  // null then
  OomWatch oom_watch_;
  // This process's peak resident set, as last read. A child spawned from it shares its memory
  // until it executes its program, and the kernel counts that in the child's peak (exec records
  // the old memory's peak): a child's peak no larger than this says nothing of the child.
  std::int64_t own_peak_rss_kb_ = PeakRssKb();
};

constexpr std::size_t kEndedRemembered = 64;

std::optional<std::uint64_t> PosixProcessSet::ChildOf(int pid) const {
  if (pid <= 0) return std::nullopt;
  for (const auto& child : children_) {
    if (!child->reaped() && child->pid == pid) return child->result.key;
  }
  for (const auto& [ended, key] : ended_) {
    if (ended == pid) return key;
  }
  return KeyOfTaggedProcess(pid, tag_token_);
}

PosixProcessSet::PosixProcessSet(std::chrono::milliseconds kill_grace, OrphanGuard* guard)
    : kill_grace_(kill_grace),
      guard_(guard),
      tag_token_(guard != nullptr ? guard->task_tag_token() : NewTaskTagToken()),
      adopted_(tag_token_),
      environment_(environ),
      buffer_(kReadBufferSize),
      cgroups_(SetUpMemoryCgroups(no_cgroups_)) {
  // Without it, what leaves a task's group goes to init and is found only by its tag when this
  // process dies (by the orphan guard).
  (void)BecomeChildSubreaper();
  StatusOr<UniqueFd> dev_null = OpenFile("/dev/null", OpenFlags::kRead | OpenFlags::kWrite);
  if (!dev_null.ok()) throw std::runtime_error("open /dev/null: " + dev_null.status().message());
  dev_null_ = std::move(*dev_null);
  spawn_.search_path = true;  // a task's command is looked up in PATH, as a shell would
}

void PosixProcessSet::Start(ProcessRequest request) {
  request.env.emplace_back(kTaskTagVariable, TaskTag(tag_token_, request.key));
  auto child = std::make_unique<Child>();
  child->result.key = request.key;
  child->result.start_ms = UnixMs();
  std::string error = StartChild(request, *child);
  if (!error.empty()) {
    child->result.outcome = Outcome::kSpawnError;
    child->result.error = std::move(error);
    child->result.end_ms = UnixMs();
    finished_.push_back(std::move(child->result));
    return;
  }
  if (request.timeout_ms > 0) {
    child->term_at = Clock::now() + std::chrono::milliseconds(request.timeout_ms);
  }
  children_.push_back(std::move(child));
}

// Returns why the child could not be started, or "" with `child` running. Running out of fds or
// processes is reported the same way rather than thrown: the worker survives it, and the retry
// policy decides whether the attempt is worth repeating.
std::string PosixProcessSet::StartChild(const ProcessRequest& request, Child& child) {
  if (request.argv.empty()) return "empty command";
  std::shared_ptr<const Dir> stdout_dir, stderr_dir;
  const Dir* checked = nullptr;
  if (!request.stdout_path.empty()) {
    std::string error = PrepareOutputFile(request, request.stdout_path, stdout_dir, checked);
    if (!error.empty()) return error;
  }
  if (!request.stderr_path.empty() && request.stderr_path != request.stdout_path) {
    std::string error = PrepareOutputFile(request, request.stderr_path, stderr_dir, checked);
    if (!error.empty()) return error;
  }

  // An empty path discards the stream without a pipe; one path for both streams shares one pipe,
  // so the file interleaves them in the order written (counted as stdout).
  Pipe out, err;
  int child_stdout = dev_null_.get(), child_stderr = dev_null_.get();
  if (!request.stdout_path.empty()) {
    if (std::string error = MakeOutputPipe(out); !error.empty()) return error;
    child_stdout = out.write_end.get();
  }
  if (request.stderr_path == request.stdout_path) {
    child_stderr = child_stdout;
  } else if (!request.stderr_path.empty()) {
    if (std::string error = MakeOutputPipe(err); !error.empty()) return error;
    child_stderr = err.write_end.get();
  }
  spawn_.SetCommand(request.argv);
  spawn_.envp = environment_.With(request.env);
  spawn_.cwd = request.cwd.empty() ? nullptr : request.cwd.c_str();
  spawn_.fds.assign({{0, dev_null_.get()}, {1, child_stdout}, {2, child_stderr}});
  StatusOr<pid_t> pid = SpawnInCgroup(request, child);
  if (!pid.ok()) return pid.status().message();
  child.pid = *pid;
  child.result.pid = *pid;

  child.pidfd.Reset(static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0)));
  if (!child.pidfd) {
    const int pidfd_error = errno;
    KillProcessGroup(child.pid);
    (void)jobrunner::Reap(child.pid);
    return "cannot watch child: " + ErrnoText(pidfd_error);
  }
  if (guard_ != nullptr) guard_->Watch(child.pid);
  child.stdout_pipe = std::move(out.read_end);
  child.stderr_pipe = std::move(err.read_end);
  child.stdout_write = std::move(out.write_end);
  child.stderr_write = std::move(err.write_end);
  if (child.stdout_pipe) {
    child.stdout_capture = OutputCapture(std::move(stdout_dir), BaseNameOf(request.stdout_path),
                                         request.stdout_path, request.max_output);
  }
  if (child.stderr_pipe) {
    child.stderr_capture = OutputCapture(std::move(stderr_dir), BaseNameOf(request.stderr_path),
                                         request.stderr_path, request.max_output);
  }
  return {};
}

StatusOr<pid_t> PosixProcessSet::SpawnInCgroup(const ProcessRequest& request, Child& child) {
  if (request.memory_limit == 0 || !cgroups_) return Spawn(spawn_);
  StatusOr<std::string> cgroup = cgroups_->Create(request.memory_limit);
  if (!cgroup.ok()) return cgroup.status();
  if (Status entered = cgroups_->BeforeSpawn(*cgroup); !entered.ok()) {
    cgroups_->Remove(*cgroup);
    return entered;
  }
  StatusOr<pid_t> pid = Spawn(spawn_);
  const Status placed = cgroups_->AfterSpawn(*cgroup, pid.ok() ? *pid : -1);
  if (pid.ok() && !placed.ok()) {
    // Run without its limit it must not: the limit is what the task was promised and others
    // were promised the rest.
    KillProcessGroup(*pid);
    (void)jobrunner::Reap(*pid);
  }
  if (!pid.ok() || !placed.ok()) {
    cgroups_->Remove(*cgroup);
    return pid.ok() ? placed : pid.status();
  }
  child.cgroup = std::move(*cgroup);
  child.result.memory_limit = request.memory_limit;
  return pid;
}

bool PosixProcessSet::KilledByOom(const Child& child) {
  if (!child.cgroup.empty()) return child.result.oom_kills > 0;
  return oom_watch_.RoseRecently();
}

std::vector<ProcessExit> PosixProcessSet::Wait(std::chrono::milliseconds max_wait) {
  const auto start = Clock::now();
  const auto give_up_at = start + max_wait;
  oom_watch_.Refresh(start);
  for (;;) {
    auto now = Clock::now();
    FireTimers(now);
    const auto wake_at = finished_.empty() ? std::min(give_up_at, NextDeadline()) : now;
    Poll(std::max(wake_at - now, Clock::duration::zero()));
    now = Clock::now();
    CollectFinished(now);
    if (!finished_.empty() || now >= give_up_at || std::exchange(woken_, false)) {
      return std::exchange(finished_, {});
    }
  }
}

void PosixProcessSet::FireTimers(Clock::time_point now) {
  for (auto& child : children_) {
    if (child->reaped()) continue;
    if (now >= child->term_at) {
      kill(-child->pid, SIGTERM);
      child->timed_out = true;
      child->term_at = Clock::time_point::max();
      child->kill_at = now + kill_grace_;
    }
    if (now >= child->kill_at) {
      kill(-child->pid, SIGKILL);
      child->kill_at = Clock::time_point::max();
    }
  }
}

Clock::time_point PosixProcessSet::NextDeadline() const {
  auto next = Clock::time_point::max();
  for (const auto& child : children_) {
    if (child->reaped()) {
      if (child->pipes_open()) next = std::min(next, child->drain_until);
    } else {
      next = std::min({next, child->term_at, child->kill_at});
    }
  }
  return next;
}

// One ppoll over every pidfd and pipe: a child's exit wakes it at once, without a polling tick.
// With no children at all it just sleeps, so an idle caller does not spin.
void PosixProcessSet::Poll(Clock::duration timeout) {
  poll_fds_.clear();
  poll_owners_.clear();
  for (auto& child : children_) {
    for (UniqueFd* fd : {&child->pidfd, &child->stdout_pipe, &child->stderr_pipe}) {
      if (!*fd) continue;
      poll_fds_.push_back({fd->get(), POLLIN, 0});
      poll_owners_.emplace_back(child.get(), fd == &child->pidfd ? nullptr : fd);
    }
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts = {static_cast<time_t>(seconds.count()),
                       static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())};
  for (int wake_fd : wake_fds_) {
    poll_fds_.push_back({wake_fd, POLLIN, 0});
    poll_owners_.emplace_back(nullptr, nullptr);
  }
  const int ready = ppoll(poll_fds_.data(), poll_fds_.size(), &ts, nullptr);
  if (ready <= 0) return;  // timeout, or EINTR: the caller's loop looks again
  for (std::size_t i = 0; i < poll_fds_.size(); ++i) {
    if (poll_fds_[i].revents == 0) continue;
    if (poll_owners_[i].first == nullptr) {
      woken_ = true;
      continue;
    }
    auto [child, pipe] = poll_owners_[i];
    if (pipe == nullptr) {
      Reap(*child, WNOHANG);
    } else {
      ReadPipe(*pipe, pipe == &child->stdout_pipe ? child->stdout_capture : child->stderr_capture);
    }
  }
}

std::uint32_t PosixProcessSet::KillLeftOf(const Child& child) {
  const std::size_t killed = adopted_.KillLeftOf(
      child.result.key,
      [this](pid_t pid) {
        return std::any_of(children_.begin(), children_.end(),
                           [pid](const auto& c) { return !c->reaped() && c->pid == pid; });
      },
      [this](std::uint64_t key) {
        return std::any_of(children_.begin(), children_.end(),
                           [key](const auto& c) { return !c->reaped() && c->result.key == key; });
      });
  return static_cast<std::uint32_t>(killed);
}

// `wait_flags`: WNOHANG when the pidfd said the child has exited, 0 to wait for a killed one.
void PosixProcessSet::Reap(Child& child, int wait_flags) {
  // An ended child's living descendants, in its group or not, are all children of this process
  // now (or below one that is): found and counted before the group is killed.
  if (wait_flags == WNOHANG) child.result.left_running += KillLeftOf(child);
  // Kill what is left of the group while the zombie still holds its id, so the signal cannot
  // reach an unrelated group that reused it. Leftovers would otherwise keep the pipes open.
  kill(-child.pid, SIGKILL);
  if (guard_ != nullptr) guard_->Forget(child.pid);
  // The raw system call, because glibc's waitid has no place for the resource use that the
  // kernel reports with it (as wait4 does, but by pid).
  siginfo_t info{};
  rusage usage{};
  int status;
  while ((status = static_cast<int>(syscall(SYS_waitid, P_PIDFD, child.pidfd.get(), &info,
                                            WEXITED | wait_flags, &usage))) != 0 &&
         errno == EINTR) {
  }
  if (status != 0 || info.si_pid != 0) ForgetSpawned(child.pid);
  if (status != 0) {
    // Someone else reaped it (SIGCHLD ignored, or a stray waitpid(-1)): the status is lost.
    child.result.outcome = Outcome::kSpawnError;
    child.result.error = "cannot reap child " + std::to_string(child.pid) + ": " + ErrnoText(errno);
  } else if (info.si_pid == 0) {
    return;  // not exited after all
  } else {
    ProcessExit& result = child.result;
    result.cpu_user_us = Microseconds(usage.ru_utime);
    result.cpu_system_us = Microseconds(usage.ru_stime);
    // Our peak only grows, so it is read again only when a child's might exceed it.
    if (usage.ru_maxrss > own_peak_rss_kb_) own_peak_rss_kb_ = PeakRssKb();
    result.max_rss_kb = usage.ru_maxrss > own_peak_rss_kb_ ? usage.ru_maxrss : 0;
    if (!child.cgroup.empty()) result.oom_kills = cgroups_->OomKills(child.cgroup);
    const bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    const int signal = signaled ? info.si_status : 0;
    if (child.timed_out) {
      result.outcome = Outcome::kTimedOut;
      result.signal = signal;
    } else if (signaled && signal == SIGKILL && !child.killed_here && KilledByOom(child)) {
      result.outcome = Outcome::kOom;
      result.signal = signal;
    } else if (signaled) {
      result.outcome = Outcome::kSignaled;
      result.signal = signal;
    } else {
      result.exit_code = info.si_status;
      result.outcome = result.exit_code == 0 ? Outcome::kSucceeded : Outcome::kFailed;
    }
  }
  child.result.end_ms = UnixMs();
  child.pidfd.Reset();
  ended_.emplace_back(child.pid, child.result.key);
  if (ended_.size() > kEndedRemembered) ended_.pop_front();
  // A killed child's group died with it; what had left the group is found now.
  if (wait_flags == 0) child.result.left_running += KillLeftOf(child);
  child.drain_until = Clock::now() + kDrainAfterExit;
  // The group is dead: with our write ends closed, the pipes hold what the child wrote, then EOF
  // (unless a grandchild that left the group still has them: Poll waits for it until drain_until).
  child.stdout_write.Reset();
  child.stderr_write.Reset();
  if (child.stdout_pipe) ReadPipe(child.stdout_pipe, child.stdout_capture, /*to_end=*/true);
  if (child.stderr_pipe) ReadPipe(child.stderr_pipe, child.stderr_capture, /*to_end=*/true);
}

void PosixProcessSet::ReadPipe(UniqueFd& pipe, OutputCapture& capture, bool to_end) {
  for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
    const ssize_t n = read(pipe.get(), buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // EOF; a read error ends the stream just the same
      pipe.Reset();
      capture.Finish();
      return;
    }
    capture.Append(buffer_.data(), static_cast<std::size_t>(n));
    if (!to_end && static_cast<std::size_t>(n) < buffer_.size()) return;  // drained for now
  }
}

void PosixProcessSet::CollectFinished(Clock::time_point now) {
  std::size_t kept = 0;
  for (auto& child : children_) {
    if (!child->reaped() || (child->pipes_open() && now < child->drain_until)) {
      std::swap(children_[kept++], child);
      continue;
    }
    child->stdout_pipe.Reset();  // an escaped grandchild still has it; stop waiting for EOF
    child->stderr_pipe.Reset();
    child->stdout_capture.Finish();
    child->stderr_capture.Finish();
    ProcessExit& result = child->result;
    result.stdout_bytes = child->stdout_capture.bytes();
    result.stderr_bytes = child->stderr_capture.bytes();
    result.stdout_truncated = child->stdout_capture.truncated();
    result.stderr_truncated = child->stderr_capture.truncated();
    result.stderr_tail = child->stderr_capture.tail();
    if (!child->cgroup.empty()) cgroups_->Remove(child->cgroup);
    for (const auto* capture : {&child->stdout_capture, &child->stderr_capture}) {
      if (capture->error().empty() || !result.error.empty()) continue;
      if (capture->disk_full()) {
        // Not the task's fault: the attempt stays to run again once there is room.
        result.outcome = Outcome::kInterrupted;
        result.disk_full = true;
      } else {
        result.outcome = Outcome::kSpawnError;  // it ran, but the output it was run for is lost
      }
      result.error = capture->error();
    }
    finished_.push_back(std::move(result));
  }
  children_.resize(kept);
}

// The killed children come back from the next Wait like any others (kSignaled with SIGKILL),
// with whatever output they wrote before.
void PosixProcessSet::KillAll() {
  for (auto& child : children_) {
    child->killed_here = true;
    if (!child->reaped()) Reap(*child, 0);
    // The group is dead, so one pass empties what is left in the pipes.
    if (child->stdout_pipe) ReadPipe(child->stdout_pipe, child->stdout_capture);
    if (child->stderr_pipe) ReadPipe(child->stderr_pipe, child->stderr_capture);
    child->drain_until = Clock::time_point::min();
  }
  CollectFinished(Clock::now());
}

}  // namespace

std::unique_ptr<ProcessSet> MakePosixProcessSet(std::chrono::milliseconds kill_grace,
                                                OrphanGuard* guard) {
  return std::make_unique<PosixProcessSet>(kill_grace, guard);
}

}  // namespace jobrunner
