#include "launch/launch.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/exit_status.h"
#include "base/text.h"
#include "launch/host_list.h"
#include "launch/launch_command.h"
#include "launch/lost_host.h"
#include "manifest/units.h"
#include "posix/file.h"
#include "posix/pipe.h"
#include "posix/signals.h"
#include "posix/spawn.h"
#include "posix/this_process.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A relaunch with less of --time-limit left than this would spend it starting up and draining.
constexpr std::int64_t kLeastTimeToLaunchMs = 5000;

template <class... Args>
void Log(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "jobrunner launch: {}\n", fmt::format(format, std::forward<Args>(args)...));
  (void)std::fflush(stderr);  // a log line that cannot be written is no reason to stop
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> Names(const std::vector<Host>& hosts) {
  std::vector<std::string> names;
  names.reserve(hosts.size());
  for (const Host& host : hosts) names.push_back(host.name);
  return names;
}

// Starts argv (looked up in PATH) in a process group of its own, with stdin from /dev/null and
// `fds` set up besides; the other standard streams are ours. Like any wrapper, it passes on the
// fds it was given.
StatusOr<pid_t> Start(const std::vector<std::string>& argv, std::initializer_list<ChildFd> fds) {
  SpawnRequest spawn;
  spawn.SetCommand(argv);
  spawn.search_path = true;
  spawn.close_other_fds = false;
  spawn.fds = {{0, kDevNull}};
  spawn.fds.insert(spawn.fds.end(), fds);
  return Spawn(spawn);
}

// Which hosts answer `AGENT HOST true` within the timeout; all probes run at once.
std::map<std::string, bool> Probe(const std::vector<Host>& hosts, const LaunchOptions& options) {
  std::map<pid_t, std::string> running;
  std::map<std::string, bool> answered;
  for (const Host& host : hosts) {
    answered[host.name] = false;
    StatusOr<pid_t> pid =
        Start(ProbeCommand(options.rsh_agent, host.name, options.probe_timeout_ms),
              {{1, kDevNull}, {2, kDevNull}});
    if (pid.ok()) running[*pid] = host.name;  // one that cannot start does not answer
  }
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options.probe_timeout_ms);
  while (!running.empty() && Clock::now() < deadline) {
    bool reaped = false;
    for (auto it = running.begin(); it != running.end();) {
      std::optional<ChildEnd> end = TryReap(it->first);
      if (!end) {
        ++it;
        continue;
      }
      answered[it->second] = end->signal == 0 && end->exit_code == 0;
      it = running.erase(it);
      reaped = true;
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const auto& [pid, name] : running) {  // too slow: counts as not answering
    KillProcessGroup(pid);
    (void)Reap(pid);
  }
  return answered;
}

struct MpirunEnd {
  int status = 0;
  std::set<std::string> blamed;  // host names mpirun's failure reports named
  double seconds = 0;
};

