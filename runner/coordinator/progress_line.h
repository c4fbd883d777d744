#pragma once

// The words and the bar of the live progress line: what a run has done, what it is doing, and
// when it will end at its recent pace.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace jobrunner {

struct Progress {
  std::uint64_t total = 0;
  std::uint64_t succeeded = 0;     // in this run and earlier ones
  std::uint64_t failed = 0;        // ended unsuccessful after all their retries
  std::uint64_t skipped = 0;       // never run: a task they depend on failed for good
  std::uint64_t done_earlier = 0;  // of the above, settled by earlier runs (a resumed run)
  // Attempts started and not ended (their worker reported the start): not those dispatched and
  // still queued at their worker, which a worker's prefetch makes many.
  std::uint64_t running = 0;
  std::uint64_t retrying = 0;   // waiting for their next attempt
  std::int64_t elapsed_ms = 0;  // of this run

  std::uint64_t done() const { return succeeded + failed + skipped; }
};

// Tasks ended per second over the last `window_ms` of the run: the pace an ETA may trust, which
// a run's average is not once its tasks change length or workers come and go.
class RateWindow {
 public:
  explicit RateWindow(std::int64_t window_ms = 30'000);

  // `done` tasks ended by `elapsed_ms` into the run.
  void Add(std::int64_t elapsed_ms, std::uint64_t done);
  // Per second, once the samples span a second; nullopt before.
  std::optional<double> PerSecond() const;
  // How far back the rate looks now, in milliseconds.
  std::int64_t SpanMs() const;

 private:
  std::int64_t window_ms_;
  std::deque<std::pair<std::int64_t, std::uint64_t>> samples_;  // oldest first
};

// For log lines: "412/1000 (41%): 3 failed, 2 skipped, 4 running, 12.5 tasks/s, ETA 47s, elapsed
// 33s"; "(200 done earlier)" after the count on a resumed run, "1 awaiting retry" when some are;
// skipped and awaiting retry only when there are some. `per_second`: nullopt while unknown ("?").
std::string ProgressText(const Progress& progress, std::optional<double> per_second);

// For a terminal, shorter, so that with 10 cells it fits 80 columns while counts stay below 10^4:
// "[####......] 41% 412/1000 3 failed 4 running 12.5/s ETA 47s elapsed 33s".
std::string ProgressBar(const Progress& progress, std::optional<double> per_second, int width);

}  // namespace jobrunner
