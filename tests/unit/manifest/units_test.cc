#include "manifest/units.h"

#include <catch2/catch.hpp>

using jobrunner::FormatByteSize;
using jobrunner::FormatDurationMs;
using jobrunner::ParseByteSize;
using jobrunner::ParseDurationMs;

TEST_CASE("A duration with one unit is read as milliseconds") {
  CHECK(ParseDurationMs("500ms") == 500);
  CHECK(ParseDurationMs("30s") == 30'000);
  CHECK(ParseDurationMs("10m") == 600'000);
  CHECK(ParseDurationMs("2h") == 7'200'000);
  CHECK(ParseDurationMs("0s") == 0);
  CHECK(ParseDurationMs("007s") == 7'000);
}

TEST_CASE("A duration may add up units written from largest to smallest") {
  CHECK(ParseDurationMs("1h30m") == 5'400'000);
  CHECK(ParseDurationMs("1m30s") == 90'000);
  CHECK(ParseDurationMs("1h2m3s4ms") == 3'723'004);
  CHECK(ParseDurationMs("90m") == 5'400'000);
}

TEST_CASE("A duration without a known unit after every number is rejected") {
  for (const char* text :
       {"", "10", "10x", "ms", "s", "1h30", "10S", "10 s", "1.5s", "1,5s", "10sec", "1d"}) {
    INFO(text);
    CHECK_FALSE(ParseDurationMs(text));
  }
}

TEST_CASE("A duration with a sign, spaces or units out of order is rejected") {
  for (const char* text :
       {"-5s", "+5s", " 5s", "5s ", "1h 30m", "30m1h", "1m1m", "1s1m", "5ms5s"}) {
    INFO(text);
    CHECK_FALSE(ParseDurationMs(text));
  }
}

TEST_CASE("A duration longer than a year is rejected, and said to be too long") {
  CHECK(ParseDurationMs("8760h") == jobrunner::kMaxDurationMs);
  CHECK(ParseDurationMs("525600m") == jobrunner::kMaxDurationMs);
  // 2562048h passed once, and overflowed as nanoseconds: every attempt timed out at once.
  for (const char* text :
       {"8760h1ms", "8761h", "2562048h", "9223372036854775807ms", "9223372036854775808ms",
        "99999999999999999999999s", "2562047788016h", "2562047788015h1000000000m"}) {
    INFO(text);
    CHECK_FALSE(ParseDurationMs(text));
    CHECK(jobrunner::DurationOverLimit(text) ==
          std::string(text) + " is longer than 8760h (365 days), the longest duration accepted");
  }
}

TEST_CASE("A malformed duration is not said to be too long") {
  for (const char* text : {"", "10", "1d", "99999999999999999999999", "-99999999999999999999h",
                           "99999999999999999999x", "8761h1h"}) {
    INFO(text);
    CHECK_FALSE(ParseDurationMs(text));
    CHECK_FALSE(jobrunner::DurationOverLimit(text));
  }
  CHECK_FALSE(jobrunner::DurationOverLimit("8760h"));
}

TEST_CASE("A byte size is a number with an optional binary unit") {
  CHECK(ParseByteSize("0") == 0u);
  CHECK(ParseByteSize("512") == 512u);
  CHECK(ParseByteSize("512B") == 512u);
  CHECK(ParseByteSize("64K") == 64u << 10);
  CHECK(ParseByteSize("100M") == 100u << 20);
  CHECK(ParseByteSize("2G") == 2ull << 30);
  CHECK(ParseByteSize("3T") == 3ull << 40);
}

TEST_CASE("A byte size unit may be written in any case, with B or iB after it") {
  CHECK(ParseByteSize("64k") == 64u << 10);
  CHECK(ParseByteSize("64KB") == 64u << 10);
  CHECK(ParseByteSize("64kb") == 64u << 10);
  CHECK(ParseByteSize("64KiB") == 64u << 10);
  CHECK(ParseByteSize("64kIb") == 64u << 10);
  CHECK(ParseByteSize("1gib") == 1ull << 30);
  CHECK(ParseByteSize("7b") == 7u);
}

TEST_CASE("A byte size with garbage, a sign or a fraction is rejected") {
  for (const char* text : {"", "K", "B", "12X", "12 K", " 12", "12K ", "-1", "+1", "1.5K", "12iB",
                           "12KK", "12KBB", "12KiBB", "12P", "0x10"}) {
    INFO(text);
    CHECK_FALSE(ParseByteSize(text));
  }
}

TEST_CASE("A byte size over 1024T is rejected, and said to be too large") {
  CHECK(ParseByteSize("1024T") == jobrunner::kMaxByteSize);
  CHECK(ParseByteSize("1125899906842624") == jobrunner::kMaxByteSize);
  for (const char* text : {"1025T", "1125899906842625", "18446744073709551615",
                           "18446744073709551616", "99999999999999999999999K", "16777216G"}) {
    INFO(text);
    CHECK_FALSE(ParseByteSize(text));
    CHECK(jobrunner::ByteSizeOverLimit(text) ==
          std::string(text) + " is larger than 1024T, the largest size accepted");
  }
  for (const char* text : {"", "12X", "99999999999999999999999Q", "-5"}) {
    INFO(text);
    CHECK_FALSE(jobrunner::ByteSizeOverLimit(text));
  }
}

TEST_CASE("A byte size is formatted in the largest unit that divides it, and reads back") {
  CHECK(FormatByteSize(0) == "0");
  CHECK(FormatByteSize(1000) == "1000");
  CHECK(FormatByteSize(512ull << 20) == "512M");
  CHECK(FormatByteSize(1536ull << 10) == "1536K");
  CHECK(FormatByteSize(2ull << 30) == "2G");
  CHECK(FormatByteSize(3ull << 50) == "3072T");
  for (std::uint64_t bytes : {1000ull, 512ull << 20, 1536ull << 10, 3ull << 40}) {
    CHECK(ParseByteSize(FormatByteSize(bytes)) == bytes);
  }
}

TEST_CASE("Short durations are formatted in milliseconds") {
  CHECK(FormatDurationMs(0) == "0ms");
  CHECK(FormatDurationMs(250) == "250ms");
  CHECK(FormatDurationMs(999) == "999ms");
}

TEST_CASE("Durations under a minute are formatted in seconds with tenths") {
  CHECK(FormatDurationMs(1'000) == "1s");
  CHECK(FormatDurationMs(1'500) == "1.5s");
  CHECK(FormatDurationMs(1'549) == "1.5s");
  CHECK(FormatDurationMs(59'999) == "59.9s");
}

TEST_CASE("Longer durations are formatted as minutes and seconds, then hours and minutes") {
  CHECK(FormatDurationMs(60'000) == "1m00s");
  CHECK(FormatDurationMs(123'000) == "2m03s");
  CHECK(FormatDurationMs(3'599'999) == "59m59s");
  CHECK(FormatDurationMs(3'600'000) == "1h00m");
  CHECK(FormatDurationMs(3'720'000) == "1h02m");
  CHECK(FormatDurationMs(100 * 3'600'000LL + 5 * 60'000) == "100h05m");
}

TEST_CASE("Negative durations are formatted with a minus sign") {
  CHECK(FormatDurationMs(-1'500) == "-1.5s");
  CHECK(FormatDurationMs(INT64_MIN).front() == '-');
}
