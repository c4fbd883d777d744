// How the reader tells a torn last record (a crash) from corruption (damage to synced data). The
// journals are bytes in memory, parsed by the rules ReadJournal applies to a file, so that every
// offset and every byte can be tried.

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "journal/journal.h"
#include "journal_test_util.h"

using namespace jobrunner;
using namespace jobrunner::journal_test;
namespace fs = std::filesystem;

namespace {
// The name the damaged journals go by in messages.
const std::string kName = "journal";

JournalContents Parse(std::string_view bytes) { return ParseJournal(bytes, kName); }
}  // namespace

TEST_CASE("A journal built in memory holds the bytes the writer writes") {
  TempDir dir;
  const std::vector<JournalRecord> records = SampleRun(12);
  const std::vector<std::uint64_t> ends = WriteJournal(dir / "journal", records);
  const JournalBytes journal = MakeJournalBytes(records);
  CHECK(journal.bytes == ReadFile(dir / "journal"));
  CHECK(journal.ends == ends);
}

TEST_CASE("TruncatedAtEveryByteOffsetNeverCrashesAndKeepsWholeRecords") {
  const std::vector<JournalRecord> records = SampleRun(12);
  const auto [bytes, ends] = MakeJournalBytes(records);
  const std::set<std::uint64_t> boundaries(ends.begin(), ends.end());
  for (std::uint64_t cut = 0; cut <= bytes.size(); ++cut) {
    INFO("cut at " << cut);
    const std::string_view kept = std::string_view(bytes).substr(0, cut);
    if (cut < kJournalHeaderSize) {
      CHECK_THROWS_WITH(Parse(kept), Catch::Contains("header is incomplete"));
      continue;
    }
    const JournalContents contents = Parse(kept);
    const auto whole =
        static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
    CHECK(contents.records == Prefix(records, whole));
    CHECK(contents.valid_end == (whole == 0 ? kJournalHeaderSize : ends[whole - 1]));
    CHECK(contents.torn_tail.has_value() ==
          (cut != kJournalHeaderSize && boundaries.count(cut) == 0));
  }
}

TEST_CASE("A flipped byte in the last record drops it as a torn tail") {
  const std::vector<JournalRecord> records = SampleRun(6);
  const auto [bytes, ends] = MakeJournalBytes(records);
  const std::uint64_t last = ends[ends.size() - 2];
  // From the CRC on: a damaged length is covered by the truncation and any-byte tests.
  for (std::uint64_t at = last + 4; at < bytes.size(); ++at) {
    INFO("flipped byte " << at);
    std::string damaged = bytes;
    damaged[at] ^= 0x5A;
    const JournalContents contents = Parse(damaged);
    CHECK(contents.records == Prefix(records, records.size() - 1));
    CHECK(contents.valid_end == last);
    REQUIRE(contents.torn_tail);
    CHECK_THAT(*contents.torn_tail, Catch::Contains("offset " + std::to_string(last)));
  }
}

TEST_CASE("A flipped byte in a middle record is corruption naming its offset") {
  const auto [bytes, ends] = MakeJournalBytes(SampleRun(6));
  const std::uint64_t start = ends[2], end = ends[3];
  for (std::uint64_t at = start + 4; at < end; ++at) {
    INFO("flipped byte " << at);
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    CHECK_THROWS_WITH(Parse(damaged),
                      Catch::Contains("corrupt record at offset " + std::to_string(start)) &&
                          Catch::Contains("cannot be trusted"));
  }
}

TEST_CASE("A flipped byte anywhere never yields a record that was not written") {
  const std::vector<JournalRecord> records = SampleRun(6);
  const std::string bytes = MakeJournalBytes(records).bytes;
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    INFO("flipped byte " << at);
    std::string damaged = bytes;
    damaged[at] ^= 0x80;
    try {
      const JournalContents contents = Parse(damaged);
      CHECK(at >= kJournalHeaderSize);
      CHECK(contents.records == Prefix(records, contents.records.size()));
      CHECK(contents.records.size() < records.size());
    } catch (const JournalError&) {
      SUCCEED();
    }
  }
}

TEST_CASE("A tail of zeros left by a crash is torn, not corrupt") {
  const std::vector<JournalRecord> records = SampleRun(3);
  const std::string bytes = MakeJournalBytes(records).bytes;
  const std::uint64_t size = bytes.size();
  const JournalContents contents = Parse(bytes + std::string(4096, '\0'));
  CHECK(contents.records == records);
  CHECK(contents.valid_end == size);
  REQUIRE(contents.torn_tail);
  CHECK_THAT(*contents.torn_tail, Catch::Contains("4096 bytes"));
}

TEST_CASE("A record with a valid CRC but the wrong payload size is torn only at the end") {
  const std::vector<JournalRecord> records = SampleRun(2);
  const std::string good = MakeJournalBytes(records).bytes;
  const std::string bad = Frame("\x05short");  // a RunEnded payload has 13 bytes, not 5

  const JournalContents contents = Parse(good + bad);
  CHECK(contents.records == records);
  REQUIRE(contents.torn_tail);
  CHECK_THAT(*contents.torn_tail, Catch::Contains("payload does not match its type"));

  std::string tail;
  AppendFramedRecord(RunEndedRecord{}, tail);
  CHECK_THROWS_WITH(Parse(good + bad + tail),
                    Catch::Contains("corrupt record at offset " + std::to_string(good.size())));
}

TEST_CASE("An unknown record type with a valid CRC is an error even at the end") {
  const std::string bytes = MakeJournalBytes(SampleRun(1)).bytes + Frame("\x0b");
  CHECK_THROWS_WITH(Parse(bytes), Catch::Contains("type 11, unknown in format version " +
                                                  std::to_string(kJournalFormatVersion)));
}