// Runs mpirun with its stderr passed through to ours, line by line, looking for failure reports.
MpirunEnd RunMpirun(const std::vector<std::string>& argv) {
  MpirunEnd end;
  Clock::time_point start = Clock::now();
  StatusOr<Pipe> stderr_pipe = MakePipe(/*nonblocking_read=*/false);
  if (!stderr_pipe.ok()) throw std::runtime_error("pipe failed: " + stderr_pipe.status().message());
  StatusOr<pid_t> started = Start(argv, {{2, stderr_pipe->write_end.get()}});
  stderr_pipe->write_end.Reset();
  if (!started.ok()) {
    Log("cannot start mpirun: {}", started.status().message());
    end.status = kExitCannotStart;
    end.seconds = SecondsSince(start);
    return end;
  }
  const pid_t pid = *started;
  const int from_mpirun = stderr_pipe->read_end.get();
  ForwardSignalsTo(pid);
  std::string line;
  auto scan = [&](const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      if (data[i] != '\n') {
        if (line.size() < 65536) line += data[i];
        continue;
      }
      if (std::optional<std::string> host = HostBlamedBy(line)) end.blamed.insert(*host);
      line.clear();
    }
  };
  bool exited = false, pipe_open = true;
  std::optional<Clock::time_point> exited_at, stop_seen_at;
  while (true) {
    if (!exited) {
      if (std::optional<ChildEnd> ended = TryReap(pid)) {
        exited = true;
        exited_at = Clock::now();
        end.status = ended->ShellStatus();
        ForwardSignalsTo(0);
      }
    }
    // Daemons and agents hold mpirun's stderr too; a daemon cut off from the network may live on
    // for seconds, so after mpirun's end its output is read only briefly.
    if (exited && (!pipe_open || Clock::now() - *exited_at > std::chrono::milliseconds(300))) {
      break;
    }
    if (!exited && ForwardedSignal() != 0) {
      // mpirun can hang after SIGTERM when a host is cut off: end its process group after 10 s.
      if (!stop_seen_at) stop_seen_at = Clock::now();
      if (Clock::now() - *stop_seen_at > std::chrono::seconds(10)) KillProcessGroup(pid);
    }
    if (!pipe_open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (WaitReadable(from_mpirun, std::chrono::milliseconds(50))) {
      char buffer[8192];
      StatusOr<std::size_t> n = ReadSome(from_mpirun, buffer, sizeof(buffer));
      if (n.ok() && *n > 0) {
        // Passed on as it came; a stderr that cannot be written loses it, not the supervision.
        (void)WriteAll(kStandardError, std::string_view(buffer, *n));
        scan(buffer, *n);
      } else {
        pipe_open = false;
      }
    }
  }
  if (!line.empty()) scan("\n", 1);
  end.seconds = SecondsSince(start);
  return end;
}

// Summary lines in run_dir/results.jsonl, and the exit status in the last one.
struct Summaries {
  int count = 0;
  std::optional<int> last_status;
  bool visible = false;  // the file exists here (the run directory is on a shared filesystem)
};

Summaries ReadSummaries(const std::string& run_dir) {
  Summaries summaries;
  std::ifstream in(run_dir + "/results.jsonl");
  if (!in) return summaries;
  summaries.visible = true;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("{\"summary\"", 0) != 0) continue;
    ++summaries.count;
    nlohmann::json summary = nlohmann::json::parse(line, nullptr, false);
    if (!summary.is_discarded() && summary["summary"]["exit_status"].is_number_integer()) {
      summaries.last_status = summary["summary"]["exit_status"].get<int>();
    }
  }
  return summaries;
}

// Waits (at most `limit`) until no jobrunner holds the run directory's lock: the aborted
// launch's coordinator may still be ending when mpirun has already gone.
void WaitForLock(const std::string& run_dir, std::chrono::seconds limit) {
  StatusOr<Dir> dir = Dir::Open(run_dir);
  if (!dir.ok()) return;
  StatusOr<UniqueFd> lock = dir->OpenForRead(kLockFile);
  if (!lock.ok()) return;
  Clock::time_point deadline = Clock::now() + limit;
  while (!TryLockFile(lock->get()).ok() && Clock::now() < deadline && ForwardedSignal() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}  // closing the file releases the lock if we got it

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    StatusOr<std::string> made = MakeTempDirectory(
        std::string(base != nullptr && *base ? base : "/tmp") + "/jobrunner-launch.");
    if (!made.ok()) {
      throw std::runtime_error("cannot create a temporary directory: " + made.status().message());
    }
    path_ = std::move(*made);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string SelfExecutable() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? "jobrunner" : self.string();
}

