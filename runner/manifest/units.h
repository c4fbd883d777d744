#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobrunner {

// Durations as users write them: "500ms", "30s", "10m", "2h", and sums such as "1h30m".
// Returns milliseconds, or nullopt for anything else (no unit, negative, overflow, unknown unit).
std::optional<std::int64_t> ParseDurationMs(std::string_view text);

// Byte sizes: "512", "64K", "100M", "2G" (powers of 1024; an optional trailing "B" or "iB").
std::optional<std::uint64_t> ParseByteSize(std::string_view text);

// "1.5s", "250ms", "2m03s", "1h02m": for progress lines and the summary.
std::string FormatDurationMs(std::int64_t ms);

}  // namespace jobrunner
