#include "coordinator/failure_note.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace jobrunner {
namespace {

using Lines = std::vector<std::string>;

AttemptResult Ended(Outcome outcome, int exit_code = 0, int signal = 0) {
  AttemptResult r;
  r.outcome = outcome;
  r.exit_code = exit_code;
  r.signal = signal;
  return r;
}

TEST_CASE("An exit status is described, and a shell's own statuses say what they mean") {
  const CommandShape argv{false, 0}, shell{true, 0};
  CHECK(DescribeEnd(Ended(Outcome::kFailed, 3), argv) == "failed with exit status 3");
  CHECK(DescribeEnd(Ended(Outcome::kFailed, 127), argv) == "failed with exit status 127");
  CHECK(DescribeEnd(Ended(Outcome::kFailed, 127), shell) ==
        "failed with exit status 127: command not found");
  CHECK(DescribeEnd(Ended(Outcome::kFailed, 126), shell) ==
        "failed with exit status 126: command found but not executable");
  CHECK(DescribeEnd(Ended(Outcome::kFailed, 137), shell) ==
        "failed with exit status 137: a command it ran was killed by SIGKILL");
  CHECK(DescribeEnd(Ended(Outcome::kFailed, 1), shell) == "failed with exit status 1");
}

TEST_CASE("Signals are named, and OOM kills and timeouts say what ended them") {
  const CommandShape shape{false, 30'000};
  CHECK(DescribeEnd(Ended(Outcome::kSignaled, 0, 11), shape) == "was killed by SIGSEGV");
  AttemptResult oom = Ended(Outcome::kOom, 0, 9);
  CHECK(DescribeEnd(oom, shape) ==
        "was killed by the kernel's OOM killer: the node ran out of memory");
  oom.memory_limit = 512ull << 20;
  CHECK(DescribeEnd(oom, shape) ==
        "was killed by the OOM killer: it went past its memory limit of 512M");
  CHECK(DescribeEnd(Ended(Outcome::kTimedOut, 0, 15), shape) == "timed out after 30s");
  CHECK(DescribeEnd(Ended(Outcome::kTimedOut, 0, 9), shape) ==
        "timed out after 30s and was killed, having ignored SIGTERM");
}

TEST_CASE("A task that could not start, or a kind that threw, says why in its own words") {
  AttemptResult r = Ended(Outcome::kSpawnError);
  r.error = "command not found: frobnicate";
  CHECK(DescribeEnd(r, {}) == "could not start: command not found: frobnicate");
  r = Ended(Outcome::kFailed);
  r.error = "cannot open data/a.csv";
  CHECK(DescribeEnd(r, {}) == "failed: cannot open data/a.csv");
  r = Ended(Outcome::kSignaled, 0, 9);
  r.error = "the Python interpreter died";
  CHECK(DescribeEnd(r, {}) == "was killed by SIGKILL: the Python interpreter died");
}

TEST_CASE("An earlier run's failure is described from its journal record") {
  CHECK(DescribeEnd(RunLedger::Failure{2, JournalOutcome::kFailed, 127, 0}, {true, 0}) ==
        "failed with exit status 127: command not found");
  CHECK(DescribeEnd(RunLedger::Failure{1, JournalOutcome::kSignaled, 0, 6}, {}) ==
        "was killed by SIGABRT");
  CHECK(DescribeEnd(RunLedger::Failure{1, JournalOutcome::kWorkerLost, 0, 0}, {}) ==
        "was lost with its worker");
}

TEST_CASE("The last lines of stderr are its last non-blank lines") {
  CHECK(LastLines("one\ntwo\n\nthree  \n\n", false, 2, 80) == Lines{"two", "three"});
  CHECK(LastLines("one\ntwo\n", false, 5, 80) == Lines{"one", "two"});
  CHECK(LastLines("", false, 3, 80).empty());
  CHECK(LastLines("no newline at the end", false, 3, 80) == Lines{"no newline at the end"});
}

TEST_CASE("A line cut off at the start of the tail is dropped unless it is all there is") {
  CHECK(LastLines("ne cut\nwhole line\n", true, 3, 80) == Lines{"whole line"});
  CHECK(LastLines("only a piece of a long line", true, 3, 80) ==
        Lines{"only a piece of a long line"});
}

TEST_CASE("Lines are made safe for a terminal and cut to a width at a character") {
  CHECK(LastLines("\x1b[31mred\x1b[0m\ttab\n", false, 1, 80) == Lines{"?[31mred?[0m tab"});
  CHECK(LastLines("abcdefghij\n", false, 1, 8) == Lines{"abcde..."});
  // "é" is two bytes: a cut may not split it.
  CHECK(LastLines("abcd\xc3\xa9xyz\n", false, 1, 8) == Lines{"abcd..."});
  CHECK(LastLines("caf\xc3\xa9\n", false, 1, 80) == Lines{"caf\xc3\xa9"});
}

}  // namespace
}  // namespace jobrunner