// What the supervision knows from one launch to the next.
struct Supervision {
  Supervision(const LaunchOptions& options, std::vector<Host> hosts, const RunDirFlags& flags,
              std::string run_dir, bool resume, std::optional<Clock::time_point> deadline)
      : options(options),
        flags(flags),
        run_dir(std::move(run_dir)),
        deadline(deadline),
        jobrunner(options.jobrunner.empty() ? SelfExecutable() : options.jobrunner),
        hosts(std::move(hosts)),
        resume(resume) {}

  const LaunchOptions& options;
  const RunDirFlags& flags;
  const std::string run_dir;
  // When --time-limit, counted from the launch's start, runs out.
  const std::optional<Clock::time_point> deadline;
  const std::string jobrunner;  // what the ranks run
  const TempDir temp;           // the hostfiles
  std::vector<Host> hosts;      // those the next launch runs on
  std::vector<std::string> left_out;
  bool resume;                 // the next launch continues the run
  int status = kExitInternal;  // the last launch's
};

// How one launch ended.
struct LaunchEnd {
  MpirunEnd mpirun;
  bool new_summary = false;      // jobrunner wrote a summary line during it
  bool run_dir_visible = false;  // results.jsonl is there to read
  Clock::time_point at;
};

// Before the first launch: leaves out the hosts that do not answer. False when none does.
bool LeaveOutSilentHosts(Supervision& run) {
  std::map<std::string, bool> answered = Probe(run.hosts, run.options);
  std::vector<Host> reachable;
  for (const Host& host : run.hosts) {
    if (answered[host.name]) {
      reachable.push_back(host);
    } else {
      Log("{} does not answer through '{}' within {:.1f}s: leaving it out", host.name,
          run.options.rsh_agent, run.options.probe_timeout_ms / 1000.0);
      run.left_out.push_back(host.name);
    }
  }
  run.hosts = reachable;
  return !run.hosts.empty();
}

// What --time-limit leaves for the next launch; nullopt without one.
std::optional<std::int64_t> TimeLeftMs(const Supervision& run) {
  if (!run.deadline) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*run.deadline - Clock::now())
      .count();
}

// Runs mpirun once on run.hosts, and takes the run's status from it: jobrunner's when it wrote
// a summary, mpirun's otherwise.
LaunchEnd LaunchOnce(Supervision& run, int launch, std::optional<std::int64_t> time_left_ms) {
  std::string hostfile = run.temp.path() + "/hosts-" + std::to_string(launch);
  std::ofstream(hostfile) << MpirunHostfile(run.hosts);
  std::vector<std::string> argv =
      MpirunCommand(run.options, run.hosts, hostfile, run.jobrunner, RunningAsRoot(),
                    JobrunnerFlags(run.flags, run.run_dir, run.resume, launch == 1, time_left_ms));
  Log("launch {} (at most {}) on {} host(s): {}; {} ranks; run directory {}", launch,
      run.options.max_launches, run.hosts.size(), Join(Names(run.hosts), ", "),
      TotalRanks(run.hosts), run.run_dir);
  LaunchEnd end;
  int summaries_before = ReadSummaries(run.run_dir).count;
  end.mpirun = RunMpirun(argv);
  Summaries after = ReadSummaries(run.run_dir);
  end.new_summary = after.count > summaries_before && after.last_status.has_value();
  end.run_dir_visible = after.visible;
  end.at = Clock::now();
  run.status = end.new_summary ? *after.last_status : end.mpirun.status;
  return end;
}

// Whether the supervision is over after a launch, as a signal or the run itself decided; says
// which.
bool SupervisionOver(const Supervision& run, int launch, const LaunchEnd& end) {
  if (ForwardedSignal() != 0) {
    Log("stopped by signal {}: mpirun ended with status {}; not relaunching", ForwardedSignal(),
        end.mpirun.status);
    return true;
  }
  // The run ended on its own (all done, tasks failed, or a usage error): jobrunner said so in
  // a summary. Without a summary, only when the run directory is not visible here and mpirun
  // itself says it went well.
  bool ended_on_its_own =
      end.new_summary ? run.status <= kExitUsage : (!end.run_dir_visible && end.mpirun.status == 0);
  if (ended_on_its_own) {
    Log("the run ended with status {} after {} launch(es){}{}", run.status, launch,
        run.left_out.empty() ? "" : "; hosts left out: ", Join(run.left_out, ", "));
  }
  return ended_on_its_own;
}

