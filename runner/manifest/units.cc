#include "manifest/units.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace jobrunner {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads the leading run of digits of `text` into `value`; false when there is none. A number too
// large for 64 bits is read whole and sets `overflow`, so that the caller can still tell a
// well-formed but too large value from a malformed one.
bool TakeUnsigned(std::string_view& text, std::uint64_t& value, bool& overflow) {
  // Unlike strtoull, from_chars takes no sign and no leading space.
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::invalid_argument) return false;
  overflow = overflow || error == std::errc::result_out_of_range;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return true;
}

struct DurationUnit {
  std::string_view name;
  std::int64_t ms;
};

// Largest first: a sum must name its units in this order, each at most once, so "30m1h" and
// "1m1m" (almost certainly typos) are rejected rather than silently added up.
constexpr DurationUnit kDurationUnits[] = {
    {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};

// A number read from text: nullopt when the text is malformed, otherwise the value, or
// `too_large` when it is over the limit (or over 64 bits).
template <class T>
struct Reading {
  T value = 0;
  bool too_large = false;
};

std::optional<Reading<std::int64_t>> ReadDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  Reading<std::int64_t> reading;
  std::size_t next_unit = 0;  // index into kDurationUnits of the largest unit still allowed
  while (!text.empty()) {
    std::uint64_t amount = 0;
    if (!TakeUnsigned(text, amount, reading.too_large)) return std::nullopt;
    std::size_t unit_length = 0;
    while (unit_length < text.size() && !IsDigit(text[unit_length])) ++unit_length;
    const std::string_view unit = text.substr(0, unit_length);
    text.remove_prefix(unit_length);

    std::size_t u = next_unit;
    while (u < std::size(kDurationUnits) && kDurationUnits[u].name != unit) ++u;
    if (u == std::size(kDurationUnits)) return std::nullopt;  // unknown, missing or out of order
    next_unit = u + 1;

    std::int64_t part = 0;
    // The builtins compute exactly and report whether the result fits in an int64.
    if (__builtin_mul_overflow(amount, kDurationUnits[u].ms, &part) ||
        __builtin_add_overflow(reading.value, part, &reading.value)) {
      reading.too_large = true;
    }
  }
  reading.too_large = reading.too_large || reading.value > kMaxDurationMs;
  return reading;
}

std::optional<Reading<std::uint64_t>> ReadByteSize(std::string_view text) {
  Reading<std::uint64_t> reading;
  if (!TakeUnsigned(text, reading.value, reading.too_large)) return std::nullopt;

  std::string unit;  // what follows the number, in lower case
  for (char c : text) unit += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  constexpr std::string_view kPrefixes = "kmgt";  // 2^10, 2^20, 2^30, 2^40
  const std::size_t prefix = unit.empty() ? std::string_view::npos : kPrefixes.find(unit[0]);
  const int shift = prefix == std::string_view::npos ? 0 : 10 * static_cast<int>(prefix + 1);
  if (shift != 0) unit.erase(0, 1);
  // What may follow: nothing, "B", or, after a prefix, "iB".
  if (!(unit.empty() || unit == "b" || (shift != 0 && unit == "ib"))) return std::nullopt;

  reading.too_large = reading.too_large || reading.value > (kMaxByteSize >> shift);
  if (!reading.too_large) reading.value <<= shift;
  return reading;
}

// The limits as the messages below name them.
static_assert(kMaxDurationMs == std::int64_t{8760} * 3'600'000);
static_assert(kMaxByteSize == std::uint64_t{1024} << 40);

}  // namespace

std::optional<std::int64_t> ParseDurationMs(std::string_view text) {
  const std::optional<Reading<std::int64_t>> reading = ReadDuration(text);
  if (!reading || reading->too_large) return std::nullopt;
  return reading->value;
}

std::optional<std::string> DurationOverLimit(std::string_view text) {
  const std::optional<Reading<std::int64_t>> reading = ReadDuration(text);
  if (!reading || !reading->too_large) return std::nullopt;
  return std::string(text) + " is longer than 8760h (365 days), the longest duration accepted";
}

std::optional<std::uint64_t> ParseByteSize(std::string_view text) {
  const std::optional<Reading<std::uint64_t>> reading = ReadByteSize(text);
  if (!reading || reading->too_large) return std::nullopt;
  return reading->value;
}

std::optional<std::string> ByteSizeOverLimit(std::string_view text) {
  const std::optional<Reading<std::uint64_t>> reading = ReadByteSize(text);
  if (!reading || !reading->too_large) return std::nullopt;
  return std::string(text) + " is larger than 1024T, the largest size accepted";
}

std::uint64_t FailureLimit::Of(std::uint64_t tasks) const {
  if (percent < 0) return count;
  const double share = std::ceil(static_cast<double>(tasks) * percent / 100.0);
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(share));
}

std::optional<FailureLimit> ParseFailureLimit(std::string_view text) {
  FailureLimit limit;
  limit.text = std::string(text);
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) text.remove_suffix(1);
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::size_t dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (text.front() == '.' || text.back() == '.') return std::nullopt;
  if (!percent) {
    if (dots > 0) return std::nullopt;
    limit.count = std::stoull(std::string(text));
    if (limit.count == 0) return std::nullopt;
    return limit;
  }
  if (dots > 1) return std::nullopt;
  limit.percent = std::stod(std::string(text));
  if (limit.percent <= 0 || limit.percent > 100) return std::nullopt;
  return limit;
}

std::string FormatByteSize(std::uint64_t bytes) {
  constexpr std::string_view kUnits = "KMGT";
  int unit = -1;
  while (unit + 1 < static_cast<int>(kUnits.size()) && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + (unit < 0 ? "" : std::string(1, kUnits[unit]));
}

std::string FormatDurationMs(std::int64_t ms) {
  // The magnitude as unsigned, so that INT64_MIN has one too.
  const std::uint64_t u = ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : ms;
  const std::string sign = ms < 0 ? "-" : "";
  char buffer[48];
  if (u < 1'000) {
    std::snprintf(buffer, sizeof buffer, "%llums", static_cast<unsigned long long>(u));
  } else if (u < 60'000) {
    // Tenths are truncated, not rounded, so 59.99 s never shows as "60.0s".
    const unsigned long long tenths = u / 100;
    if (tenths % 10 == 0) {
      std::snprintf(buffer, sizeof buffer, "%llus", tenths / 10);
    } else {
      std::snprintf(buffer, sizeof buffer, "%llu.%llus", tenths / 10, tenths % 10);
    }
  } else if (u < 3'600'000) {
    const unsigned long long seconds = u / 1'000;
    std::snprintf(buffer, sizeof buffer, "%llum%02llus", seconds / 60, seconds % 60);
  } else {
    const unsigned long long minutes = u / 60'000;
    std::snprintf(buffer, sizeof buffer, "%lluh%02llum", minutes / 60, minutes % 60);
  }
  return sign + buffer;
}

}  // namespace jobrunner
