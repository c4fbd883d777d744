#include "launch/launch.h"

#include <chrono>
#include <cstdarg>
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

void Log(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Log(const char* format, ...) {
  char text[4096];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  std::fprintf(stderr, "jobrunner launch: %s\n", text);
  std::fflush(stderr);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Join(const std::vector<std::string>& words, const char* separator) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : separator) + word;
  return out;
}

std::vector<std::string> Names(const std::vector<Host>& hosts) {
  std::vector<std::string> names;
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
    // As a shell would have it: the status of a command that could not run.
    Log("cannot start mpirun: %s", started.status().message().c_str());
    end.status = 127;
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
  StatusOr<UniqueFd> lock = OpenFile(run_dir + "/.lock", OpenFlags::kRead);
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

int Usage(const std::string& message) {
  std::fprintf(stderr, "jobrunner launch: %s (see jobrunner launch --help)\n", message.c_str());
  return kExitUsage;
}

// Everything after the options are parsed: the loop of launches.
// `deadline`: when --time-limit, counted from the launch's start, runs out.
int Supervise(const LaunchOptions& options, std::vector<Host> hosts, const RunDirFlags& flags,
              std::string run_dir, bool resume, std::optional<Clock::time_point> deadline) {
  TempDir temp;
  std::string jobrunner = options.jobrunner.empty() ? SelfExecutable() : options.jobrunner;
  std::vector<std::string> left_out;

  std::map<std::string, bool> answered = Probe(hosts, options);
  std::vector<Host> reachable;
  for (const Host& host : hosts) {
    if (answered[host.name]) {
      reachable.push_back(host);
    } else {
      Log("%s does not answer through '%s' within %.1fs: leaving it out", host.name.c_str(),
          options.rsh_agent.c_str(), options.probe_timeout_ms / 1000.0);
      left_out.push_back(host.name);
    }
  }
  hosts = reachable;
  if (hosts.empty()) {
    Log("no host answers; nothing ran");
    return kExitUsage;
  }

  int run_status = kExitInternal;
  for (int launch = 1;; ++launch) {
    std::string hostfile = temp.path() + "/hosts-" + std::to_string(launch);
    std::ofstream(hostfile) << MpirunHostfile(hosts);
    std::optional<std::int64_t> time_left_ms;
    if (deadline) {
      time_left_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (*time_left_ms < kLeastTimeToLaunchMs) {
        Log("--time-limit leaves %.1fs: not launching again; the run stays unfinished (status "
            "%d); continue it with --resume %s",
            static_cast<double>(*time_left_ms) / 1000.0, run_status, run_dir.c_str());
        return run_status;
      }
    }
    std::vector<std::string> argv =
        MpirunCommand(options, hosts, hostfile, jobrunner, RunningAsRoot(),
                      JobrunnerFlags(flags, run_dir, resume, launch == 1, time_left_ms));
    Log("launch %d (at most %d) on %zu host(s): %s; %d ranks; run directory %s", launch,
        options.max_launches, hosts.size(), Join(Names(hosts), ", ").c_str(), TotalRanks(hosts),
        run_dir.c_str());
    int summaries_before = ReadSummaries(run_dir).count;
    MpirunEnd end = RunMpirun(argv);
    Summaries after = ReadSummaries(run_dir);
    bool new_summary = after.count > summaries_before && after.last_status.has_value();
    run_status = new_summary ? *after.last_status : end.status;
    Clock::time_point ended = Clock::now();

    if (ForwardedSignal() != 0) {
      Log("stopped by signal %d: mpirun ended with status %d; not relaunching", ForwardedSignal(),
          end.status);
      return run_status;
    }
    // The run ended on its own (all done, tasks failed, or a usage error): jobrunner said so in
    // a summary. Without a summary, only when the run directory is not visible here and mpirun
    // itself says it went well.
    bool ended_on_its_own =
        new_summary ? run_status <= kExitUsage : (!after.visible && end.status == 0);
    if (ended_on_its_own) {
      Log("the run ended with status %d after %d launch(es)%s%s", run_status, launch,
          left_out.empty() ? "" : "; hosts left out: ", Join(left_out, ", ").c_str());
      return run_status;
    }

    answered = Probe(hosts, options);
    std::vector<HostEvidence> evidence;
    for (const Host& host : hosts) evidence.push_back({host.name, answered[host.name], false});
    for (const std::string& name : end.blamed) {
      const Host* host = FindHost(hosts, name);
      if (host != nullptr) evidence[static_cast<std::size_t>(host - hosts.data())].blamed = true;
    }
    LostHosts lost = DecideLostHosts(evidence);
    Log("mpirun ended after %.1fs with status %d%s", end.seconds, end.status,
        new_summary ? (", jobrunner's status " + std::to_string(run_status)).c_str() : "");
    if (lost.hosts.empty()) {
      Log("every host answers and mpirun reported none lost: not relaunching (status %d)",
          run_status);
      return run_status;
    }
    for (const std::string& reason : lost.reasons) Log("lost %s", reason.c_str());
    std::vector<Host> kept;
    for (const Host& host : hosts) {
      if (std::find(lost.hosts.begin(), lost.hosts.end(), host.name) == lost.hosts.end()) {
        kept.push_back(host);
      }
    }
    left_out.insert(left_out.end(), lost.hosts.begin(), lost.hosts.end());
    hosts = kept;
    if (hosts.empty()) {
      Log("no host left; the run stays unfinished (status %d); continue it with --resume %s",
          run_status, run_dir.c_str());
      return run_status;
    }
    if (launch >= options.max_launches) {
      Log("--max-launches %d reached; the run stays unfinished (status %d); continue it with "
          "--resume %s",
          options.max_launches, run_status, run_dir.c_str());
      return run_status;
    }
    WaitForLock(run_dir, std::chrono::seconds(30));
    if (ForwardedSignal() != 0) return run_status;
    // A launch that ended before the coordinator wrote a journal left nothing to resume.
    resume = fs::exists(run_dir + "/journal");
    Log("relaunching on %s, %.1fs after mpirun ended", Join(Names(hosts), ", ").c_str(),
        SecondsSince(ended));
  }
}

}  // namespace

int RunLaunch(int argc, char** args) {
  std::vector<std::string> words(args, args + argc);
  LaunchOptions options;
  if (std::string error = ParseLaunchOptions(words, options); !error.empty()) return Usage(error);
  if (options.help) {
    std::fputs(kLaunchHelp, stdout);
    return 0;
  }
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
    Log("internal error: %s", e.what());
  }
  // A run directory this launch made and in which nothing ran (no host answered) goes again.
  std::error_code ignored;
  if (made_here && !fs::exists(run_dir + "/journal", ignored) &&
      !fs::exists(run_dir + "/results.jsonl", ignored)) {
    fs::remove_all(run_dir, ignored);
  }
  return status;
}

}  // namespace jobrunner
