#include "posix/lock_probe.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "temp_dir.h"

using jobrunner::IsFileLocked;

TEST_CASE("A lock held on a file is seen without taking it, whichever kind it is") {
  jobrunner::testing::TempDir dir;
  const std::string path = dir / ".lock";
  std::ofstream(path).close();
  REQUIRE(IsFileLocked(path).ok());
  CHECK_FALSE(*IsFileLocked(path));

  const int holder = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(holder >= 0);
  REQUIRE(::flock(holder, LOCK_EX | LOCK_NB) == 0);
  CHECK(*IsFileLocked(path));
  // Asking did not take the lock or disturb it: the holder still has it, another cannot take it.
  const int other = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  CHECK(::flock(other, LOCK_EX | LOCK_NB) != 0);
  ::close(holder);
  CHECK_FALSE(*IsFileLocked(path));
  CHECK(::flock(other, LOCK_EX | LOCK_NB) == 0);
  ::close(other);

  // A byte-range lock, as NFS makes of an flock, is seen too.
  const int ranged = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  REQUIRE(::fcntl(ranged, F_OFD_SETLK, &whole) == 0);
  CHECK(*IsFileLocked(path));
  ::close(ranged);
  CHECK_FALSE(*IsFileLocked(path));
}

TEST_CASE("Asking about a missing file is an error naming it") {
  jobrunner::testing::TempDir dir;
  const auto locked = IsFileLocked(dir / "missing");
  REQUIRE_FALSE(locked.ok());
  CHECK_THAT(locked.status().message(), Catch::Contains("missing"));
}
