#include "inspect/commands.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "base/clock.h"
#include "base/exit_status.h"
#include "inspect/failures.h"
#include "inspect/logs.h"
#include "inspect/report.h"
#include "inspect/run_files.h"
#include "inspect/status.h"
#include "journal/journal.h"
#include "manifest/units.h"
#include "posix/terminal.h"

namespace jobrunner {
namespace {

constexpr double kDefaultWatchSeconds = 2;
// Clears a terminal and puts the cursor at its top left.
constexpr const char* kClearScreen = "\033[H\033[2J";

int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "jobrunner %s: %s\n", command, message.c_str());
  return kExitUsage;
}

}  // namespace

InspectCommands::InspectCommands(CLI::App& app) {
  const char* run_dir_help =
      "The run directory (default: jobrunner-out/latest, else the newest run in jobrunner-out/)";

  status_ = app.add_subcommand(
      "status",
      "How a run is doing, during it or after: counts, running tasks, failures, rate, ETA");
  status_->add_option("run_dir", run_dir_, run_dir_help)->type_name("RUN_DIR");
  status_->add_flag("--json", json_, "Print JSON for scripts (docs/status-json.md)");
  status_->add_option("--watch", watch_, "Redraw every SECONDS (default 2) until the run ends")
      ->expected(0, 1)
      ->type_name("[SECONDS]");

  logs_ = app.add_subcommand("logs", "Print one task's output, as its attempt wrote it");
  logs_->add_option("run_dir", run_dir_, "The run directory")->required()->type_name("RUN_DIR");
  logs_->add_option("task", task_, "The task's id")->required()->type_name("TASK");
  logs_->add_option("--attempt", attempt_, "Which attempt (default: the latest)")
      ->check(CLI::PositiveNumber)
      ->type_name("K");
  logs_->add_flag("--stderr", stderr_, "Print its stderr instead of its stdout");
  logs_->add_flag("-f,--follow", follow_, "Keep printing while the attempt runs");

  failed_ = app.add_subcommand(
      "failed", "List the tasks that failed or were skipped, one a line: id, outcome, reason");
  failed_->add_option("run_dir", run_dir_, "The run directory")->required()->type_name("RUN_DIR");
  failed_->footer(
      "Tab-separated. Failed: for good, after its retries; skipped: never run, as a task it "
      "needs failed.");

  report_ = app.add_subcommand(
      "report",
      "Write one HTML page about a run: timeline per worker, durations, failures, retries");
  report_->add_option("run_dir", run_dir_, "The run directory")->required()->type_name("RUN_DIR");
  report_->footer(
      "The page is self-contained (it opens without a network) and also shows the utilisation "
      "over time and the run's settings.");
  report_->add_option("-o,--output", output_,
                      "Where to write the page (default: "
                      "<run_dir>/report.html)");
  report_
      ->add_option("--trace", trace_,
                   "Also write the attempts as Chrome trace-event JSON to this file (opens "
                   "in Perfetto or chrome://tracing)")
      ->type_name("FILE");
}

std::optional<int> InspectCommands::RunChosen() {
  if (status_->parsed()) return Status();
  if (logs_->parsed()) return Logs();
  if (failed_->parsed()) return Failed();
  if (report_->parsed()) return Report();
  return std::nullopt;
}

int InspectCommands::Status() {
  std::optional<double> every;
  if (status_->count("--watch") > 0) {
    every = kDefaultWatchSeconds;
    if (!watch_.empty()) {
      try {
        std::size_t used = 0;
        every = std::stod(watch_, &used);
        if (used != watch_.size() || *every <= 0) throw std::invalid_argument(watch_);
      } catch (const std::exception&) {
        // `status --watch RUN_DIR`: the directory, not a number of seconds.
        if (!run_dir_.empty()) return Fail("status", "--watch: expected seconds, got " + watch_);
        run_dir_ = watch_;
        every = kDefaultWatchSeconds;
      }
    }
  }
  const StatusOr<std::string> run_dir = FindRunDir(run_dir_);
  if (!run_dir.ok()) return Fail("status", run_dir.status().message());
  const bool terminal = StdoutIsTerminal();
  for (bool first = true;; first = false) {
    RunStatus status;
    try {
      status = ReadRunStatus(*run_dir, UnixMs());
    } catch (const JournalError& e) {
      return Fail("status", e.what());
    }
    if (json_) {
      std::cout << RunStatusJson(status).dump(every ? -1 : 2) << std::endl;
    } else {
      // On a terminal the page is redrawn in place; in a file or pipe each one is appended.
      if (every && terminal) std::cout << kClearScreen;
      if (every && !terminal && !first) std::cout << '\n';
      std::cout << FormatRunStatus(status) << std::flush;
    }
    if (!every || status.liveness != Liveness::kLive) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(*every));
  }
}

int InspectCommands::Logs() {
  const StatusOr<std::string> run_dir = FindRunDir(run_dir_);
  if (!run_dir.ok()) return Fail("logs", run_dir.status().message());
  LogsRequest request{*run_dir, task_, std::nullopt, stderr_, follow_};
  if (attempt_ > 0) request.attempt = attempt_;
  std::string note;
  const jobrunner::Status printed = PrintTaskLog(request, std::cout, note);
  if (!printed.ok()) return Fail("logs", printed.message());
  if (!note.empty()) std::fprintf(stderr, "jobrunner logs: %s\n", note.c_str());
  return 0;
}

int InspectCommands::Failed() {
  const StatusOr<std::string> run_dir = FindRunDir(run_dir_);
  if (!run_dir.ok()) return Fail("failed", run_dir.status().message());
  const bool locked = RunIsLive(*run_dir);
  std::optional<JournalReplay> replay;
  try {
    replay = ReplayJournal(*run_dir);
  } catch (const JournalError&) {
    // A run with --no-journal: results.jsonl alone decides.
  }
  const bool live = replay && LivenessOf(locked, replay->history) == Liveness::kLive;
  PrintFailedTasks(FinalFailures(*run_dir, replay ? &replay->history : nullptr, live), std::cout);
  std::cout.flush();
  return 0;
}

int InspectCommands::Report() {
  const StatusOr<std::string> run_dir = FindRunDir(run_dir_);
  if (!run_dir.ok()) return Fail("report", run_dir.status().message());
  const std::string output = output_.empty() ? *run_dir + "/report.html" : output_;
  const jobrunner::Status written = WriteReport(*run_dir, output, trace_, UnixMs());
  if (!written.ok()) return Fail("report", written.message());
  std::printf("wrote %s%s%s\n", output.c_str(), trace_.empty() ? "" : " and ", trace_.c_str());
  return 0;
}

}  // namespace jobrunner
