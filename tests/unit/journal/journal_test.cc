#include "journal/journal.h"

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <limits>

#include "journal_test_util.h"

using namespace jobrunner;
using namespace jobrunner::journal_test;
namespace fs = std::filesystem;

TEST_CASE("CRC-32C of the standard check string is the Castagnoli check value") {
  CHECK(Crc32c("123456789") == 0xE3069283u);
  CHECK(Crc32cPortable("123456789") == 0xE3069283u);
}

TEST_CASE("CRC-32C with the CPU's instruction equals the portable one at every length and offset") {
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>((i * 167 + 13) & 0xFF));
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t length = 0; offset + length <= bytes.size(); length += 1 + length / 8) {
      const std::string_view part = std::string_view(bytes).substr(offset, length);
      INFO("offset " << offset << ", length " << length);
      CHECK(Crc32c(part) == Crc32cPortable(part));
    }
  }
  CHECK(Crc32c("") == 0u);
}

TEST_CASE("Every outcome has the journal byte of the same name") {
  CHECK(ToJournalOutcome(Outcome::kSucceeded) == JournalOutcome::kSucceeded);
  CHECK(ToJournalOutcome(Outcome::kFailed) == JournalOutcome::kFailed);
  CHECK(ToJournalOutcome(Outcome::kSignaled) == JournalOutcome::kSignaled);
  CHECK(ToJournalOutcome(Outcome::kTimedOut) == JournalOutcome::kTimedOut);
  CHECK(ToJournalOutcome(Outcome::kSpawnError) == JournalOutcome::kSpawnError);
  CHECK(ToJournalOutcome(Outcome::kInterrupted) == JournalOutcome::kInterrupted);
}

TEST_CASE("Every record type survives a round trip with values at their extremes") {
  constexpr auto kU64 = std::numeric_limits<std::uint64_t>::max();
  constexpr auto kU32 = std::numeric_limits<std::uint32_t>::max();
  constexpr auto kI32Min = std::numeric_limits<std::int32_t>::min();
  constexpr auto kI32Max = std::numeric_limits<std::int32_t>::max();
  constexpr auto kI64Min = std::numeric_limits<std::int64_t>::min();
  constexpr auto kI64Max = std::numeric_limits<std::int64_t>::max();
  const TaskFinishedRecord lowest{
      0, 0, kI32Min, JournalOutcome::kSucceeded, kI32Min, kI32Min, kI64Min, kI64Min, false};
  const TaskFinishedRecord highest{kU64,    kU32, kI32Max, JournalOutcome::kInterrupted, -1, 64,
                                   kI64Max, -1,   true};
  const std::string longest(kMaxRecordLength - 1 - 8 - 4, 'x');
  const std::vector<JournalRecord> records{RunStartedRecord{},
                                           RunStartedRecord{kU64, kU32, kU32},
                                           TaskDispatchedRecord{},
                                           TaskDispatchedRecord{kU64, kU32, -1},
                                           lowest,
                                           highest,
                                           TaskSkippedRecord{},
                                           TaskSkippedRecord{kU64, std::string("nul\0inside", 10)},
                                           TaskSkippedRecord{7, longest},
                                           RunEndedRecord{},
                                           RunEndedRecord{kU64, kI32Min, true},
                                           TaskOutputRecord{},
                                           TaskOutputRecord{kU64, kU32, "{\"n\": 1}", "data/x"},
                                           WorkerJoinedRecord{},
                                           WorkerJoinedRecord{kI32Max, "node-1", kI32Min, kU32},
                                           TaskStartedRecord{},
                                           TaskStartedRecord{kU64, kU32, kI64Min, "sim-7"},
                                           WorkerRetiredRecord{},
                                           WorkerRetiredRecord{kI32Min, "5 tasks failed"}};
  TempDir dir;
  const std::string path = dir / "journal";
  {
    JournalWriter writer = JournalWriter::Create(path, kU64, 0);
    for (const JournalRecord& record : records) writer.Add(record);
    writer.Sync();
  }
  const JournalContents contents = ReadJournal(path);
  CHECK(contents.format_version == kJournalFormatVersion);
  CHECK(contents.manifest_hash == kU64);
  CHECK(contents.task_count == 0);
  CHECK(contents.records == records);
  CHECK(contents.valid_end == fs::file_size(path));
  CHECK_FALSE(contents.torn_tail);
}