// After a launch that ended early: probes the hosts, weighs what mpirun blamed, and leaves out
// the hosts lost. False (after saying why) when there is nothing to relaunch: no host was lost,
// or none is left.
bool LeaveOutLostHosts(Supervision& run, const LaunchEnd& end) {
  std::map<std::string, bool> answered = Probe(run.hosts, run.options);
  std::vector<HostEvidence> evidence;
  for (const Host& host : run.hosts) evidence.push_back({host.name, answered[host.name], false});
  for (const std::string& name : end.mpirun.blamed) {
    const Host* host = FindHost(run.hosts, name);
    if (host != nullptr) evidence[static_cast<std::size_t>(host - run.hosts.data())].blamed = true;
  }
  LostHosts lost = DecideLostHosts(evidence);
  Log("mpirun ended after {:.1f}s with status {}{}", end.mpirun.seconds, end.mpirun.status,
      end.new_summary ? (", jobrunner's status " + std::to_string(run.status)) : "");
  if (lost.hosts.empty()) {
    Log("every host answers and mpirun reported none lost: not relaunching (status {})",
        run.status);
    return false;
  }
  for (const std::string& reason : lost.reasons) Log("lost {}", reason);
  std::vector<Host> kept;
  for (const Host& host : run.hosts) {
    if (std::find(lost.hosts.begin(), lost.hosts.end(), host.name) == lost.hosts.end()) {
      kept.push_back(host);
    }
  }
  run.left_out.insert(run.left_out.end(), lost.hosts.begin(), lost.hosts.end());
  run.hosts = kept;
  if (run.hosts.empty()) {
    Log("no host left; the run stays unfinished (status {}); continue it with --resume {}",
        run.status, run.run_dir);
    return false;
  }
  return true;
}

// Whether the run may be launched again: --max-launches is not reached, and the aborted
// launch's coordinator has let go of the run directory (or 30 s passed). Then the next launch
// resumes the run, if it got as far as a journal.
bool ReadyToRelaunch(Supervision& run, int launch) {
  if (launch >= run.options.max_launches) {
    Log("--max-launches {} reached; the run stays unfinished (status {}); continue it with "
        "--resume {}",
        run.options.max_launches, run.status, run.run_dir);
    return false;
  }
  WaitForLock(run.run_dir, std::chrono::seconds(30));
  if (ForwardedSignal() != 0) return false;
  // A launch that ended before the coordinator wrote a journal left nothing to resume.
  run.resume = fs::exists(run.run_dir + "/journal");
  return true;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "jobrunner launch: %s (see jobrunner launch --help)\n", message.c_str());
  return kExitUsage;
}

// Everything after the options are parsed: the loop of launches. Returns the run's status.
int Supervise(const LaunchOptions& options, std::vector<Host> hosts, const RunDirFlags& flags,
              std::string run_dir, bool resume, std::optional<Clock::time_point> deadline) {
  Supervision run(options, std::move(hosts), flags, std::move(run_dir), resume, deadline);
  if (!LeaveOutSilentHosts(run)) {
    Log("no host answers; nothing ran");
    return kExitUsage;
  }
  for (int launch = 1;; ++launch) {
    const std::optional<std::int64_t> time_left_ms = TimeLeftMs(run);
    if (time_left_ms && *time_left_ms < kLeastTimeToLaunchMs) {
      Log("--time-limit leaves {:.1f}s: not launching again; the run stays unfinished (status {}); "
          "continue it with --resume {}",
          static_cast<double>(*time_left_ms) / 1000.0, run.status, run.run_dir);
      return run.status;
    }
    const LaunchEnd end = LaunchOnce(run, launch, time_left_ms);
    if (SupervisionOver(run, launch, end)) return run.status;
    if (!LeaveOutLostHosts(run, end) || !ReadyToRelaunch(run, launch)) return run.status;
    Log("relaunching on {}, {:.1f}s after mpirun ended", Join(Names(run.hosts), ", "),
        SecondsSince(end.at));
  }
}

}  // namespace

