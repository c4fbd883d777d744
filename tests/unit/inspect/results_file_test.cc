#include "inspect/results_file.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "inspect/run_files.h"
#include "temp_dir.h"

using namespace jobrunner;

TEST_CASE("Times in results.jsonl's form read back to the millisecond and format again") {
  REQUIRE(ParseIsoTime("1970-01-01T00:00:00.000Z") == 0);
  CHECK(ParseIsoTime("2023-11-14T22:13:20.123Z") == 1'700'000'000'123);
  CHECK(ParseIsoTime("2000-02-29T12:00:00.500Z") == 951'825'600'500);
  CHECK(FormatIsoTime(1'700'000'000'123) == "2023-11-14T22:13:20.123Z");
  CHECK(FormatIsoTime(951'825'600'500) == "2000-02-29T12:00:00.500Z");
  for (const char* bad : {"", "2023-11-14 22:13:20.123Z", "2023-11-14T22:13:20Z",
                          "2023-13-14T22:13:20.123Z", "2023-11-14T22:13:2x.123Z"}) {
    CHECK_FALSE(ParseIsoTime(bad));
  }
}

TEST_CASE("results.jsonl reads as attempts and summaries, without a line still being written") {
  testing::TempDir dir;
  std::ofstream(dir / "results.jsonl")
      << R"({"task":"a","index":0,"attempt":1,"worker":2,"host":"h","start":"2023-11-14T22:13:20.000Z","end":"2023-11-14T22:13:21.500Z","outcome":"failed","exit_code":3,"signal":null,"retry":true,"stdout":null,"stderr":"logs/a.1.err"})"
      << "\nnot json\n"
      << R"({"attempt":0,"index":1,"outcome":"skipped","reason":"dependency a failed","task":"b","worker":null,"host":null,"start":null})"
      << "\n"
      << R"({"summary":{"tasks":2,"exit_status":1}})"
      << "\n"
      << R"({"task":"c","index":2,"attempt":1,"outc)";
  const ResultsFile all = ReadResultsFile(dir.str());
  REQUIRE(all.attempts.size() == 2);
  const AttemptLine& a = all.attempts[0];
  CHECK(a.task == "a");
  CHECK(a.worker == 2);
  CHECK(a.start_ms == 1'700'000'000'000);
  CHECK(a.end_ms == 1'700'000'001'500);
  CHECK(a.exit_code == 3);
  CHECK_FALSE(a.signal);
  CHECK(a.retry);
  CHECK(a.stdout_path.empty());
  CHECK(a.stderr_path == "logs/a.1.err");
  CHECK(all.attempts[1].reason == "dependency a failed");
  CHECK_FALSE(all.attempts[1].worker);
  REQUIRE(all.summaries.size() == 1);
  CHECK(all.summaries[0]["tasks"] == 2);

  const ResultsFile only_skips = ReadResultsFile(
      dir.str(), [](std::string_view line) { return line.find("skipped") != line.npos; });
  REQUIRE(only_skips.attempts.size() == 1);
  CHECK(only_skips.attempts[0].task == "b");
  CHECK(ReadResultsFile(dir / "missing").attempts.empty());
}

TEST_CASE("A failure's reason says what ended it in a few words") {
  AttemptLine line;
  line.outcome = "failed";
  line.exit_code = 2;
  CHECK(FailureReason(line) == "exit status 2");
  line.outcome = "signaled";
  line.exit_code.reset();
  line.signal = 9;
  CHECK(FailureReason(line) == "signal 9 (SIGKILL)");
  line.outcome = "spawn_error";
  line.error = "no such file: frob";
  CHECK(FailureReason(line) == "could not start: no such file: frob");
  line = AttemptLine{};
  line.outcome = "skipped";
  line.reason = "dependency prep failed";
  CHECK(FailureReason(line) == "dependency prep failed");
  line.outcome = "succeeded";
  CHECK(FailureReason(line).empty());
  CHECK(IsFailureOutcome("timed_out"));
  CHECK_FALSE(IsFailureOutcome("interrupted"));
  CHECK_FALSE(IsFailureOutcome("succeeded"));
}

TEST_CASE("The last lines of a log come back in order, whatever its end") {
  testing::TempDir dir;
  std::ofstream(dir / "a") << "one\ntwo\nthree\nfour\n";
  CHECK(LastLines(dir / "a", 3) == std::vector<std::string>{"two", "three", "four"});
  std::ofstream(dir / "b") << "only, no newline";
  CHECK(LastLines(dir / "b", 3) == std::vector<std::string>{"only, no newline"});
  std::ofstream(dir / "c") << "";
  CHECK(LastLines(dir / "c", 3).empty());
  CHECK(LastLines(dir / "missing", 3).empty());
  std::ofstream(dir / "d") << std::string(100'000, 'x') << "\nlast\n";
  const std::vector<std::string> long_lines = LastLines(dir / "d", 2);
  REQUIRE(long_lines.size() == 2);
  CHECK(long_lines[1] == "last");
  CHECK(OneLine("a\tb\nc\x1b[0m") == "a b c [0m");
}
