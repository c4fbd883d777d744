#include "inspect/logs.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "inspect/failures.h"
#include "temp_dir.h"

using namespace jobrunner;

namespace {

void WriteLogs(const testing::TempDir& dir) {
  std::filesystem::create_directories(dir / "logs");
  std::ofstream(dir / "results.jsonl")
      << R"({"task":"t","index":0,"attempt":1,"outcome":"failed","exit_code":1,"retry":true,"stderr":"logs/t.1.err"})"
      << "\n"
      << R"({"attempt":2,"index":0,"outcome":"failed","exit_code":2,"retry":false,"task":"t"})"
      << "\n"
      << R"({"task":"u","index":1,"attempt":1,"outcome":"succeeded"})"
      << "\n"
      << R"({"task":"v","index":2,"attempt":1,"outcome":"timed_out","retry":false,"error":"a\tb"})"
      << "\n"
      << R"({"task":"w","index":3,"attempt":1,"outcome":"failed","exit_code":1,"retry":true})"
      << "\n";
  std::ofstream(dir / "logs/t.1.out") << "first try\n";
  std::ofstream(dir / "logs/t.2.out") << "second try\n";
  std::ofstream(dir / "logs/t.3.out") << "third, not in results.jsonl yet\n";
}

}  // namespace

TEST_CASE("A task's attempts are known from results.jsonl and from logs/") {
  testing::TempDir dir;
  WriteLogs(dir);
  CHECK(KnownAttempts(dir.str(), "t") == std::vector<int>{1, 2, 3});
  CHECK(KnownAttempts(dir.str(), "u") == std::vector<int>{1});
  CHECK(KnownAttempts(dir.str(), "nobody").empty());
}

TEST_CASE("logs prints the latest attempt's output, or the one asked for, or says why not") {
  testing::TempDir dir;
  WriteLogs(dir);
  std::ostringstream out;
  std::string note;
  REQUIRE(PrintTaskLog({dir.str(), "t", std::nullopt, false, false}, out, note).ok());
  CHECK(out.str() == "third, not in results.jsonl yet\n");
  CHECK(note.empty());
  out.str("");
  REQUIRE(PrintTaskLog({dir.str(), "t", 1, false, false}, out, note).ok());
  CHECK(out.str() == "first try\n");
  out.str("");
  REQUIRE(PrintTaskLog({dir.str(), "t", 1, true, false}, out, note).ok());
  CHECK(out.str().empty());
  CHECK(note == "task t attempt 1 wrote nothing to stderr");
  // The attempt ended: following it prints what there is and returns.
  out.str("");
  REQUIRE(PrintTaskLog({dir.str(), "t", 2, false, true}, out, note).ok());
  CHECK(out.str() == "second try\n");
  const Status unknown = PrintTaskLog({dir.str(), "nobody", std::nullopt, false, false}, out, note);
  CHECK_THAT(unknown.message(), Catch::Contains("has no task nobody"));
  const Status no_such_attempt = PrintTaskLog({dir.str(), "t", 9, false, false}, out, note);
  CHECK_THAT(no_such_attempt.message(), Catch::Contains("no attempt 9 (known: 1, 2, 3)"));
}

TEST_CASE("failed lists the tasks whose last attempt failed with no retry left, tab-separated") {
  testing::TempDir dir;
  WriteLogs(dir);
  std::ostringstream out;
  // Without a journal, the lines decide: w will be retried, u succeeded.
  PrintFailedTasks(FinalFailures(dir.str(), nullptr, false), out);
  CHECK(out.str() == "t\tfailed\texit status 2\nv\ttimed_out\ttimed out: a b\n");
  // With one, the journal decides: t is being retried again (--retry-failed).
  RunHistory history(4);
  history.Apply(RunStartedRecord{1, 1, 1});
  for (std::uint64_t i : {0, 2}) {
    history.Apply(TaskDispatchedRecord{i, 1, 1});
    TaskFinishedRecord r;
    r.index = i;
    r.attempt = 1;
    r.outcome = JournalOutcome::kFailed;
    history.Apply(r);
  }
  history.Apply(TaskDispatchedRecord{0, 3, 1});
  const std::vector<AttemptLine> live = FinalFailures(dir.str(), &history, /*live=*/true);
  REQUIRE(live.size() == 1);
  CHECK(live[0].task == "v");
}
