#include "coordinator/reporter.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "posix/this_process.h"

namespace jobrunner {
namespace {

constexpr std::int64_t kBarIntervalMs = 200;
constexpr std::int64_t kLogIntervalMs = 5000;
constexpr int kBarCells = 10;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool IsTerminal(const std::string& path) {
  return path.rfind("/dev/pts/", 0) == 0 || path.rfind("/dev/tty", 0) == 0;
}

}  // namespace

ProgressMode DetectProgressMode() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) {
    return StderrIsTerminal() ? ProgressMode::kBar : ProgressMode::kLog;
  }
  return IsTerminal(ParentStderrTarget()) ? ProgressMode::kBar : ProgressMode::kLog;
}

Reporter::Reporter(ProgressMode mode, Verbosity verbosity)
    : mode_(verbosity == Verbosity::kQuiet ? ProgressMode::kNone : mode),
      verbosity_(verbosity),
      log_(std::make_shared<spdlog::logger>("jobrunner",
                                            std::make_shared<spdlog::sinks::stderr_sink_mt>())) {
  log_->set_pattern("[%Y-%m-%d %H:%M:%S] jobrunner: %v");
  log_->flush_on(spdlog::level::trace);
}

Reporter::~Reporter() = default;

std::string Reporter::Line(const Progress& p) const {
  return mode_ == ProgressMode::kBar ? ProgressBar(p, rate_.PerSecond(), kBarCells)
                                     : ProgressText(p, rate_.PerSecond());
}

void Reporter::Update(const Progress& p) {
  if (mode_ == ProgressMode::kNone) return;
  // Sampled at every call, not only when a line is due, so that the first line has a rate.
  rate_.Add(p.elapsed_ms, p.done());
  std::int64_t now = NowMs();
  std::int64_t interval = mode_ == ProgressMode::kBar ? kBarIntervalMs : kLogIntervalMs;
  if (last_update_ms_ >= 0 && now - last_update_ms_ < interval) return;
  if (last_update_ms_ < 0 && mode_ == ProgressMode::kLog) {
    last_update_ms_ = now;  // the first log line comes after one interval, not at once
    return;
  }
  last_update_ms_ = now;
  if (mode_ == ProgressMode::kBar) {
    std::fprintf(stderr, "\r\033[K%s", Line(p).c_str());
    (void)std::fflush(stderr);  // a progress bar that cannot be drawn is no reason to stop
    bar_drawn_ = true;
  } else {
    log_->info("{}", Line(p));
  }
}

void Reporter::Finish(const Progress& p) {
  rate_.Add(p.elapsed_ms, p.done());
  if (bar_drawn_) {
    std::fprintf(stderr, "\r\033[K");
    (void)std::fflush(stderr);
    bar_drawn_ = false;
  }
  if (mode_ == ProgressMode::kLog && last_update_ms_ >= 0 && p.total > 0) {
    log_->info("{}", Line(p));
  }
}

void Reporter::Print(int level, const std::string& message) {
  if (bar_drawn_) {
    std::fprintf(stderr, "\r\033[K");  // the bar comes back at the next Update
    bar_drawn_ = false;
    last_update_ms_ = -1;
  }
  log_->log(static_cast<spdlog::level::level_enum>(level), "{}", message);
}

void Reporter::Verbose(const std::string& message) {
  if (verbosity_ == Verbosity::kVerbose) Print(spdlog::level::info, message);
}

void Reporter::Info(const std::string& message) {
  if (verbosity_ != Verbosity::kQuiet) Print(spdlog::level::info, message);
}

void Reporter::Warn(const std::string& message) {
  if (verbosity_ != Verbosity::kQuiet) Print(spdlog::level::warn, "warning: " + message);
}

void Reporter::Error(const std::string& message) { Print(spdlog::level::err, "error: " + message); }

void Reporter::Summary(const std::string& text) {
  if (verbosity_ == Verbosity::kQuiet) return;
  std::fputs(text.c_str(), stdout);
  (void)std::fflush(stdout);  // the run is over: a summary that cannot be printed changes nothing
}

}  // namespace jobrunner
