#include "coordinator/progress_line.h"

#include <fmt/format.h>

#include "manifest/units.h"

namespace jobrunner {
namespace {

// A sample at most this often: enough points for a steady rate, few enough to keep.
constexpr std::int64_t kSampleEveryMs = 250;
constexpr std::int64_t kMinSpanMs = 1000;

// "12.5 tasks/s", or "12.5/s" where space is short.
std::string Rate(std::optional<double> per_second, bool short_unit) {
  const char* unit = short_unit ? "/s" : " tasks/s";
  if (!per_second) return fmt::format("?{}", unit);
  if (*per_second >= 100) return fmt::format("{:.0f}{}", *per_second, unit);
  return fmt::format("{:.1f}{}", *per_second, unit);
}

// Everything after the counts: "3 failed, 2 skipped, 4 running, 12.5 tasks/s, ETA 47s, elapsed
// 33s", with the counts that are zero and rarely so (skipped, awaiting retry) left out. `terse`:
// "12.5/s", and spaces instead of commas, for the bar.
std::string Details(const Progress& p, std::optional<double> per_second, bool terse) {
  const std::uint64_t done = p.done();
  const char* sep = terse ? " " : ", ";
  std::string text = fmt::format("{} failed", p.failed);
  if (p.skipped > 0) text += fmt::format("{}{} skipped", sep, p.skipped);
  text += fmt::format("{}{} running", sep, p.running);
  if (p.retrying > 0) text += fmt::format("{}{} awaiting retry", sep, p.retrying);
  std::string eta = "?";
  if (done >= p.total) {
    eta = "0s";
  } else if (per_second && *per_second > 0) {
    eta = FormatDurationMs(
        static_cast<std::int64_t>(static_cast<double>(p.total - done) / *per_second * 1000));
  }
  text += fmt::format("{0}{1}{0}ETA {2}{0}elapsed {3}", sep, Rate(per_second, terse), eta,
                      FormatDurationMs(p.elapsed_ms));
  return text;
}

// Rounded down: 100% only when every task has ended.
std::uint64_t Percent(const Progress& p) { return p.total > 0 ? p.done() * 100 / p.total : 100; }

}  // namespace

RateWindow::RateWindow(std::int64_t window_ms) : window_ms_(window_ms) {}

void RateWindow::Add(std::int64_t elapsed_ms, std::uint64_t done) {
  if (!samples_.empty() && elapsed_ms - samples_.back().first < kSampleEveryMs) {
    samples_.back().second = done;  // the newest count, at the older time: a little behind
    return;
  }
  samples_.emplace_back(elapsed_ms, done);
  // Keep one sample at or before the window's start, so that the span covers the whole window.
  while (samples_.size() > 2 && elapsed_ms - samples_[1].first >= window_ms_) samples_.pop_front();
}

std::int64_t RateWindow::SpanMs() const {
  return samples_.size() < 2 ? 0 : samples_.back().first - samples_.front().first;
}

std::optional<double> RateWindow::PerSecond() const {
  const std::int64_t span = SpanMs();
  if (span < kMinSpanMs) return std::nullopt;
  const std::uint64_t ended = samples_.back().second - samples_.front().second;
  return static_cast<double>(ended) * 1000.0 / static_cast<double>(span);
}

std::string ProgressText(const Progress& p, std::optional<double> per_second) {
  std::string text = fmt::format("{}/{} ({}%)", p.done(), p.total, Percent(p));
  if (p.done_earlier > 0) text += fmt::format(" ({} done earlier)", p.done_earlier);
  return text + ": " + Details(p, per_second, /*terse=*/false);
}

std::string ProgressBar(const Progress& p, std::optional<double> per_second, int width) {
  const std::uint64_t cells = static_cast<std::uint64_t>(width);
  const std::uint64_t filled = p.total > 0 ? p.done() * cells / p.total : cells;
  std::string text = "[" + std::string(filled, '#') + std::string(cells - filled, '.') + "] " +
                     fmt::format("{}% {}/{}", Percent(p), p.done(), p.total);
  if (p.done_earlier > 0) text += fmt::format(" ({} earlier)", p.done_earlier);
  return text + " " + Details(p, per_second, /*terse=*/true);
}

}  // namespace jobrunner
