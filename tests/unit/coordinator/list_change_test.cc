// What a resume says changed in a command list: the first line that differs between the run
// directory's copy and the list given now, or, when the copy never became whole, no line at all.
#include <catch2/catch.hpp>
#include <fstream>

#include "coordinator/resume.h"
#include "posix/dir.h"
#include "temp_dir.h"

using namespace jobrunner;

TEST_CASE("A changed line of a command list is named with its text before and now") {
  testing::TempDir temp;
  std::ofstream(temp / "tasks.txt") << "echo a\nexit 1\necho c\n";
  std::ofstream(temp / "now.txt") << "echo a\necho fixed\necho c\n";
  StatusOr<Dir> run_dir = Dir::Open(temp.str());
  REQUIRE(run_dir.ok());
  CHECK(DescribeListChange(*run_dir, "tasks.txt", temp / "now.txt", "cmds.txt") ==
        "cmds.txt:2 was 'exit 1', is 'echo fixed'");
  std::ofstream(temp / "now.txt", std::ios::app) << "echo d\n";
  std::ofstream(temp / "tasks.txt", std::ios::trunc) << "echo a\necho fixed\necho c\n";
  CHECK(DescribeListChange(*run_dir, "tasks.txt", temp / "now.txt", "cmds.txt") ==
        "cmds.txt:4 was absent, is 'echo d'");
}

TEST_CASE("A command list whose copy never became whole has no changed line to name") {
  // The run was killed while it copied the list: only the partial copy is there, under a name
  // of its own, and a line past its end is no change.
  testing::TempDir temp;
  std::ofstream(temp / "tasks.txt.partial") << "echo a\nech";
  std::ofstream(temp / "now.txt") << "echo a\necho b\n";
  StatusOr<Dir> run_dir = Dir::Open(temp.str());
  REQUIRE(run_dir.ok());
  const std::string change = DescribeListChange(*run_dir, "tasks.txt", temp / "now.txt", "cmds");
  CHECK(change.find("cmds: the run has no whole copy of the list it started with") == 0);
  CHECK(change.find(temp / "tasks.txt") != std::string::npos);
  CHECK(change.find("cmds:1") == std::string::npos);
  CHECK(change.find("cmds:2") == std::string::npos);
}
