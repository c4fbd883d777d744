#include "posix/file.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

namespace fs = std::filesystem;

constexpr OpenFlags kCreateNew = OpenFlags::kWrite | OpenFlags::kCreate | OpenFlags::kExclusive;

TEST_CASE("A file written, synced and read back through posix/ holds what was written") {
  TempDir dir;
  StatusOr<UniqueFd> file = OpenFile(dir / "f", kCreateNew | OpenFlags::kRead);
  REQUIRE(file.ok());
  REQUIRE(WriteAll(file->get(), "hello, world").ok());
  REQUIRE(SyncData(file->get()).ok());
  CHECK(*FileSize(file->get()) == 12);
  char buffer[16];
  StatusOr<std::size_t> read = ReadAt(file->get(), buffer, sizeof buffer, 7);
  REQUIRE(read.ok());
  CHECK(std::string(buffer, *read) == "world");  // fewer than asked for at the end of the file
  REQUIRE(Truncate(file->get(), 5).ok());
  CHECK(ReadFile(dir / "f") == "hello");
  CHECK(RegularFileSize(dir / "f") == 5u);
  CHECK_FALSE(RegularFileSize(dir.str()));  // a directory
  CHECK_FALSE(RegularFileSize(dir / "missing"));
}

TEST_CASE("ReadRest reads from an offset to the end or the limit, ForEachLine line by line") {
  TempDir dir;
  StatusOr<UniqueFd> file = OpenFile(dir / "f", kCreateNew | OpenFlags::kRead);
  REQUIRE(file.ok());
  const std::string long_line(200'000, 'x');  // longer than one chunk of ReadRest
  REQUIRE(WriteAll(file->get(), "one\n\n" + long_line + "\nlast, no newline").ok());
  CHECK(*ReadRest(file->get(), 4, 100) == "\n" + long_line.substr(0, 99));
  CHECK(ReadRest(file->get(), 0, 1 << 20)->size() == 4 + 1 + long_line.size() + 1 + 16);
  CHECK(ReadRest(file->get(), 1 << 20, 10)->empty());
  std::vector<std::string> lines;
  REQUIRE(ForEachLine(file->get(), [&](std::string_view line) { lines.emplace_back(line); }).ok());
  CHECK(lines == std::vector<std::string>{"one", "", long_line, "last, no newline"});
}

TEST_CASE("Opening fails with the system's reason and its errno") {
  TempDir dir;
  REQUIRE(OpenFile(dir / "f", kCreateNew).ok());
  StatusOr<UniqueFd> again = OpenFile(dir / "f", kCreateNew);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message() == "File exists");
  CHECK(again.status().code() == EEXIST);
  StatusOr<UniqueFd> missing = OpenFile(dir / "missing", OpenFlags::kRead);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "No such file or directory");
  CHECK_FALSE(OpenFile(dir / "f", OpenFlags::kRead | OpenFlags::kDirectory).ok());
  StatusOr<UniqueFd> directory = OpenFile(dir.str(), OpenFlags::kRead | OpenFlags::kDirectory);
  REQUIRE(directory.ok());
  CHECK(SyncFile(directory->get()).ok());
}

TEST_CASE("A full disk is told apart from other write failures") {
  StatusOr<UniqueFd> full = OpenFile("/dev/full", OpenFlags::kWrite);
  REQUIRE(full.ok());
  const Status written = WriteAll(full->get(), "x");
  REQUIRE_FALSE(written.ok());
  CHECK(written.message() == "No space left on device");
  CHECK(IsDiskFull(written));
  CHECK_FALSE(IsDiskFull(Status::Error("File exists", EEXIST)));
  CHECK_FALSE(IsDiskFull(Status::Ok()));
}

TEST_CASE("A file locked through one open is refused to another until it closes") {
  TempDir dir;
  const OpenFlags flags = OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kCreate;
  StatusOr<UniqueFd> first = OpenFile(dir / ".lock", flags);
  StatusOr<UniqueFd> second = OpenFile(dir / ".lock", flags);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(TryLockFile(first->get()).ok());
  CHECK_FALSE(TryLockFile(second->get()).ok());
  first->Reset();
  CHECK(TryLockFile(second->get()).ok());
}

TEST_CASE("A temporary directory is made new, under the prefix given") {
  TempDir dir;
  StatusOr<std::string> made = MakeTempDirectory(dir / "run.");
  REQUIRE(made.ok());
  CHECK(made->rfind(dir / "run.", 0) == 0);
  CHECK(made->size() == (dir / "run.").size() + 6);
  CHECK(fs::is_directory(*made));
  CHECK_FALSE(MakeTempDirectory(dir / "missing/run.").ok());
}

TEST_CASE("The tail of a file is its last bytes, or all of a short one") {
  TempDir dir;
  std::ofstream(dir / "log") << "first\nsecond\nlast\n";
  StatusOr<UniqueFd> file = OpenFile(dir / "log", OpenFlags::kRead);
  REQUIRE(file.ok());
  CHECK(ReadFileTail(file->get(), 5) == "last\n");
  CHECK(ReadFileTail(file->get(), 100) == "first\nsecond\nlast\n");
  CHECK(ReadFileTail(-1, 5) == std::nullopt);
}

}  // namespace
}  // namespace jobrunner
