// coordinator_sim: the real coordinator (runner/coordinator.cc, the scheduler, the journal and
// results.jsonl writers, the run ledger) driven by thousands of simulated workers in one process,
// to measure what one coordinator costs per task and how many tasks per second it can sustain.
// See bench/README.md ("Coordinator at scale") for the command and the columns.
//
// Each configuration runs in a child process of its own, so that its peak memory is its own and
// a run that outgrows its time limit can be killed without losing the table.

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/coordinator.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "manifest/manifest.h"
#include "manifest/task_source.h"
#include "posix/signals.h"
#include "sim_cluster.h"

namespace jobrunner::sim {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  int workers = 1000;
  std::uint64_t tasks = 1'000'000;
  double task_ms = 0;
  int slots = 1;
  int workers_per_host = 64;
  double fail = 0;
  bool journal = true;
  bool one_thread = false;       // the simulated workers in the coordinator's thread
  std::uint64_t max_queued = 0;  // Scheduler::Options::max_queued (0: its default)
  double limit_s = 300;
  std::string manifest;  // a user's manifest instead of the generated one
};

// What a child reports to the parent through a pipe: plain data only.
struct Row {
  double startup_s = 0;     // manifest, id check, journal creation
  double run_s = 0;         // first Step to the end of the run
  double coord_cpu_s = 0;   // thread CPU time inside Coordinator::Step
  double coord_wall_s = 0;  // wall time inside Coordinator::Step (CPU, plus waits on the disk)
  double sim_cpu_s = 0;     // CPU of the simulated workers
  // CPU of the whole process over the run, less the simulated workers': the coordinator's thread
  // and the journal and results.jsonl writer's thread, all that rank 0 spends.
  double rank0_cpu_s = 0;
  std::uint64_t tasks = 0;       // in the manifest
  std::uint64_t settled = 0;     // tasks with a final outcome
  std::uint64_t attempts = 0;    // results the workers sent
  std::uint64_t dispatched = 0;  // attempts the workers received
  std::uint64_t steps = 0;
  std::uint64_t task_batches = 0;
  std::uint64_t result_batches = 0;
  std::uint64_t peak_in_flight = 0;
  std::uint64_t peak_inbox_messages = 0;
  double peak_inbox_mb = 0;
  double rss_before_mb = 0;  // before the coordinator is made: binary, libraries, manifest
  double peak_rss_mb = 0;
  int exit_status = -1;
  bool stopped = false;  // by the time limit or a signal
  bool ok = false;       // every task succeeded and every worker was told to shut down
  char error[200] = {};
};

double ThreadCpuS() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double ProcessCpuS() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A field of /proc/self/status in MB ("VmRSS", "VmHWM").
double StatusMb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0)
      return std::atof(line.c_str() + prefix.size()) / 1024.0;
  }
  return 0;
}

std::string GeneratedManifest(std::uint64_t tasks) {
  // Ids, an argument and a retry allowance as a typical parameter sweep has them; the command
  // never runs.
  return "version: 1\n"
         "defaults: {retries: 1}\n"
         "tasks:\n"
         "  - id: sweep-{n}\n"
         "    command: [simulate, --input, 'data/{n}.in', --seed, '{n}']\n"
         "    matrix:\n"
         "      n: {range: [0, " +
         std::to_string(tasks) + "]}\n";
}

// SimCluster::Run on a thread of its own, stopped and joined however the row ends.
class WorkersThread {
 public:
  explicit WorkersThread(SimCluster& cluster)
      : cluster_(cluster), thread_([this] {
          cluster_.Run(stop_);
          cpu_s_ = ThreadCpuS();
        }) {}
  ~WorkersThread() { Join(); }
  WorkersThread(const WorkersThread&) = delete;
  WorkersThread& operator=(const WorkersThread&) = delete;

  // Stops the workers and returns the CPU time their thread used.
  double Join() {
    if (thread_.joinable()) {
      stop_ = true;
      cluster_.WakeUp();
      thread_.join();
    }
    return cpu_s_;
  }

