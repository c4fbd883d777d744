// Taking a run directory: the lock first, then the look at what it holds; links refused.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "rundir/run_dir.h"
#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

namespace fs = std::filesystem;

constexpr const char* kManifest = "version: 1\ntasks:\n  - id: a\n    command: [true]\n";

TEST_CASE("A run directory in use is refused, even before it holds a run") {
  TempDir dir;
  RunDir first = RunDir::ForNewRun(dir.str(), kManifest);
  CHECK_THROWS_WITH(RunDir::ForNewRun(dir.str(), kManifest), Catch::Contains("in use"));
  CHECK_THROWS_WITH(RunDir::ForResume(dir.str()), Catch::Contains("in use"));
}

TEST_CASE("A directory holding a journal or results.jsonl is refused for a new run, untouched") {
  for (const char* name : {"journal", "results.jsonl"}) {
    TempDir dir;
    std::ofstream(dir / name) << "a finished run";
    CHECK_THROWS_WITH(RunDir::ForNewRun(dir.str(), kManifest),
                      Catch::Contains("already holds a run (" + std::string(name) + ")") &&
                          Catch::Contains("--resume"));
    CHECK(ReadFile(dir / name) == "a finished run");
  }
}

TEST_CASE("A start cut short before its journal leaves a directory that holds no run") {
  TempDir dir;
  fs::create_directory(dir / "logs");
  std::ofstream(dir / ".lock");
  std::ofstream(dir / "journal.new") << "half a header";
  CHECK_FALSE(HoldsRun(dir.str()));
  CHECK_NOTHROW(RunDir::ForNewRun(dir.str(), kManifest));
  CHECK_THROWS_WITH(RunDir::ForResume(dir.str()),
                    Catch::Contains("has no journal") && Catch::Contains("--out " + dir.str()));
}

TEST_CASE("A manifest.yaml that is not this run's is never overwritten; its own is kept") {
  TempDir dir;
  std::ofstream(dir / "manifest.yaml") << "someone else's";
  CHECK_THROWS_WITH(RunDir::ForNewRun(dir.str(), kManifest),
                    Catch::Contains("manifest.yaml") && Catch::Contains("does not overwrite"));
  CHECK(ReadFile(dir / "manifest.yaml") == "someone else's");
  std::ofstream(dir / "manifest.yaml", std::ios::trunc) << kManifest;
  RunDir run = RunDir::ForNewRun(dir.str(), kManifest);
  WriteManifestCopy(run.dir(), kManifest);
  CHECK(ReadFile(dir / "manifest.yaml") == kManifest);
}

TEST_CASE("The manifest's copy is written new, never through a link") {
  TempDir dir;
  TempDir outside;
  fs::create_symlink(outside / "target", dir / "manifest.yaml");
  CHECK_THROWS(RunDir::ForNewRun(dir.str(), kManifest));
  fs::remove(dir / "manifest.yaml");
  RunDir run = RunDir::ForNewRun(dir.str(), kManifest);
  fs::create_symlink(outside / "target", dir / "manifest.yaml");
  CHECK_THROWS_WITH(WriteManifestCopy(run.dir(), kManifest), Catch::Contains("symbolic link"));
  CHECK_FALSE(fs::exists(outside / "target"));
}

TEST_CASE("A link inside the run directory at .lock, journal, logs or data is refused by name") {
  for (const char* name : {".lock", "logs", "data", "journal"}) {
    TempDir dir;
    TempDir outside;
    fs::create_directory(outside / "d");
    fs::create_symlink(
        std::string(name) == "logs" || std::string(name) == "data" ? outside / "d" : outside / "f",
        dir / name);
    if (std::string(name) != "journal") {
      CHECK_THROWS_WITH(RunDir::ForNewRun(dir.str(), kManifest),
                        Catch::Contains(dir / name) && Catch::Contains("symbolic link"));
      std::ofstream(dir / "journal") << "a run to resume";
    }
    CHECK_THROWS_WITH(RunDir::ForResume(dir.str()),
                      Catch::Contains(dir / name) && Catch::Contains("symbolic link"));
    CHECK_FALSE(fs::exists(outside / "f"));
    CHECK(fs::is_empty(outside / "d"));
  }
}

TEST_CASE("A new run's directory is made, and a default name claimed even when taken") {
  TempDir dir;
  const std::string out = CreateRunDir(dir / "a/b", "", "m.yaml");
  CHECK(out == dir / "a/b");
  CHECK(fs::is_directory(out));
  CHECK(CreateRunDir(dir / "a/b/", "", "m.yaml") == dir / "a/b");  // an existing one is fine
  const fs::path before = fs::current_path();
  fs::current_path(dir.str());
  const std::string first = CreateRunDir("", "sweep", "m.yaml");
  const std::string second = CreateRunDir("", "sweep", "m.yaml");
  fs::current_path(before);
  CHECK(fs::path(first).filename() == "sweep");
  CHECK(fs::path(second).filename() == "sweep-2");
}

}  // namespace
}  // namespace jobrunner
