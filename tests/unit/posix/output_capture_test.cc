#include "posix/output_capture.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include "posix/file.h"
#include "temp_dir.h"

namespace jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;

namespace fs = std::filesystem;

std::shared_ptr<const Dir> OpenDir(const std::string& path) {
  StatusOr<Dir> dir = Dir::Open(path);
  REQUIRE(dir.ok());
  return std::make_shared<const Dir>(std::move(*dir));
}

// A capture into the file `name` of `dir`.
OutputCapture Capture(const TempDir& dir, const std::string& name, std::uint64_t max_bytes) {
  return OutputCapture(OpenDir(dir.str()), name, dir / name, max_bytes);
}

TEST_CASE("A capture that receives nothing creates no file") {
  TempDir dir;
  OutputCapture capture = Capture(dir, "out", 0);
  capture.Finish();
  CHECK_FALSE(fs::exists(dir / "out"));
  CHECK(capture.bytes() == 0);
}

TEST_CASE("A capture without a cap writes everything") {
  TempDir dir;
  OutputCapture capture = Capture(dir, "out", 0);
  capture.Append("hello ", 6);
  capture.Append("world", 5);
  capture.Finish();
  CHECK(ReadFile(dir / "out") == "hello world");
  CHECK(capture.bytes() == 11);
  CHECK_FALSE(capture.truncated());
  CHECK(capture.error().empty());
}

TEST_CASE("A capture never overwrites a file already at its name, and says why") {
  TempDir dir;
  std::ofstream(dir / "out") << "an earlier attempt's output";
  OutputCapture capture = Capture(dir, "out", 0);
  capture.Append("hello", 5);
  capture.Finish();
  CHECK(ReadFile(dir / "out") == "an earlier attempt's output");
  CHECK(capture.error() ==
        "cannot create output file " + (dir / "out") + ": File exists" + OutputFileExistsNote());
  CHECK(capture.bytes() == 5);
}

TEST_CASE("A capture never writes through a link at its name, dangling or not") {
  TempDir dir;
  TempDir elsewhere;
  std::ofstream(elsewhere / "precious") << "keep";
  fs::create_symlink(elsewhere / "precious", dir / "out");
  fs::create_symlink(elsewhere / "not-yet", dir / "err");
  for (const char* name : {"out", "err"}) {
    OutputCapture capture = Capture(dir, name, 0);
    capture.Append("overwritten?", 12);
    capture.Finish();
    CHECK_THAT(capture.error(), Catch::Contains("symbolic link"));
  }
  CHECK(ReadFile(elsewhere / "precious") == "keep");
  CHECK_FALSE(fs::exists(elsewhere / "not-yet"));
}

TEST_CASE("Output that exactly fills the cap is not truncated") {
  TempDir dir;
  OutputCapture capture = Capture(dir, "out", 4);
  capture.Append("ab", 2);
  capture.Append("cd", 2);
  capture.Finish();
  CHECK(ReadFile(dir / "out") == "abcd");
  CHECK_FALSE(capture.truncated());
}

TEST_CASE("Output past the cap is counted, dropped and marked when the stream ends") {
  TempDir dir;
  OutputCapture capture = Capture(dir, "out", 4);
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
  fs::create_directory(dir / "gone");
  OutputCapture capture(OpenDir(dir / "gone"), "out", dir / "gone/out", 0);
  fs::remove(dir / "gone");
  capture.Append("abc", 3);
  capture.Append("de", 2);
  capture.Finish();
  CHECK(capture.error() ==
        "cannot create output file " + (dir / "gone/out") + ": No such file or directory");
  CHECK(capture.bytes() == 5);
  CHECK_FALSE(capture.truncated());
}

TEST_CASE("A capture that meets a full disk says so, with the path and the reason") {
  // /dev/full answers every write with ENOSPC, as a full file system does.
  StatusOr<UniqueFd> full = OpenFile("/dev/full", OpenFlags::kWrite);
  REQUIRE(full.ok());
  OutputCapture capture = OutputCapture::Adopt(std::move(*full), "/dev/full", 0);
  capture.Append("x", 1);
  capture.Finish();
  CHECK(capture.disk_full());
  CHECK(capture.error().find("/dev/full") != std::string::npos);
  CHECK(capture.error().find("No space left on device") != std::string::npos);
}

TEST_CASE("A capture that cannot create its file for another reason is not a full disk") {
  TempDir dir;
  // A directory that is gone by the time output arrives.
  fs::create_directory(dir / "missing");
  std::shared_ptr<const Dir> missing = OpenDir(dir / "missing");
  fs::remove(dir / "missing");
  OutputCapture capture(missing, "out", dir / "missing/out", 0);
  capture.Append("x", 1);
  CHECK_FALSE(capture.error().empty());
  CHECK_FALSE(capture.disk_full());
}

TEST_CASE("The tail holds the whole stream while it is short") {
  TempDir dir;
  OutputCapture capture = Capture(dir, "err", 0);
  capture.Append("first line\n", 11);
  capture.Append("second", 6);
  CHECK(capture.tail() == "first line\nsecond");
}

TEST_CASE("The tail holds the last bytes of a long stream, also those past the cap") {
  TempDir dir;
  OutputCapture capture = Capture(dir, "err", 10);
  std::string written;
  for (int i = 0; i < 300; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    written += line;
    capture.Append(line.data(), line.size());
  }
  capture.Finish();
  CHECK(capture.tail() == written.substr(written.size() - OutputCapture::kTailBytes));
}

TEST_CASE("A read longer than the tail replaces it, and a short one after it rotates it") {
  OutputCapture capture;
  const std::string big(2000, 'x');
  capture.Append(big.data(), big.size());
  capture.Append("end", 3);
  CHECK(capture.tail() == std::string(OutputCapture::kTailBytes - 3, 'x') + "end");
}

}  // namespace
}  // namespace jobrunner
