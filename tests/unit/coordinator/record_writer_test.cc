// The RecordWriter on real files: the order it keeps (a results line only after its journal
// record is synced), its tickets, its thread, and failures carried back to the caller's thread.
#include "coordinator/record_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "posix/event_fd.h"
#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

// A run directory with a journal and results.jsonl, as a new run makes them.
struct Files {
  TempDir dir;
  JournalWriter journal = JournalWriter::Create(dir / "journal", 1, 10);
  ResultsWriter results{dir.str(), /*append=*/false};

  std::size_t journaled() const { return ReadJournal(dir / "journal").records.size(); }
  std::string results_text() const { return ReadFile(dir / "results.jsonl"); }
};

void Skip(ResultsWriter& results, std::uint64_t index) {
  results.Skipped("t-" + std::to_string(index), index, "a test", /*recovered=*/false);
}

TEST_CASE("A results line reaches its file only once the journal record before it is synced") {
  Files files;
  RecordWriter records(&files.journal, files.results, RecordWriter::Mode::kCallerWrites);
  records.Add(TaskSkippedRecord{3, "a test"});
  Skip(files.results, 3);
  const RecordWriter::Ticket ticket = records.Commit();
  CHECK(ticket == 1);
  CHECK(records.Durable() == 0);
  CHECK(files.journaled() == 0);
  CHECK(files.results_text().empty());
  records.WriteCommitted();
  CHECK(records.Durable() == 1);
  CHECK(files.journaled() == 1);
  CHECK(files.results_text().find("\"task\":\"t-3\"") != std::string::npos);
}

TEST_CASE("Batches committed before a sync are synced together, and their tickets with them") {
  Files files;
  RecordWriter records(&files.journal, files.results, RecordWriter::Mode::kCallerWrites);
  for (std::uint64_t i = 0; i < 3; ++i) {
    records.Add(TaskDispatchedRecord{i, 1, 1});
    CHECK(records.Commit() == i + 1);
  }
  CHECK(records.Commit() == 3);  // nothing new: no new ticket
  records.WriteCommitted();
  CHECK(records.Durable() == 3);
  CHECK(files.journaled() == 3);
}

TEST_CASE("The writer thread syncs what is committed and wakes the coordinator's wait") {
  Files files;
  RecordWriter records(&files.journal, files.results);
  records.Add(TaskDispatchedRecord{0, 1, 1});
  const RecordWriter::Ticket ticket = records.Commit();
  // Each wake means a sync ended; the ticket becomes durable after a few at most.
  for (int waits = 0; records.Durable() < ticket && waits < 1000; ++waits) {
    WaitUntilReadable(records.wake_fd(), std::chrono::milliseconds(1000));
  }
  CHECK(records.Durable() == ticket);
  CHECK(files.journaled() == 1);
  Skip(files.results, 0);
  records.Flush();
  CHECK(files.results_text().find("\"task\":\"t-0\"") != std::string::npos);
}

TEST_CASE("A failed sync is thrown on the caller's thread, and no results line follows it") {
  TempDir dir;
  ResultsWriter results(dir.str(), /*append=*/false);
  // /dev/full fails every write with ENOSPC, as a full disk would.
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  JournalWriter journal = JournalWriter::Adopt(UniqueFd(fd), "/dev/full");
  RecordWriter records(&journal, results);
  records.Add(TaskSkippedRecord{0, "a test"});
  Skip(results, 0);
  CHECK_THROWS_AS(records.Flush(), JournalError);
  CHECK_THROWS_WITH(records.Durable(), Catch::Contains("No space left on device"));
  CHECK_THROWS_AS(records.Commit(), JournalError);
  CHECK(ReadFile(dir / "results.jsonl").empty());
}

TEST_CASE("Without a journal every batch is durable at once and its lines are still written") {
  TempDir dir;
  ResultsWriter results(dir.str(), /*append=*/false);
  RecordWriter records(nullptr, results);
  CHECK_FALSE(records.journaled());
  records.Add(TaskDispatchedRecord{0, 1, 1});
  Skip(results, 0);
  const RecordWriter::Ticket ticket = records.Commit();
  CHECK(records.Durable() == ticket);
  records.Flush();
  CHECK(ReadFile(dir / "results.jsonl").find("\"task\":\"t-0\"") != std::string::npos);
}

TEST_CASE("A writer destroyed without a Flush still writes what it was given") {
  Files files;
  {
    RecordWriter records(&files.journal, files.results);
    records.Add(TaskSkippedRecord{1, "a test"});
    Skip(files.results, 1);
  }
  CHECK(files.journaled() == 1);
  CHECK(files.results_text().find("\"task\":\"t-1\"") != std::string::npos);
}

}  // namespace
}  // namespace jobrunner