 private:
  SimCluster& cluster_;
  std::atomic<bool> stop_{false};
  double cpu_s_ = 0;
  std::thread thread_;
};

Row RunOne(const Config& c, const std::string& run_dir) {
  Row row;
  Clock::time_point t0 = Clock::now();
  std::string text = c.manifest.empty() ? GeneratedManifest(c.tasks) : ReadManifestFile(c.manifest);
  TaskSource source(ParseManifest(text, c.manifest.empty() ? "sim.yaml" : c.manifest), run_dir);
  source.CheckUniqueIds();
  row.tasks = source.size();
  ResultsWriter results(run_dir, /*append=*/false);
  std::optional<JournalWriter> journal;
  if (c.journal) journal.emplace(JournalWriter::Create(run_dir + "/journal", 1, source.size()));
  RunLedger ledger(source.size());
  Reporter reporter(ProgressMode::kNone, Verbosity::kQuiet);
  RunOptions options;
  options.run_dir = run_dir;
  options.slots = c.slots;
  options.scheduler.max_queued = c.max_queued;
  row.startup_s = Seconds(Clock::now() - t0);

  ClusterOptions cluster_options;
  cluster_options.workers = c.workers;
  cluster_options.workers_per_host = c.workers_per_host;
  cluster_options.task_ms = c.task_ms;
  cluster_options.fail_fraction = c.fail;
  SimCluster cluster(cluster_options);
  row.rss_before_mb = StatusMb("VmRSS");

  const KindRegistry kinds;
  RecordWriter records(journal ? &*journal : nullptr, results);
  Coordinator coordinator(
      {cluster.coordinator_end(), source, kinds, ledger, results, records, reporter}, options,
      Scheduler(source.size(), options.scheduler));
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.limit_s));
  // The simulated workers on a thread of their own, unless --one-thread.
  std::optional<WorkersThread> workers;
  if (!c.one_thread) workers.emplace(cluster);
  const double process_cpu_start = ProcessCpuS();
  while (!coordinator.Finished()) {
    // What a real rank 0 does (CoordinateWorkers in runner/app/ranks.cc): Step, and sleep as long
    // as Step says. The simulated workers meanwhile keep time on their own.
    double cpu0 = ThreadCpuS();
    Clock::time_point wall0 = Clock::now();
    std::chrono::milliseconds wait = coordinator.Step();
    if (!coordinator.Finished() &&
        (PendingInterrupt() != InterruptRequest::kNone || Clock::now() >= deadline)) {
      coordinator.StopNow("simulation limit");
      row.stopped = true;
    }
    row.coord_cpu_s += ThreadCpuS() - cpu0;
    row.coord_wall_s += Seconds(Clock::now() - wall0);
    ++row.steps;
    if (c.one_thread) {
      const double sim0 = ThreadCpuS();
      cluster.Step();
      row.sim_cpu_s += ThreadCpuS() - sim0;
    }
    if (wait.count() > 0 && !coordinator.Finished()) std::this_thread::sleep_for(wait);
  }
  if (c.one_thread) {
    const double sim0 = ThreadCpuS();
    cluster.Step();  // delivers the Shutdowns
    row.sim_cpu_s += ThreadCpuS() - sim0;
  } else {
    row.sim_cpu_s = workers->Join();  // the workers' last Step delivers the Shutdowns
  }
  row.rank0_cpu_s = ProcessCpuS() - process_cpu_start - row.sim_cpu_s;
  row.run_s = Seconds(Clock::now() - start);
  row.settled = ledger.succeeded() + ledger.failed() + ledger.skipped();
  row.attempts = cluster.stats().results;
  row.dispatched = cluster.stats().tasks;
  row.task_batches = cluster.stats().task_batches;
  row.result_batches = cluster.stats().result_batches;
  row.peak_in_flight = cluster.stats().peak_in_flight;
  row.peak_inbox_messages = cluster.stats().peak_inbox_messages;
  row.peak_inbox_mb = static_cast<double>(cluster.stats().peak_inbox_bytes) / (1 << 20);
  row.peak_rss_mb = StatusMb("VmHWM");
  row.exit_status = coordinator.exit_status();
  row.ok = !row.stopped && row.exit_status == 0 && ledger.succeeded() == source.size() &&
           cluster.AllShutDown();
  return row;
}

