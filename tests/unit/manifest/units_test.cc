#include "manifest/units.h"

#include <catch2/catch.hpp>

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

TEST_CASE("A duration that does not fit in 64 bits of milliseconds is rejected") {
  CHECK(ParseDurationMs("9223372036854775807ms") == INT64_MAX);
  CHECK_FALSE(ParseDurationMs("9223372036854775808ms"));
  CHECK_FALSE(ParseDurationMs("99999999999999999999999s"));
  CHECK(ParseDurationMs("2562047788015h") == 2562047788015 * 3'600'000);
  CHECK_FALSE(ParseDurationMs("2562047788016h"));
  CHECK_FALSE(ParseDurationMs("2562047788015h1000000000m"));
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

TEST_CASE("A byte size that does not fit in 64 bits is rejected") {
  CHECK(ParseByteSize("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(ParseByteSize("18446744073709551616"));
  CHECK(ParseByteSize("16777215T") == 16777215ull << 40);
  CHECK_FALSE(ParseByteSize("16777216T"));
  CHECK_FALSE(ParseByteSize("17179869184G"));
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
