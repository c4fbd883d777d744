#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "coordinator/progress_line.h"

namespace spdlog {
class logger;
}

namespace jobrunner {

enum class ProgressMode {
  kBar,  // one live line, redrawn in place
  kLog,  // a line every few seconds, for files and CI logs
  kNone,
};

enum class Verbosity { kQuiet, kNormal, kVerbose };

// --progress=auto: a live bar only when the user is looking at a terminal. Under mpirun a rank's
// stdout is a pty even when mpirun's output goes to a file, so this looks at the stderr of the
// process that launched the rank (mpirun itself on the launching node) rather than at our own.
ProgressMode DetectProgressMode();

// Everything the user sees while a run goes: progress, notable events, errors. Progress and logs
// go to stderr; the final summary to stdout. The only user of spdlog besides main.
class Reporter {
 public:
  Reporter(ProgressMode mode, Verbosity verbosity);
  ~Reporter();

  // Redraws the bar or writes a log line when one is due; cheap to call often.
  void Update(const Progress& progress);
  // Clears the bar, and writes the last progress line in log mode.
  void Finish(const Progress& progress);

  void Verbose(const std::string& message);  // only with --verbose
  void Info(const std::string& message);     // not with --quiet
  void Warn(const std::string& message);
  void Error(const std::string& message);  // always
  void Summary(const std::string& text);   // stdout, not with --quiet

  Verbosity verbosity() const { return verbosity_; }

 private:
  void Print(int level, const std::string& message);
  std::string Line(const Progress& progress) const;

  ProgressMode mode_;
  Verbosity verbosity_;
  std::shared_ptr<spdlog::logger> log_;
  std::int64_t last_update_ms_ = -1;
  bool bar_drawn_ = false;
  RateWindow rate_;  // of tasks ended, for the rate and the ETA
};

}  // namespace jobrunner