// Runs one configuration in a child process; kills it if it outlives its limit by far (the
// child stops itself at the limit, this only guards against a hang).
Row RunChild(const Config& c, const std::string& run_dir) {
  Row row;
  int fds[2];
  if (pipe(fds) != 0) {
    std::snprintf(row.error, sizeof(row.error), "pipe: %s", std::strerror(errno));
    return row;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::snprintf(row.error, sizeof(row.error), "fork: %s", std::strerror(errno));
    return row;
  }
  if (pid == 0) {
    close(fds[0]);
    Row result;
    try {
      result = RunOne(c, run_dir);
    } catch (const std::exception& e) {
      std::snprintf(result.error, sizeof(result.error), "%s", e.what());
    }
    const char* p = reinterpret_cast<const char*>(&result);
    std::size_t left = sizeof(result);
    while (left > 0) {
      ssize_t n = write(fds[1], p, left);
      if (n <= 0 && errno == EINTR) continue;
      if (n <= 0) _exit(3);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  // Start-up of 10^7 tasks takes seconds; a child stuck this far past its limit is hung.
  const Clock::time_point kill_at =
      Clock::now() + std::chrono::seconds(static_cast<long>(c.limit_s) + 120);
  std::string bytes;
  bool killed = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, 200);
    if (ready > 0) {
      char buffer[4096];
      ssize_t n = read(fds[0], buffer, sizeof(buffer));
      if (n > 0) {
        bytes.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) break;
      if (errno != EINTR) break;
    }
    if (!killed && Clock::now() >= kill_at) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (bytes.size() == sizeof(Row)) {
    std::memcpy(&row, bytes.data(), sizeof(Row));
  } else if (killed) {
    std::snprintf(row.error, sizeof(row.error), "killed: no answer %.0f s past its limit", 120.0);
  } else {
    std::snprintf(row.error, sizeof(row.error),
                  "the simulation ended with status %d without a result",
                  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return row;
}

std::string Count(std::uint64_t n) {
  // 10^6 and 10^7 read better as powers of ten; others with thousands separators.
  std::uint64_t p = 1;
  for (int e = 0; e <= 12; ++e, p *= 10) {
    if (n == p && e >= 4) return "10^" + std::to_string(e);
  }
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, v);
  return text;
}

std::string Rate(double per_s) { return Count(static_cast<std::uint64_t>(per_s + 0.5)); }

void PrintTable(const std::vector<std::pair<Config, Row>>& rows) {
  std::printf(
      "| workers | tasks | task ms | slots | journal | start-up s | run s | coordinator CPU s | "
      "CPU µs/task | rank 0 CPU µs/task | Step wall µs/task | ceiling tasks/s | achieved tasks/s | "
      "coordinator busy | peak in flight | peak RSS MB | result |\n");
  std::printf(
      "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const auto& [c, r] : rows) {
    std::string result = r.error[0] != 0 ? std::string("error: ") + r.error
                         : r.ok          ? "ok"
                         : r.stopped ? "stopped (limit or signal): " + Count(r.settled) + " settled"
                                     : "exit " + std::to_string(r.exit_status);
    double n = static_cast<double>(std::max<std::uint64_t>(1, r.settled));
    std::printf(
        "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s | %s | %s "
        "|\n",
        Count(static_cast<std::uint64_t>(c.workers)).c_str(), Count(r.tasks).c_str(),
        Fixed(c.task_ms, c.task_ms == static_cast<int>(c.task_ms) ? 0 : 1).c_str(), c.slots,
        c.journal ? "on" : "off", Fixed(r.startup_s, 2).c_str(), Fixed(r.run_s, 2).c_str(),
        Fixed(r.coord_cpu_s, 2).c_str(), Fixed(r.coord_cpu_s / n * 1e6, 2).c_str(),
        Fixed(r.rank0_cpu_s / n * 1e6, 2).c_str(), Fixed(r.coord_wall_s / n * 1e6, 2).c_str(),
        Rate(r.coord_cpu_s > 0 ? n / r.coord_cpu_s : 0).c_str(),
        Rate(r.run_s > 0 ? n / r.run_s : 0).c_str(),
        Fixed(r.run_s > 0 ? 100.0 * r.coord_wall_s / r.run_s : 0, 0).c_str(),
        Count(r.peak_in_flight).c_str(), Fixed(r.peak_rss_mb, 0).c_str(), result.c_str());
  }
  // How the work travelled, to read the first table by.
  std::printf(
      "\n| workers | tasks | task ms | Steps | tasks per TaskBatch | results per ResultBatch | "
      "peak results waiting (messages, MB) | RSS before run MB | simulated workers' CPU s |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [c, r] : rows) {
    std::printf(
        "| %s | %s | %s | %s | %s | %s | %s, %s | %s | %s |\n",
        Count(static_cast<std::uint64_t>(c.workers)).c_str(), Count(r.tasks).c_str(),
        Fixed(c.task_ms, c.task_ms == static_cast<int>(c.task_ms) ? 0 : 1).c_str(),
        Count(r.steps).c_str(),
        Fixed(r.task_batches ? double(r.dispatched) / double(r.task_batches) : 0, 1).c_str(),
        Fixed(r.result_batches ? double(r.attempts) / double(r.result_batches) : 0, 1).c_str(),
        Count(r.peak_inbox_messages).c_str(), Fixed(r.peak_inbox_mb, 1).c_str(),
        Fixed(r.rss_before_mb, 0).c_str(), Fixed(r.sim_cpu_s, 2).c_str());
  }
}

template <class T>
bool ParseList(const std::string& text, std::vector<T>& out, const char* flag) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::stringstream one(item);
    T value{};
    char extra = 0;
    // 1e6 is accepted for counts: read as a double, then checked to be whole.
    double d = 0;
    if (!(one >> d) || (one >> extra) || d < 0 ||
        (std::is_integral_v<T> && d != static_cast<double>(static_cast<std::uint64_t>(d)))) {
      std::fprintf(stderr, "coordinator_sim: %s: expected a comma-separated list of %s, got '%s'\n",
                   flag, std::is_integral_v<T> ? "whole numbers" : "numbers", text.c_str());
      return false;
    }
    value = static_cast<T>(d);
    out.push_back(value);
  }
  if (out.empty()) {
    std::fprintf(stderr, "coordinator_sim: %s: empty list\n", flag);
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "coordinator_sim: the real coordinator, scheduler, journal and results writers driven by "
      "simulated workers; prints a markdown table of its cost per task. Every combination of "
      "--workers, --tasks and --task-ms is one row, run in a process of its own.",
      "coordinator_sim"};
  std::string workers_text = "1000,10000";
  std::string tasks_text = "1000000";
  std::string task_ms_text = "0";
  Config base;
  std::string dir = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
  bool no_journal = false;
  bool keep = false;
  bool no_fork = false;
  app.add_option("--workers", workers_text, "Simulated worker ranks, a list (default: 1000,10000)");
  app.add_option("--tasks", tasks_text,
                 "Tasks in the generated manifest, a list; 1e6 style accepted (default: 1e6)");
  app.add_option("--task-ms", task_ms_text,
                 "Mean simulated task duration in ms, a list; 0: tasks end at once, which measures "
                 "the coordinator's ceiling (default: 0)");
  app.add_option("--slots", base.slots, "Slots per worker (default: 1)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--workers-per-host", base.workers_per_host,
                 "Simulated workers per host name (default: 64)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--fail", base.fail,
                 "Share of first attempts that fail and are retried once, 0..1 (default: 0)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--no-journal", no_journal, "Run without a journal");
  app.add_flag("--one-thread", base.one_thread,
               "Run the simulated workers in the coordinator's thread, taking turns with it, "
               "instead of on a thread of their own");
  app.add_option("--max-queued", base.max_queued,
                 "Tasks queued beyond the slots over all workers (default: the scheduler's, "
                 "max(65536, 2 x slots))");
  app.add_option("--limit", base.limit_s,
                 "Seconds a configuration may run before it is stopped (default: 300)")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--dir", dir, "Where the run directories go (default: $TMPDIR or /tmp)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--no-fork", no_fork,
               "Run every configuration in this process, for profilers that do not follow "
               "children (heaptrack); peak RSS is then the largest so far, and --limit is not "
               "backed by a kill");
  app.add_flag("--keep", keep, "Keep the run directories (journal, results.jsonl)");
  app.add_option("--manifest", base.manifest,
                 "Run this manifest instead of the generated one (--tasks is then ignored)")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::vector<int> workers;
  std::vector<double> tasks;
  std::vector<double> task_ms;
  if (!ParseList(workers_text, workers, "--workers") || !ParseList(tasks_text, tasks, "--tasks") ||
      !ParseList(task_ms_text, task_ms, "--task-ms")) {
    return 2;
  }
  for (int w : workers) {
    if (w < 1 || w > 1'000'000) {
      std::fprintf(stderr, "coordinator_sim: --workers: %d is outside 1..1000000\n", w);
      return 2;
    }
  }
  for (double t : tasks) {
    if (t < 1 || t > 1e9) {
      std::fprintf(stderr, "coordinator_sim: --tasks: %.0f is outside 1..10^9\n", t);
      return 2;
    }
  }
  base.journal = !no_journal;
  if (!base.manifest.empty()) {
    base.manifest = std::filesystem::absolute(base.manifest).string();
    tasks = {0};
  }

  InstallInterruptHandlers();
  std::vector<std::pair<Config, Row>> rows;
  std::size_t total = workers.size() * tasks.size() * task_ms.size();
  for (double t : tasks) {
    for (double ms : task_ms) {
      for (int w : workers) {
        if (PendingInterrupt() != InterruptRequest::kNone) break;
        Config c = base;
        c.workers = w;
        c.tasks = static_cast<std::uint64_t>(t);
        c.task_ms = ms;
        std::string pattern = dir + "/jobrunner-sim-XXXXXX";
        std::vector<char> path(pattern.begin(), pattern.end());
        path.push_back('\0');
        if (mkdtemp(path.data()) == nullptr) {
          std::fprintf(stderr, "coordinator_sim: cannot create a directory in %s: %s\n",
                       dir.c_str(), std::strerror(errno));
          return 1;
        }
        std::string run_dir = path.data();
        std::fprintf(stderr, "[%zu/%zu] %d workers, %s tasks, task ms %g ...", rows.size() + 1,
                     total, w, c.manifest.empty() ? Count(c.tasks).c_str() : c.manifest.c_str(),
                     ms);
        Row row;
        if (no_fork) {
          try {
            row = RunOne(c, run_dir);
          } catch (const std::exception& e) {
            std::snprintf(row.error, sizeof(row.error), "%s", e.what());
          }
        } else {
          row = RunChild(c, run_dir);
        }
        std::fprintf(stderr, " %.1f s%s\n", row.startup_s + row.run_s,
                     row.error[0] != 0 ? " (error)" : "");
        if (keep) {
          std::fprintf(stderr, "  kept %s\n", run_dir.c_str());
        } else {
          std::error_code ignored;
          std::filesystem::remove_all(run_dir, ignored);
        }
        rows.emplace_back(c, row);
      }
    }
  }
  PrintTable(rows);
  bool all_ok = true;
  for (const auto& [c, r] : rows) all_ok = all_ok && r.ok;
  return all_ok && rows.size() == total ? 0 : 1;
}

}  // namespace
}  // namespace jobrunner::sim

int main(int argc, char** argv) { return jobrunner::sim::Main(argc, argv); }
