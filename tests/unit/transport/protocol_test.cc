// The protocol's messages through message_codec.h: every field comes back, and bytes from a damaged
// message or another build must be a DecodeError, never a crash, an invalid value or a huge
// allocation.
#include "transport/protocol.h"

#include <jobrunner/serialize.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>

#include "transport/transport.h"

using jobrunner::AttemptResult;
using jobrunner::DecodeError;
using jobrunner::DecodeMessage;
using jobrunner::Drain;
using jobrunner::EncodeMessage;
using jobrunner::Outcome;
using jobrunner::ResultBatch;
using jobrunner::TaskBatch;
using jobrunner::TaskSpec;

TEST_CASE("A TaskBatch comes back field for field, every list and pair in order") {
  TaskSpec first;
  first.index = 12345678901ull;
  first.attempt = 3;
  first.id = "sweep-7";
  first.argv = {"/bin/sh", "-c", "echo 'a b'", ""};
  first.cwd = "/work/dir";
  first.env = {{"A", "1"}, {"EMPTY", ""}};
  first.timeout_ms = 90'000;
  first.retries = 2;
  first.cores = 4;
  first.gpus = {"0", "3"};
  TaskSpec second;
  second.index = 1;
  second.kind = "word_count";
  second.args = {{"path", "in.txt"}};
  second.kind_args = std::string("\0\x01\xff", 3);
  second.isolate = true;
  TaskBatch batch;
  batch.tasks = {first, second, TaskSpec{}};

  const TaskBatch back = DecodeMessage<TaskBatch>(EncodeMessage(batch));
  REQUIRE(back.tasks.size() == 3);
  const TaskSpec& a = back.tasks[0];
  CHECK(a.index == first.index);
  CHECK(a.attempt == 3);
  CHECK(a.id == "sweep-7");
  CHECK(a.argv == first.argv);
  CHECK(a.cwd == "/work/dir");
  CHECK(a.env == first.env);
  CHECK(a.timeout_ms == 90'000);
  CHECK(a.retries == 2);
  CHECK(a.cores == 4);
  CHECK(a.gpus == first.gpus);
  const TaskSpec& b = back.tasks[1];
  CHECK(b.kind == "word_count");
  CHECK(b.args == second.args);
  CHECK(b.kind_args == second.kind_args);
  CHECK(b.isolate);
  CHECK(b.argv.empty());
  CHECK(back.tasks[2].id.empty());
}

TEST_CASE("A ResultBatch comes back field for field") {
  AttemptResult r;
  r.index = 9;
  r.attempt = 2;
  r.outcome = Outcome::kSignaled;
  r.exit_code = 0;
  r.signal = 9;
  r.start_ms = 1700000000123;
  r.end_ms = 1700000000456;
  r.stdout_path = "/run/logs/t.2.out";
  r.stderr_path = "/run/logs/t.2.err";
  r.stdout_bytes = 64;
  r.stderr_bytes = 1ull << 40;
  r.stdout_truncated = true;
  r.error = "killed";
  r.kind_result = std::string("\x00\x02", 2);
  r.data_path = "/run/data/t.2";
  r.task_id = "t";
  r.command = "/bin/sh -c 'echo hi'";
  ResultBatch batch;
  batch.results = {r, AttemptResult{}};

  const ResultBatch back = DecodeMessage<ResultBatch>(EncodeMessage(batch));
  REQUIRE(back.results.size() == 2);
  const AttemptResult& a = back.results[0];
  CHECK(a.index == 9);
  CHECK(a.attempt == 2);
  CHECK(a.outcome == Outcome::kSignaled);
  CHECK(a.signal == 9);
  CHECK(a.start_ms == r.start_ms);
  CHECK(a.end_ms == r.end_ms);
  CHECK(a.stdout_path == r.stdout_path);
  CHECK(a.stderr_path == r.stderr_path);
  CHECK(a.stdout_bytes == 64);
  CHECK(a.stderr_bytes == r.stderr_bytes);
  CHECK(a.stdout_truncated);
  CHECK_FALSE(a.stderr_truncated);
  CHECK(a.error == "killed");
  CHECK(a.kind_result == r.kind_result);
  CHECK(a.data_path == r.data_path);
  CHECK(a.task_id == "t");
  CHECK(a.command == r.command);
  CHECK(back.results[1].stdout_path.empty());
  CHECK(back.results[1].command.empty());
}

namespace {

TaskBatch SampleBatch() {
  TaskSpec spec;
  spec.index = 7;
  spec.attempt = 2;
  spec.id = "t-7";
  spec.argv = {"/bin/sh", "-c", "echo 7"};
  spec.env = {{"A", "1"}};
  spec.gpus = {"0", "1"};
  TaskBatch batch;
  batch.tasks = {spec, spec};
  return batch;
}

}  // namespace

TEST_CASE("A message cut short anywhere is a DecodeError") {
  const std::string bytes = EncodeMessage(SampleBatch());
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    INFO(size);
    CHECK_THROWS_AS(DecodeMessage<TaskBatch>(bytes.substr(0, size)), DecodeError);
  }
}

namespace {

// Replaces the first 8 bytes of `bytes` that read `was` (a count or a length) by `now`.
std::string Replace(std::string bytes, std::uint64_t was, std::uint64_t now) {
  const std::size_t at = bytes.find(std::string(reinterpret_cast<const char*>(&was), sizeof was));
  REQUIRE(at != std::string::npos);
  std::memcpy(&bytes[at], &now, sizeof now);
  return bytes;
}

}  // namespace

TEST_CASE("A count or a length beyond the bytes left is refused before anything is allocated") {
  const std::string bytes = EncodeMessage(SampleBatch());
  // The task count, 2, is the first 8 bytes that read 2; the id's length, 3, the first that read 3.
  CHECK_THROWS_WITH(DecodeMessage<TaskBatch>(Replace(bytes, 2, std::uint64_t{1} << 40)),
                    Catch::StartsWith("a collection of 1099511627776 with only"));
  CHECK_THROWS_WITH(DecodeMessage<TaskBatch>(Replace(bytes, 3, std::uint64_t{1} << 62)),
                    Catch::StartsWith("a string of 4611686018427387904 with only"));
}

TEST_CASE("A boolean other than 0 or 1 is a DecodeError") {
  std::string bytes = EncodeMessage(Drain{true, true, true});
  REQUIRE(bytes == std::string(3, '\x01'));  // the three fields, nothing before them
  bytes.back() = 7;
  CHECK_THROWS_WITH(DecodeMessage<Drain>(bytes), "a boolean is 7, not 0 or 1");
}

TEST_CASE("An attempt result with an unknown outcome is a DecodeError") {
  ResultBatch batch;
  batch.results.push_back(AttemptResult{});
  batch.results[0].outcome = static_cast<Outcome>(200);
  CHECK_THROWS_WITH(DecodeMessage<ResultBatch>(EncodeMessage(batch)),
                    "cannot decode: outcome 200 is unknown");
}

TEST_CASE("A message with bytes left over after its fields is a DecodeError") {
  CHECK_THROWS_AS(DecodeMessage<Drain>(EncodeMessage(Drain{true}) + "x"), DecodeError);
  CHECK(DecodeMessage<Drain>(EncodeMessage(Drain{true})).kill_running);
}

TEST_CASE("A Hello's protocol version is its first four bytes, whatever follows") {
  jobrunner::Hello hello;
  hello.host = "node-1";
  hello.gpus = {"0"};
  const std::string bytes = EncodeMessage(hello);
  int version = 0;
  jobrunner::MessageReader(bytes) & version;
  CHECK(version == jobrunner::kProtocolVersion);
}
