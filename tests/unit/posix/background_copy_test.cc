#include "posix/background_copy.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "posix/file.h"
#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

void WaitFor(const BackgroundCopy& copy) {
  for (int i = 0; i < 6000 && !copy.done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(copy.done());
}

TEST_CASE(
    "A background copy copies every byte, shows each block, and leaves the source's position") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 300'000; ++i) text += "echo line " + std::to_string(i) + "\n";
  std::ofstream(dir / "from", std::ios::binary) << text;
  std::FILE* from = std::fopen((dir / "from").c_str(), "rb");
  REQUIRE(from != nullptr);
  char first[5] = {};
  REQUIRE(std::fread(first, 1, 4, from) == 4);
  StatusOr<UniqueFd> to = OpenFile(dir / "to", OpenFlags::kWrite | OpenFlags::kCreate |
                                                   OpenFlags::kExclusive | OpenFlags::kRead);
  REQUIRE(to.ok());
  std::string seen;
  BackgroundCopy copy(from, std::move(*to),
                      [&seen](const char* data, std::size_t n) { seen.append(data, n); });
  WaitFor(copy);
  CHECK(copy.status().ok());
  CHECK(copy.bytes() == text.size());
  CHECK(seen == text);
  UniqueFd copied = copy.TakeCopy();
  CHECK(static_cast<bool>(copied));
  CHECK(ReadFile(dir / "to") == text);
  CHECK(std::ftell(from) == 4);
  char next[5] = {};
  CHECK(std::fread(next, 1, 4, from) == 4);
  CHECK(std::string(next) == " lin");
  std::fclose(from);
}

TEST_CASE("A background copy that cannot write says why") {
  TempDir dir;
  std::ofstream(dir / "from", std::ios::binary) << "echo 1\n";
  std::FILE* from = std::fopen((dir / "from").c_str(), "rb");
  REQUIRE(from != nullptr);
  StatusOr<UniqueFd> read_only = OpenFile(dir / "from", OpenFlags::kRead);
  REQUIRE(read_only.ok());
  BackgroundCopy copy(from, std::move(*read_only), nullptr);
  WaitFor(copy);
  CHECK_FALSE(copy.status().ok());
  std::fclose(from);
}

TEST_CASE("A background copy finishes once every byte is copied, and its failure is the copy's") {
  TempDir dir;
  std::ofstream(dir / "from", std::ios::binary) << "echo 1\necho 2\n";
  std::FILE* from = std::fopen((dir / "from").c_str(), "rb");
  REQUIRE(from != nullptr);
  for (const bool fails : {false, true}) {
    StatusOr<UniqueFd> to =
        OpenFile(dir / (fails ? "to-2" : "to-1"),
                 OpenFlags::kWrite | OpenFlags::kCreate | OpenFlags::kExclusive);
    REQUIRE(to.ok());
    std::string finished_with;
    BackgroundCopy copy(from, std::move(*to), nullptr, [&](std::uint64_t bytes) {
      finished_with = ReadFile(dir / (fails ? "to-2" : "to-1")) + "/" + std::to_string(bytes);
      return fails ? Status::Error("no room", 28) : Status::Ok();
    });
    WaitFor(copy);
    CHECK(finished_with == "echo 1\necho 2\n/14");
    CHECK(copy.status().ok() == !fails);
    if (fails) CHECK(copy.status().message() == "no room");
  }
  std::fclose(from);
}

}  // namespace
}  // namespace jobrunner
