#pragma once

// Helpers shared by the journal tests: real files in a temp dir, and a sample run to write.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "temp_dir.h"

namespace jobrunner::journal_test {

namespace fs = std::filesystem;
using testing::TempDir;

using testing::ReadFile;

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline TaskFinishedRecord Finished(std::uint64_t index, JournalOutcome outcome) {
  TaskFinishedRecord r;
  r.index = index;
  r.attempt = 1;
  r.worker_rank = static_cast<std::int32_t>(index % 7) + 1;
  r.outcome = outcome;
  r.exit_code = outcome == JournalOutcome::kFailed ? 3 : 0;
  r.start_ms = 1'700'000'000'000 + static_cast<std::int64_t>(index);
  r.end_ms = r.start_ms + 25;
  return r;
}

// A run in miniature: every record type, mostly dispatch/finish pairs.
inline std::vector<JournalRecord> SampleRun(std::uint64_t tasks) {
  std::vector<JournalRecord> records{RunStartedRecord{1'700'000'000'000, 1, 4},
                                     WorkerJoinedRecord{1, "node-1", 101, 2}};
  for (std::uint64_t i = 0; i < tasks; ++i) {
    if (i % 5 == 4) {
      records.push_back(TaskSkippedRecord{i, "dependency " + std::to_string(i - 1) + " failed"});
      continue;
    }
    records.push_back(TaskDispatchedRecord{i, 1, static_cast<std::int32_t>(i % 3) + 1});
    if (i % 4 == 1) {
      records.push_back(TaskStartedRecord{i, 1, 1'700'000'000'000, "t-" + std::to_string(i)});
    }
    records.push_back(
        Finished(i, i % 3 == 0 ? JournalOutcome::kFailed : JournalOutcome::kSucceeded));
  }
  records.push_back(RunEndedRecord{1'700'000'100'000, 1, false});
  return records;
}

constexpr std::uint64_t kManifestHash = 0xFEEDFACE;

// Writes a journal holding `records` and returns the offset at which each record ends.
inline std::vector<std::uint64_t> WriteJournal(const std::string& path,
                                               const std::vector<JournalRecord>& records) {
  JournalWriter writer = JournalWriter::Create(path, kManifestHash, records.size());
  std::vector<std::uint64_t> ends;
  std::uint64_t offset = kJournalHeaderSize;
  for (const JournalRecord& record : records) {
    writer.Add(record);
    std::string framed;
    AppendFramedRecord(record, framed);
    ends.push_back(offset += framed.size());
  }
  writer.Sync();
  return ends;
}

// The bytes WriteJournal writes, built in memory, with the offset at which each record ends.
struct JournalBytes {
  std::string bytes;
  std::vector<std::uint64_t> ends;
};

inline JournalBytes MakeJournalBytes(const std::vector<JournalRecord>& records) {
  JournalBytes journal;
  journal.bytes = EncodeJournalHeader({kJournalFormatVersion, kManifestHash, records.size()});
  for (const JournalRecord& record : records) {
    AppendFramedRecord(record, journal.bytes);
    journal.ends.push_back(journal.bytes.size());
  }
  return journal;
}

inline std::string LittleEndian32(std::uint32_t value) {
  std::string bytes;
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(value >> (8 * i)));
  return bytes;
}

// A record frame with a correct length and CRC around `body`, whatever the body holds.
inline std::string Frame(const std::string& body) {
  return LittleEndian32(static_cast<std::uint32_t>(body.size())) + LittleEndian32(Crc32c(body)) +
         body;
}

inline std::vector<JournalRecord> Prefix(const std::vector<JournalRecord>& records, std::size_t n) {
  return {records.begin(), records.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace jobrunner::journal_test
