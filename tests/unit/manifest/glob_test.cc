#include "manifest/glob.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "temp_dir.h"

using jobrunner::ExpandGlob;
using jobrunner::MatchesPattern;

TEST_CASE("Shell patterns match one name: star, question mark and sets") {
  CHECK(MatchesPattern("*.csv", "a.csv"));
  CHECK_FALSE(MatchesPattern("*.csv", "a.csv.gz"));
  CHECK(MatchesPattern("run-??.log", "run-07.log"));
  CHECK_FALSE(MatchesPattern("run-??.log", "run-7.log"));
  CHECK(MatchesPattern("[ab]*", "beta"));
  CHECK(MatchesPattern("x[0-9]", "x5"));
  CHECK_FALSE(MatchesPattern("x[!0-9]", "x5"));
  CHECK(MatchesPattern("a[b", "a[b"));  // an unclosed set is a plain bracket
  CHECK(MatchesPattern("*a*b*", "xxaxxbxx"));
  // A leading dot is matched only by a dot, as shells do.
  CHECK_FALSE(MatchesPattern("*.csv", ".hidden.csv"));
  CHECK(MatchesPattern(".*.csv", ".hidden.csv"));
}

TEST_CASE("A glob lists matching paths sorted, relative as the pattern was written") {
  jobrunner::testing::TempDir dir;
  namespace fs = std::filesystem;
  for (const char* path : {"d1/b.csv", "d1/a.csv", "d2/c.csv", "d2/c.txt"}) {
    fs::create_directories(fs::path(dir / path).parent_path());
    std::ofstream(dir / path) << "x";
  }
  CHECK(ExpandGlob("d*/*.csv", dir.str()) ==
        std::vector<std::string>{"d1/a.csv", "d1/b.csv", "d2/c.csv"});
  CHECK(ExpandGlob("d2/c.txt", dir.str()) == std::vector<std::string>{"d2/c.txt"});
  CHECK(ExpandGlob("none/*.csv", dir.str()).empty());
  CHECK(ExpandGlob(dir / "d1/*.csv", "/elsewhere") ==
        std::vector<std::string>{dir / "d1/a.csv", dir / "d1/b.csv"});
}
