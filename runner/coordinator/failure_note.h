#pragma once

// Why an attempt did not succeed, in words for the screen: what the live warnings and the
// summary's list of tasks that did not succeed say, so that a user learns the reason without
// opening results.jsonl or the logs.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "journal/run_ledger.h"
#include "schedule/attempt_result.h"

namespace jobrunner {

// What the coordinator knows of a task's command beyond its result.
struct CommandShape {
  bool shell = false;           // a string command, run by a shell: 127 and 126 mean its words
  std::int64_t timeout_ms = 0;  // the limit a timed-out attempt ran into
};

// "failed with exit status 3", "failed with exit status 127: command not found", "was killed by
// SIGSEGV", "was killed by the OOM killer: it went past its memory limit of 512M", "timed out
// after 30s", "could not start: cannot change directory to /x: no such file or directory", ...
std::string DescribeEnd(const AttemptResult& result, const CommandShape& shape);
// The same for a failure known only from the journal (an earlier run's).
std::string DescribeEnd(const RunLedger::Failure& failure, const CommandShape& shape);

// The last `max_lines` non-blank lines of `tail` (the end of a stream whose start was cut off
// when `cut` is set), without trailing blanks, each at most `max_width` bytes (cut at a UTF-8
// character's start, marked "..."), with control characters replaced by '?': fit for a terminal.
std::vector<std::string> LastLines(std::string_view tail, bool cut, std::size_t max_lines,
                                   std::size_t max_width);

// One task that did not succeed, as the summary lists it.
struct FailureNote {
  std::string task;
  int attempt = 0;                 // 0: it never ran (skipped)
  std::string what;                // DescribeEnd's words, or why it was skipped
  std::vector<std::string> lines;  // the last lines of its stderr
  std::string log;                 // the file to read for more: its stderr, else its stdout
};

}  // namespace jobrunner
