#include "posix/dir.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "posix/file.h"
#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

namespace fs = std::filesystem;

Dir OpenDir(const std::string& path) {
  StatusOr<Dir> dir = Dir::Open(path);
  REQUIRE(dir.ok());
  return std::move(*dir);
}

// A directory with a file outside it that links inside it point to.
struct Planted {
  TempDir dir;
  TempDir outside;
  Planted() {
    std::ofstream(outside / "precious") << "keep";
    fs::create_symlink(outside / "precious", dir / "link");
    fs::create_symlink(outside / "not-yet", dir / "dangling");
    fs::create_directory_symlink(outside.str(), dir / "dir-link");
  }
  bool untouched() const {
    return ReadFile(outside / "precious") == "keep" && !fs::exists(outside / "not-yet");
  }
};

TEST_CASE("A new file is created in its directory, and never where a name is taken") {
  Planted p;
  const Dir dir = OpenDir(p.dir.str());
  StatusOr<UniqueFd> file = dir.CreateFile("new");
  REQUIRE(file.ok());
  REQUIRE(WriteAll(file->get(), "hello").ok());
  CHECK(ReadFile(p.dir / "new") == "hello");
  StatusOr<UniqueFd> again = dir.CreateFile("new");
  CHECK(again.status().code() == EEXIST);
  CHECK(again.status().message() == "File exists");
  for (const char* link : {"link", "dangling"}) {
    StatusOr<UniqueFd> through = dir.CreateFile(link);
    CHECK(through.status().code() == EEXIST);
    CHECK_THAT(through.status().message(), Catch::Contains("symbolic link"));
  }
  CHECK(ReadFile(p.dir / "new") == "hello");
  CHECK(p.untouched());
}

TEST_CASE("An existing file is opened only when it is a regular file, never through a link") {
  Planted p;
  const Dir dir = OpenDir(p.dir.str());
  std::ofstream(p.dir / "file") << "text";
  REQUIRE(::mkfifo((p.dir / "fifo").c_str(), 0600) == 0);
  fs::create_directory(p.dir / "subdir");
  CHECK(dir.OpenForRead("file").ok());
  CHECK(dir.OpenForAppend("file").ok());
  CHECK(dir.OpenOrCreateFile("file").ok());
  for (const char* name : {"link", "dangling"}) {
    CHECK_THAT(dir.OpenForRead(name).status().message(), Catch::Contains("symbolic link"));
    CHECK_THAT(dir.OpenForAppend(name).status().message(), Catch::Contains("symbolic link"));
    CHECK_THAT(dir.OpenOrCreateFile(name).status().message(), Catch::Contains("symbolic link"));
  }
  // A fifo would block an open for writing until someone reads it; it is refused at once.
  for (const char* name : {"fifo", "subdir"}) {
    CHECK_FALSE(dir.OpenForRead(name).ok());
    CHECK_FALSE(dir.OpenForAppend(name).ok());
    CHECK_FALSE(dir.OpenOrCreateFile(name).ok());
  }
  CHECK(dir.OpenForAppend("fifo").status().message() == "it is not a regular file");
  CHECK(dir.OpenForRead("missing").status().code() == ENOENT);
  CHECK(dir.OpenOrCreateFile("lock").ok());
  CHECK(fs::is_regular_file(p.dir / "lock"));
  CHECK(p.untouched());
}

TEST_CASE("A subdirectory is opened, or made, but never through a link") {
  Planted p;
  const Dir dir = OpenDir(p.dir.str());
  StatusOr<Dir> made = dir.OpenSubdirectory("logs", /*create=*/true);
  REQUIRE(made.ok());
  CHECK(made->path() == p.dir / "logs");
  CHECK(made->CreateFile("x").ok());
  CHECK(fs::exists(p.dir / "logs/x"));
  CHECK(dir.OpenSubdirectory("logs", /*create=*/false).ok());
  CHECK(dir.OpenSubdirectory("missing", /*create=*/false).status().code() == ENOENT);
  for (bool create : {false, true}) {
    StatusOr<Dir> linked = dir.OpenSubdirectory("dir-link", create);
    CHECK_THAT(linked.status().message(), Catch::Contains("symbolic link"));
  }
  CHECK(p.untouched());
}

TEST_CASE("A directory opened keeps its files when its name is replaced by a link") {
  Planted p;
  fs::create_directory(p.dir / "logs");
  const Dir logs = OpenDir(p.dir / "logs");
  fs::rename(p.dir / "logs", p.dir / "moved");
  fs::create_directory_symlink(p.outside.str(), p.dir / "logs");
  REQUIRE(logs.CreateFile("out").ok());
  CHECK(fs::exists(p.dir / "moved/out"));
  CHECK_FALSE(fs::exists(p.outside / "out"));
}

TEST_CASE("Look tells what is at a name without following a link") {
  Planted p;
  const Dir dir = OpenDir(p.dir.str());
  std::ofstream(p.dir / "file") << "12345";
  CHECK(dir.Look("file")->kind == Dir::Kind::kFile);
  CHECK(dir.Look("file")->size == 5);
  CHECK(dir.Look("link")->kind == Dir::Kind::kLink);
  CHECK(dir.Look("dir-link")->kind == Dir::Kind::kLink);
  CHECK(dir.Look("missing")->kind == Dir::Kind::kMissing);
  fs::create_directory(p.dir / "subdir");
  CHECK(dir.Look("subdir")->kind == Dir::Kind::kDirectory);
}

TEST_CASE("Renames stay in the directory: without replacing, or replacing a link itself") {
  Planted p;
  const Dir dir = OpenDir(p.dir.str());
  std::ofstream(p.dir / "a") << "a";
  std::ofstream(p.dir / "b") << "b";
  CHECK(dir.RenameNoReplace("a", "b").code() == EEXIST);
  CHECK(ReadFile(p.dir / "b") == "b");
  REQUIRE(dir.RenameNoReplace("a", "c").ok());
  CHECK(ReadFile(p.dir / "c") == "a");
  REQUIRE(dir.Rename("c", "link").ok());
  CHECK(ReadFile(p.dir / "link") == "a");
  CHECK(fs::is_regular_file(fs::symlink_status(p.dir / "link")));
  REQUIRE(dir.Remove("dangling").ok());
  CHECK(dir.Remove("dangling").ok());  // already gone
  CHECK(p.untouched());
}

TEST_CASE("Names are single path components") {
  TempDir temp;
  const Dir dir = OpenDir(temp.str());
  for (const char* name : {"", ".", "..", "a/b", "../escape"}) {
    CHECK(dir.CreateFile(name).status().code() == EINVAL);
    CHECK(dir.Look(name).status().code() == EINVAL);
  }
}

}  // namespace
}  // namespace jobrunner
