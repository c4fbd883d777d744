#include "launch/launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/exit_status.h"
#include "launch/host_list.h"
#include "launch/launch_command.h"
#include "launch/lost_host.h"
#include "manifest/units.h"
#include "rundir/run_dir.h"

namespace jobrunner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A relaunch with less of --time-limit left than this would spend it starting up and draining.
constexpr std::int64_t kLeastTimeToLaunchMs = 5000;

// mpirun's pid while it runs, for the signal handler; the first signal that asks us to stop.
std::atomic<pid_t> g_mpirun{0};
volatile sig_atomic_t g_stop_signal = 0;

// Ctrl-C, SIGTERM, SIGHUP and SIGUSR1 go to mpirun as they came (mpirun forwards SIGUSR1 to
// every rank: a drain) and end the supervision: whatever mpirun then does, nothing is relaunched.
void ForwardSignal(int sig) {
  if (g_stop_signal == 0) g_stop_signal = sig;
  pid_t pid = g_mpirun.load();
  if (pid > 0) kill(pid, sig);
}

void InstallSignalForwarding() {
  struct sigaction action {};
  action.sa_handler = ForwardSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaction(sig, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

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

int StatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return kExitInternal;
}

// Starts argv in a process group of its own, stdin from /dev/null, stdout as ours, stderr to
// `stderr_fd` (-1: ours; -2: /dev/null). Returns the pid, or -1 with errno set.
pid_t Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd) {
  std::vector<char*> args;
  for (const std::string& word : argv) args.push_back(const_cast<char*>(word.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) {
    if (pid > 0) setpgid(pid, pid);  // also in the parent: no race with a signal to the group
    return pid;
  }
  setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE}) sigaction(sig, &dfl, nullptr);
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  if (stdout_fd == -2) dup2(null, 1);
  if (stderr_fd == -2) dup2(null, 2);
  if (stderr_fd >= 0) dup2(stderr_fd, 2);
  execvp(args[0], args.data());
  std::fprintf(stderr, "jobrunner launch: cannot run %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

// Which hosts answer `AGENT HOST true` within the timeout; all probes run at once.
std::map<std::string, bool> Probe(const std::vector<Host>& hosts, const LaunchOptions& options) {
  std::map<pid_t, std::string> running;
  std::map<std::string, bool> answered;
  for (const Host& host : hosts) {
    answered[host.name] = false;
    pid_t pid = Spawn(ProbeCommand(options.rsh_agent, host.name, options.probe_timeout_ms), -2, -2);
    if (pid > 0) running[pid] = host.name;
  }
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options.probe_timeout_ms);
  while (!running.empty() && Clock::now() < deadline) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      answered[running[pid]] = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      running.erase(pid);
    } else if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  for (const auto& [pid, name] : running) {  // too slow: counts as not answering
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
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
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = Spawn(argv, -1, pipe_fds[1]);
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    throw std::runtime_error(std::string("cannot start mpirun: ") + std::strerror(errno));
  }
  g_mpirun = pid;
  if (g_stop_signal != 0) kill(pid, g_stop_signal);  // a signal that came before the pid was set
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
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        exited_at = Clock::now();
        end.status = StatusOf(status);
        g_mpirun = 0;
      }
    }
    // Daemons and agents hold mpirun's stderr too; a daemon cut off from the network may live on
    // for seconds, so after mpirun's end its output is read only briefly.
    if (exited && (!pipe_open || Clock::now() - *exited_at > std::chrono::milliseconds(300))) {
      break;
    }
    if (!exited && g_stop_signal != 0) {
      // mpirun can hang after SIGTERM when a host is cut off: end its process group after 10 s.
      if (!stop_seen_at) stop_seen_at = Clock::now();
      if (Clock::now() - *stop_seen_at > std::chrono::seconds(10)) kill(-pid, SIGKILL);
    }
    if (!pipe_open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    struct pollfd fd = {pipe_fds[0], POLLIN, 0};
    int ready = poll(&fd, 1, 50);
    if (ready > 0) {
      char buffer[8192];
      ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
      if (n > 0) {
        ssize_t written = 0;
        while (written < n) {
          ssize_t w = write(2, buffer + written, static_cast<std::size_t>(n - written));
          if (w <= 0 && errno != EINTR) break;
          if (w > 0) written += w;
        }
        scan(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        pipe_open = false;
      }
    }
  }
  if (!line.empty()) scan("\n", 1);
  close(pipe_fds[0]);
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
  std::string path = run_dir + "/.lock";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  Clock::time_point deadline = Clock::now() + limit;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0 && Clock::now() < deadline && g_stop_signal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  close(fd);  // releases the lock if we got it
}

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base ? base : "/tmp") + "/jobrunner-launch.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory: " +
                               std::string(std::strerror(errno)));
    }
    path_ = pattern;
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
        MpirunCommand(options, hosts, hostfile, jobrunner, geteuid() == 0,
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

    if (g_stop_signal != 0) {
      Log("stopped by signal %d: mpirun ended with status %d; not relaunching",
          static_cast<int>(g_stop_signal), end.status);
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
    if (g_stop_signal != 0) return run_status;
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