TEST_CASE("A payload that breaks its type's layout does not decode") {
  std::string framed;
  AppendFramedRecord(Finished(1, JournalOutcome::kSucceeded), framed);
  const std::string body = framed.substr(kRecordFrameSize);
  REQUIRE(DecodeRecord(body));
  const std::size_t outcome_at = 1 + 8 + 4 + 4;
  const std::size_t will_retry_at = body.size() - 1;
  for (auto [at, value] : {std::pair{outcome_at, kJournalOutcomeCount}, {will_retry_at, 2}}) {
    std::string broken = body;
    broken[at] = static_cast<char>(value);
    CHECK_FALSE(DecodeRecord(broken));
  }
  CHECK_FALSE(DecodeRecord(body + '\0'));
  CHECK_FALSE(DecodeRecord(body.substr(0, body.size() - 1)));
  CHECK_FALSE(DecodeRecord(""));
  // A skip reason claiming more bytes than the payload holds.
  CHECK_FALSE(DecodeRecord(std::string("\x04", 1) + std::string(8, '\0') + "\x05\0\0\0abcd"));
}

TEST_CASE("Many records stream back in order without being collected") {
  TempDir dir;
  const std::string path = dir / "journal";
  const std::vector<JournalRecord> records = SampleRun(10'000);
  WriteJournal(path, records);
  std::size_t seen = 0;
  bool in_order = true;
  const JournalInfo info = ReadJournal(path, [&](const JournalRecord& record) {
    in_order = in_order && record == records[seen];
    ++seen;
  });
  CHECK(seen == records.size());
  CHECK(in_order);
  CHECK(info.task_count == records.size());
  CHECK(info.valid_end == fs::file_size(path));
}

TEST_CASE("A journal with only a header has no records and no torn tail") {
  TempDir dir;
  const std::string path = dir / "journal";
  JournalWriter::Create(path, 42, 10);
  const JournalContents contents = ReadJournal(path);
  CHECK(fs::file_size(path) == kJournalHeaderSize);
  CHECK(contents.manifest_hash == 42);
  CHECK(contents.task_count == 10);
  CHECK(contents.records.empty());
  CHECK(contents.valid_end == kJournalHeaderSize);
  CHECK_FALSE(contents.torn_tail);
}

TEST_CASE("A bad header is an error saying what is wrong with it") {
  TempDir dir;
  const std::string path = dir / "journal";
  JournalWriter::Create(path, 1, 2);
  const std::string header = ReadFile(path);

  std::string wrong_magic = header;
  wrong_magic[0] = 'X';
  WriteBytes(path, wrong_magic);
  CHECK_THROWS_WITH(ReadJournal(path), Catch::Contains("not a jobrunner journal"));

  std::string version_99 = header;
  version_99[8] = 99;
  version_99.replace(28, 4, LittleEndian32(Crc32c(version_99.substr(0, 28))));
  WriteBytes(path, version_99);
  CHECK_THROWS_WITH(ReadJournal(path), Catch::Contains("format version 99 is not supported"));

  for (std::size_t at = 12; at < kJournalHeaderSize; ++at) {
    std::string damaged = header;
    damaged[at] ^= 0x10;
    WriteBytes(path, damaged);
    CHECK_THROWS_WITH(ReadJournal(path), Catch::Contains("header is corrupt"));
  }

  std::string version_0 = header;
  version_0[8] = 0;
  version_0.replace(28, 4, LittleEndian32(Crc32c(version_0.substr(0, 28))));
  WriteBytes(path, version_0);
  CHECK_THROWS_WITH(ReadJournal(path), Catch::Contains("format version 0 is not supported"));

  WriteBytes(path, "");
  CHECK_THROWS_WITH(ReadJournal(path), Catch::Contains("header is incomplete (0 of 32 bytes); "
                                                       "the run wrote nothing resumable"));
  CHECK_THROWS_AS(ReadJournal(dir / "missing"), JournalError);
}

TEST_CASE("Version-1 and version-2 journals still read, and resuming one appends newer records") {
  for (const char old_version : {1, 2}) {
    TempDir dir;
    const std::string path = dir / "journal";
    JournalWriter::Create(path, 5, 3);
    std::string old = ReadFile(path);
    old[8] = old_version;
    old.replace(28, 4, LittleEndian32(Crc32c(old.substr(0, 28))));
    AppendFramedRecord(Finished(0, JournalOutcome::kSucceeded), old);
    WriteBytes(path, old);
    const JournalContents before = ReadJournal(path);
    CHECK(before.format_version == static_cast<std::uint32_t>(old_version));
    CHECK(before.manifest_hash == 5);
    REQUIRE(before.records.size() == 1);
    const std::vector<JournalRecord> newer{TaskOutputRecord{1, 1, "7", ""},
                                           WorkerJoinedRecord{1, "node-2", 4321, 2},
                                           TaskStartedRecord{2, 1, 1700000000000, "t-2"},
                                           WorkerRetiredRecord{3, "5 tasks failed there"}};
    {
      JournalWriter writer = JournalWriter::Append(path, before.valid_end);
      for (const JournalRecord& record : newer) writer.Add(record);
      writer.Sync();
    }
    const JournalContents after = ReadJournal(path);
    REQUIRE(after.records.size() == 5);
    CHECK(std::vector<JournalRecord>(after.records.begin() + 1, after.records.end()) == newer);
  }
}

TEST_CASE("Create refuses a file that already exists and leaves it alone") {
  TempDir dir;
  const std::string path = dir / "journal";
  WriteBytes(path, "precious");
  CHECK_THROWS_WITH(JournalWriter::Create(path, 1, 1), Catch::Contains("File exists"));
  CHECK(ReadFile(path) == "precious");
}

TEST_CASE("A journal appears only with its whole header, replacing a temporary file left behind") {
  TempDir dir;
  const std::string path = dir / "journal";
  // What a start killed while writing the header leaves: the temporary file, never `journal`.
  WriteBytes(path + ".new", "JRJOU");
  {
    JournalWriter writer = JournalWriter::Create(path, 7, 3);
    CHECK_FALSE(fs::exists(path + ".new"));
    CHECK(fs::file_size(path) == kJournalHeaderSize);
    writer.Add(RunEndedRecord{});
  }
  const JournalContents contents = ReadJournal(path);
  CHECK(contents.manifest_hash == 7);
  CHECK(contents.task_count == 3);
  CHECK(contents.records.size() == 1);
}

TEST_CASE("A journal is never created, appended to or read through a link") {
  TempDir dir;
  TempDir outside;
  WriteJournal(outside / "journal", SampleRun(2));
  const std::uintmax_t size = fs::file_size(outside / "journal");
  fs::create_symlink(outside / "journal", dir / "journal");
  fs::create_symlink(outside / "elsewhere", dir / "other.new");
  CHECK_THROWS_WITH(JournalWriter::Create(dir / "journal", 1, 1), Catch::Contains("File exists"));
  CHECK_THROWS_WITH(JournalWriter::Append(dir / "journal", kJournalHeaderSize),
                    Catch::Contains("symbolic link"));
  CHECK_THROWS_WITH(ReadJournal(dir / "journal"), Catch::Contains("symbolic link"));
  // A link at the temporary name is removed (not followed) and the journal made beside it.
  JournalWriter::Create(dir / "other", 1, 1);
  CHECK_FALSE(fs::exists(outside / "elsewhere"));
  CHECK(fs::file_size(outside / "journal") == size);
}

TEST_CASE("Append after a torn tail cuts it off, and later reads see old and new records") {
  TempDir dir;
  const std::string path = dir / "journal";
  const std::vector<JournalRecord> first = SampleRun(4);
  WriteJournal(path, first);
  std::string torn;
  AppendFramedRecord(Finished(99, JournalOutcome::kSucceeded), torn);
  WriteBytes(path, ReadFile(path) + torn.substr(0, 20));

  const JournalContents before = ReadJournal(path);
  REQUIRE(before.torn_tail);
  const std::vector<JournalRecord> second{RunStartedRecord{5, 2, 8}, TaskDispatchedRecord{3, 2, 5}};
  {
    JournalWriter writer = JournalWriter::Append(path, before.valid_end);
    CHECK(fs::file_size(path) == before.valid_end);
    for (const JournalRecord& record : second) writer.Add(record);
    writer.Sync();
  }
  const JournalContents after = ReadJournal(path);
  std::vector<JournalRecord> both = first;
  both.insert(both.end(), second.begin(), second.end());
  CHECK(after.records == both);
  CHECK_FALSE(after.torn_tail);
  CHECK(after.valid_end == fs::file_size(path));
}

TEST_CASE("Append refuses an end inside the header or past the end of the file") {
  TempDir dir;
  const std::string path = dir / "journal";
  WriteJournal(path, SampleRun(1));
  const std::uint64_t size = fs::file_size(path);
  CHECK_THROWS_AS(JournalWriter::Append(path, kJournalHeaderSize - 1), JournalError);
  CHECK_THROWS_AS(JournalWriter::Append(path, size + 1), JournalError);
  CHECK_THROWS_AS(JournalWriter::Append(dir / "missing", kJournalHeaderSize), JournalError);
  CHECK(fs::file_size(path) == size);
}

TEST_CASE("Added records stay in memory until Sync writes them all") {
  TempDir dir;
  const std::string path = dir / "journal";
  JournalWriter writer = JournalWriter::Create(path, 1, 3);
  for (std::uint64_t i = 0; i < 3; ++i) writer.Add(TaskDispatchedRecord{i, 1, 1});
  CHECK(fs::file_size(path) == kJournalHeaderSize);
  writer.Sync();
  CHECK(ReadJournal(path).records.size() == 3);
}

TEST_CASE("Records framed elsewhere are written after those added before them") {
  TempDir dir;
  const std::string path = dir / "journal";
  JournalWriter writer = JournalWriter::Create(path, 1, 3);
  writer.Add(TaskDispatchedRecord{0, 1, 1});
  std::string framed;
  AppendFramedRecord(TaskDispatchedRecord{1, 1, 1}, framed);
  AppendFramedRecord(TaskDispatchedRecord{2, 1, 1}, framed);
  writer.AddFramed(framed);
  writer.Sync();
  const std::vector<JournalRecord> expected{
      TaskDispatchedRecord{0, 1, 1}, TaskDispatchedRecord{1, 1, 1}, TaskDispatchedRecord{2, 1, 1}};
  CHECK(ReadJournal(path).records == expected);
}

TEST_CASE("Destroying or replacing a writer syncs what it holds, and moving it moves the file") {
  TempDir dir;
  const std::string path = dir / "journal";
  {
    JournalWriter first = JournalWriter::Create(path, 1, 2);
    first.Add(TaskDispatchedRecord{0, 1, 1});
    JournalWriter second = std::move(first);
    second.Add(TaskDispatchedRecord{1, 1, 1});
    JournalWriter third = JournalWriter::Create(dir / "other", 1, 0);
    third.Add(RunEndedRecord{});
    third = std::move(second);
  }
  CHECK(ReadJournal(dir / "other").records == std::vector<JournalRecord>{RunEndedRecord{}});
  const std::vector<JournalRecord> expected{TaskDispatchedRecord{0, 1, 1},
                                            TaskDispatchedRecord{1, 1, 1}};
  CHECK(ReadJournal(path).records == expected);
}

TEST_CASE("A record over the length limit is refused and leaves the writer usable") {
  TempDir dir;
  const std::string path = dir / "journal";
  JournalWriter writer = JournalWriter::Create(path, 1, 1);
  CHECK_THROWS_WITH(writer.Add(TaskSkippedRecord{0, std::string(kMaxRecordLength, 'x')}),
                    Catch::Contains("exceeds the limit"));
  writer.Add(TaskSkippedRecord{0, "fits"});
  writer.Sync();
  const std::vector<JournalRecord> expected{TaskSkippedRecord{0, "fits"}};
  CHECK(ReadJournal(path).records == expected);
}

TEST_CASE("A full disk makes Sync throw with the system's reason, every time") {
  // /dev/full fails every write with ENOSPC, as a full disk would.
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  JournalWriter writer = JournalWriter::Adopt(UniqueFd(fd), "/dev/full");
  writer.Add(RunStartedRecord{1, 1, 1});
  CHECK_THROWS_WITH(writer.Sync(), Catch::Contains("No space left on device") &&
                                       Catch::Contains("free space on the disk"));
  CHECK_THROWS_WITH(writer.Sync(), Catch::Contains("No space left on device"));
}

// Prints what group commit saves (one sync per 1,024 records against one per record); run with:
// <test binary> "[benchmark]". Numbers vary by disk.
TEST_CASE("Group commit costs a fraction of an fsync per record", "[.][benchmark]") {
  constexpr std::uint64_t kRecords = 100'000;
  TempDir dir;
  auto time_ms = [](auto&& body) {
    const auto start = std::chrono::steady_clock::now();
    body();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  const double grouped = time_ms([&] {
    JournalWriter writer = JournalWriter::Create(dir / "grouped", 1, kRecords);
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      writer.Add(Finished(i, JournalOutcome::kSucceeded));
      if (i % 1024 == 1023) writer.Sync();
    }
    writer.Sync();
  });
  const double per_record = time_ms([&] {
    JournalWriter writer = JournalWriter::Create(dir / "per_record", 1, kRecords);
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      writer.Add(Finished(i, JournalOutcome::kSucceeded));
      writer.Sync();
    }
  });
  std::cout << kRecords << " TaskFinished records: group commit " << grouped
            << " ms, fsync per record " << per_record << " ms (" << per_record / grouped << "x)\n";
}
