#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobrunner {

// The longest duration accepted anywhere (timeouts, grace periods, back-off, time limits, kinds'
// arguments): 8760h, a year. No batch job or task limit comes near it, so a longer one is a typo;
// and every deadline computed from one (now + timeout + kill grace, in nanoseconds of the
// monotonic clock, which lasts 292 years) stays far from overflowing.
inline constexpr std::int64_t kMaxDurationMs = std::int64_t{365} * 24 * 3'600'000;

// The largest byte size accepted (memory:, --max-output): 1024T (2^50 bytes, a pebibyte), more
// than any node has; sums of sizes (the memory a worker's tasks hold) then stay far below 2^64.
inline constexpr std::uint64_t kMaxByteSize = std::uint64_t{1} << 50;

// Durations as users write them: "500ms", "30s", "10m", "2h", and sums such as "1h30m".
// Returns milliseconds, or nullopt for anything else (no unit, negative, unknown unit, or longer
// than kMaxDurationMs).
std::optional<std::int64_t> ParseDurationMs(std::string_view text);
// For a well-formed duration that ParseDurationMs refused as too long, what to say instead of
// "bad duration": "2562048h is longer than 8760h (365 days), the longest duration accepted";
// nullopt for any other text.
std::optional<std::string> DurationOverLimit(std::string_view text);

// Byte sizes: "512", "64K", "100M", "2G" (powers of 1024; an optional trailing "B" or "iB"), at
// most kMaxByteSize.
std::optional<std::uint64_t> ParseByteSize(std::string_view text);
// As DurationOverLimit, for sizes: "2048T is larger than 1024T, the largest size accepted".
std::optional<std::string> ByteSizeOverLimit(std::string_view text);

// How many tasks may fail for good before a run stops starting new ones (--max-failures, the
// manifest's `max_failures`): a count, "10", or a share of the run's tasks, "5%" or "0.5%".
struct FailureLimit {
  std::uint64_t count = 0;
  double percent = -1;  // >= 0: a share, rounded up, and at least 1
  std::string text;     // as written

  std::uint64_t Of(std::uint64_t tasks) const;
};
std::optional<FailureLimit> ParseFailureLimit(std::string_view text);

// A size as ParseByteSize reads it back: "512M", "2G", "1536K"; the largest unit that divides it,
// or plain bytes.
std::string FormatByteSize(std::uint64_t bytes);

// "1.5s", "250ms", "2m03s", "1h02m": for progress lines and the summary.
std::string FormatDurationMs(std::int64_t ms);

}  // namespace jobrunner
