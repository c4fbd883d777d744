#include "rundir/run_dir.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "temp_dir.h"

using namespace jobrunner;
namespace fs = std::filesystem;

namespace {

// Runs the test from inside a directory of its own, as a user runs jobrunner from theirs.
class InDirectory {
 public:
  explicit InDirectory(const std::string& dir) : before_(fs::current_path()) {
    fs::current_path(dir);
  }
  ~InDirectory() { fs::current_path(before_); }

 private:
  fs::path before_;
};

}  // namespace

TEST_CASE("jobrunner-out/latest points at the run created there last, and only there") {
  testing::TempDir dir;
  InDirectory in(dir.str());
  const std::string first = CreateRunDir("", "sweep", "m.yaml");
  CHECK(fs::read_symlink("jobrunner-out/latest") == "sweep");
  const std::string second = CreateRunDir("", "sweep", "m.yaml");
  CHECK(fs::path(second).filename() == "sweep-2");
  CHECK(fs::read_symlink("jobrunner-out/latest") == "sweep-2");
  CHECK(fs::equivalent("jobrunner-out/latest", second));
  // An --out elsewhere leaves the link alone; no temporary link is left behind.
  CreateRunDir(dir / "elsewhere", "", "m.yaml");
  CHECK(fs::read_symlink("jobrunner-out/latest") == "sweep-2");
  int entries = 0;
  for (const auto& entry : fs::directory_iterator("jobrunner-out")) {
    (void)entry;
    ++entries;
  }
  CHECK(entries == 3);
}

TEST_CASE("An attempt's log is the last of its copy names in use, and only a regular file") {
  testing::TempDir dir;
  StatusOr<Dir> logs = Dir::Open(dir.str());
  REQUIRE(logs.ok());
  CHECK_FALSE(FindAttemptLog(*logs, "t.1.err"));

  std::ofstream(dir / "t.1.err") << "an earlier file";
  std::ofstream(dir / "t.1.err.2") << "the attempt's";
  const std::optional<AttemptLogFile> found = FindAttemptLog(*logs, "t.1.err");
  REQUIRE(found);
  CHECK(found->name == "t.1.err.2");
  CHECK(found->size == std::string("the attempt's").size());

  fs::create_symlink(dir / "t.1.err", dir / "t.1.err.3");
  CHECK_FALSE(FindAttemptLog(*logs, "t.1.err"));  // a link at the last name is no log
}