int LaunchUsageError(const std::string& message) { return Usage(message); }

int RunLaunch(const LaunchOptions& options) {
  HostListResult hosts;
  if (!options.hostfile.empty()) {
    std::ifstream in(options.hostfile);
    if (!in) return Usage("cannot read --hostfile " + options.hostfile);
    std::stringstream text;
    text << in.rdbuf();
    hosts = ParseHostfile(text.str(), options.hostfile, options.ranks_per_host);
  } else {
    hosts = ParseHostsOption(options.hosts, options.ranks_per_host);
  }
  if (!hosts.error.empty()) return Usage(hosts.error);
  for (const std::string& word : SplitWords(options.rsh_agent)) {
    if (word.find('\'') != std::string::npos || word.find('"') != std::string::npos) {
      return Usage("--rsh-agent: Open MPI splits it at spaces and does not honour quotes");
    }
  }
  RunDirFlags flags;
  if (std::string error = SplitRunDirFlags(options.run_flags, flags); !error.empty()) {
    return Usage(error);
  }
  if (flags.no_journal) {
    return Usage("--no-journal: a launch resumes the run after losing a host, from its journal");
  }
  if (!flags.resume.empty() && (!flags.out.empty() || !flags.name.empty())) {
    return Usage(
        "--resume continues the run in its own directory: it does not go with --out or "
        "--name");
  }
  std::optional<Clock::time_point> deadline;
  if (!flags.time_limit.empty()) {
    std::optional<std::int64_t> limit_ms = ParseDurationMs(flags.time_limit);
    if (const std::optional<std::string> over = DurationOverLimit(flags.time_limit)) {
      return Usage("--time-limit: " + *over);
    }
    if (!limit_ms || *limit_ms <= 0) {
      return Usage("--time-limit: bad duration '" + flags.time_limit +
                   "'; expected a number and a unit, like 30s, 10m or 2h");
    }
    deadline = Clock::now() + std::chrono::milliseconds(*limit_ms);
  }
  if (!fs::exists(options.manifest)) return Usage("no manifest " + options.manifest);
  std::string run_dir;
  bool resume = !flags.resume.empty();
  bool made_here = !resume && (flags.out.empty() || !fs::exists(flags.out));
  try {
    if (resume) {
      run_dir = fs::absolute(flags.resume).lexically_normal().string();
      if (!fs::is_directory(run_dir)) return Usage("--resume: no directory " + flags.resume);
    } else {
      // The launch must know the run directory to resume it, so it makes it (as jobrunner would).
      run_dir = CreateRunDir(flags.out, flags.name, options.manifest);
      if (HoldsRun(run_dir)) {
        return Usage("output directory " + run_dir +
                     " already holds a run; continue it with --resume, or choose another --out");
      }
    }
  } catch (const std::exception& e) {
    return Usage(e.what());
  }
  if (run_dir.size() > 1 && run_dir.back() == '/') run_dir.pop_back();
  InstallSignalForwarding();
  int status = kExitInternal;
  try {
    status = Supervise(options, hosts.hosts, flags, run_dir, resume, deadline);
  } catch (const std::exception& e) {
    Log("internal error: {}", e.what());
  }
  // A run directory this launch made and in which nothing ran (no host answered) goes again.
  std::error_code ignored;
  if (made_here && !HoldsRun(run_dir)) fs::remove_all(run_dir, ignored);
  return status;
}

}  // namespace jobrunner
