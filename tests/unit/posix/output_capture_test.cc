#include "posix/output_capture.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

namespace fs = std::filesystem;

TEST_CASE("A capture that receives nothing creates no file") {
  TempDir dir;
  OutputCapture capture(dir / "out", 0);
  capture.Finish();
  CHECK_FALSE(fs::exists(dir / "out"));
  CHECK(capture.bytes() == 0);
}

TEST_CASE("A capture without a cap writes everything and replaces an old file") {
  TempDir dir;
  std::ofstream(dir / "out") << "an older and longer attempt";
  OutputCapture capture(dir / "out", 0);
  capture.Append("hello ", 6);
  capture.Append("world", 5);
  capture.Finish();
  CHECK(ReadFile(dir / "out") == "hello world");
  CHECK(capture.bytes() == 11);
  CHECK_FALSE(capture.truncated());
}

TEST_CASE("Output that exactly fills the cap is not truncated") {
  TempDir dir;
  OutputCapture capture(dir / "out", 4);
  capture.Append("ab", 2);
  capture.Append("cd", 2);
  capture.Finish();
  CHECK(ReadFile(dir / "out") == "abcd");
  CHECK_FALSE(capture.truncated());
}

TEST_CASE("Output past the cap is counted, dropped and marked when the stream ends") {
  TempDir dir;
  OutputCapture capture(dir / "out", 4);
  capture.Append("abc", 3);
  capture.Append("defgh", 5);
  capture.Append("ij", 2);
  CHECK(ReadFile(dir / "out") == "abcd");
  const std::string marked = "abcd\n[jobrunner: output truncated after 4 bytes; 6 bytes dropped]\n";
  capture.Finish();
  CHECK(ReadFile(dir / "out") == marked);
  CHECK(capture.bytes() == 10);
  CHECK(capture.truncated());
  capture.Finish();  // a second Finish adds no second marker
  CHECK(ReadFile(dir / "out") == marked);
}

TEST_CASE("A file that cannot be created is an error, and output is still counted") {
  TempDir dir;
  OutputCapture capture(dir / "missing/out", 0);
  capture.Append("abc", 3);
  capture.Append("de", 2);
  capture.Finish();
  CHECK(capture.error() ==
        "cannot create output file " + (dir / "missing/out") + ": No such file or directory");
  CHECK(capture.bytes() == 5);
  CHECK_FALSE(capture.truncated());
}

TEST_CASE("A capture that meets a full disk says so, with the path and the reason") {
  // /dev/full answers every write with ENOSPC, as a full file system does.
  OutputCapture capture("/dev/full", 0);
  capture.Append("x", 1);
  capture.Finish();
  CHECK(capture.disk_full());
  CHECK(capture.error().find("/dev/full") != std::string::npos);
  CHECK(capture.error().find("No space left on device") != std::string::npos);
}

TEST_CASE("A capture that cannot create its file for another reason is not a full disk") {
  TempDir dir;
  OutputCapture capture(dir / "missing/out", 0);
  capture.Append("x", 1);
  CHECK_FALSE(capture.error().empty());
  CHECK_FALSE(capture.disk_full());
}

}  // namespace
}  // namespace jobrunner
