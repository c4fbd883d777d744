// How the reader tells a torn last record (a crash) from corruption (damage to synced data).

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "journal/journal.h"
#include "journal_test_util.h"

using namespace jobrunner;
using namespace jobrunner::journal_test;
namespace fs = std::filesystem;

TEST_CASE("TruncatedAtEveryByteOffsetNeverCrashesAndKeepsWholeRecords") {
  TempDir dir;
  const std::vector<JournalRecord> records = SampleRun(12);
  const std::vector<std::uint64_t> ends = WriteJournal(dir / "journal", records);
  const std::string bytes = ReadFile(dir / "journal");
  const std::set<std::uint64_t> boundaries(ends.begin(), ends.end());
  const std::string cut_path = dir / "cut";
  for (std::uint64_t cut = 0; cut <= bytes.size(); ++cut) {
    INFO("cut at " << cut);
    WriteBytes(cut_path, bytes.substr(0, cut));
    if (cut < kJournalHeaderSize) {
      CHECK_THROWS_WITH(ReadJournal(cut_path), Catch::Contains("header is incomplete"));
      continue;
    }
    const JournalContents contents = ReadJournal(cut_path);
    const auto whole =
        static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
    CHECK(contents.records == Prefix(records, whole));
    CHECK(contents.valid_end == (whole == 0 ? kJournalHeaderSize : ends[whole - 1]));
    CHECK(contents.torn_tail.has_value() ==
          (cut != kJournalHeaderSize && boundaries.count(cut) == 0));
  }
}

TEST_CASE("A flipped byte in the last record drops it as a torn tail") {
  TempDir dir;
  const std::vector<JournalRecord> records = SampleRun(6);
  const std::vector<std::uint64_t> ends = WriteJournal(dir / "journal", records);
  const std::string bytes = ReadFile(dir / "journal");
  const std::uint64_t last = ends[ends.size() - 2];
  // From the CRC on: a damaged length is covered by the truncation and any-byte tests.
  for (std::uint64_t at = last + 4; at < bytes.size(); ++at) {
    INFO("flipped byte " << at);
    std::string damaged = bytes;
    damaged[at] ^= 0x5A;
    WriteBytes(dir / "damaged", damaged);
    const JournalContents contents = ReadJournal(dir / "damaged");
    CHECK(contents.records == Prefix(records, records.size() - 1));
    CHECK(contents.valid_end == last);
    REQUIRE(contents.torn_tail);
    CHECK_THAT(*contents.torn_tail, Catch::Contains("offset " + std::to_string(last)));
  }
}

TEST_CASE("A flipped byte in a middle record is corruption naming its offset") {
  TempDir dir;
  const std::vector<JournalRecord> records = SampleRun(6);
  const std::vector<std::uint64_t> ends = WriteJournal(dir / "journal", records);
  const std::string bytes = ReadFile(dir / "journal");
  const std::uint64_t start = ends[2], end = ends[3];
  for (std::uint64_t at = start + 4; at < end; ++at) {
    INFO("flipped byte " << at);
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    WriteBytes(dir / "damaged", damaged);
    CHECK_THROWS_WITH(ReadJournal(dir / "damaged"),
                      Catch::Contains("corrupt record at offset " + std::to_string(start)) &&
                          Catch::Contains("cannot be trusted"));
  }
}

TEST_CASE("A flipped byte anywhere never yields a record that was not written") {
  TempDir dir;
  const std::vector<JournalRecord> records = SampleRun(6);
  WriteJournal(dir / "journal", records);
  const std::string bytes = ReadFile(dir / "journal");
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    INFO("flipped byte " << at);
    std::string damaged = bytes;
    damaged[at] ^= 0x80;
    WriteBytes(dir / "damaged", damaged);
    try {
      const JournalContents contents = ReadJournal(dir / "damaged");
      CHECK(at >= kJournalHeaderSize);
      CHECK(contents.records == Prefix(records, contents.records.size()));
      CHECK(contents.records.size() < records.size());
    } catch (const JournalError&) {
      SUCCEED();
    }
  }
}

TEST_CASE("A tail of zeros left by a crash is torn, not corrupt") {
  TempDir dir;
  const std::string path = dir / "journal";
  const std::vector<JournalRecord> records = SampleRun(3);
  WriteJournal(path, records);
  const std::uint64_t size = fs::file_size(path);
  WriteBytes(path, ReadFile(path) + std::string(4096, '\0'));
  const JournalContents contents = ReadJournal(path);
  CHECK(contents.records == records);
  CHECK(contents.valid_end == size);
  REQUIRE(contents.torn_tail);
  CHECK_THAT(*contents.torn_tail, Catch::Contains("4096 bytes"));
}

TEST_CASE("A record with a valid CRC but the wrong payload size is torn only at the end") {
  TempDir dir;
  const std::string path = dir / "journal";
  const std::vector<JournalRecord> records = SampleRun(2);
  WriteJournal(path, records);
  const std::string good = ReadFile(path);
  const std::string bad = Frame("\x05short");  // a RunEnded payload has 13 bytes, not 5

  WriteBytes(path, good + bad);
  const JournalContents contents = ReadJournal(path);
  CHECK(contents.records == records);
  REQUIRE(contents.torn_tail);
  CHECK_THAT(*contents.torn_tail, Catch::Contains("payload does not match its type"));

  std::string tail;
  AppendFramedRecord(RunEndedRecord{}, tail);
  WriteBytes(path, good + bad + tail);
  CHECK_THROWS_WITH(ReadJournal(path),
                    Catch::Contains("corrupt record at offset " + std::to_string(good.size())));
}

TEST_CASE("An unknown record type with a valid CRC is an error even at the end") {
  TempDir dir;
  const std::string path = dir / "journal";
  WriteJournal(path, SampleRun(1));
  WriteBytes(path, ReadFile(path) + Frame("\x09"));
  CHECK_THROWS_WITH(ReadJournal(path), Catch::Contains("type 9, unknown in format version 2"));
}
