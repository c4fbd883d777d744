#include "posix/unique_fd.h"

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <utility>

namespace jobrunner {
namespace {

int OpenDevNull() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST_CASE("A UniqueFd closes its fd when it goes") {
  int fd = -1;
  {
    UniqueFd owner(OpenDevNull());
    fd = owner.get();
    REQUIRE(fd >= 0);
    CHECK(owner);
    CHECK(IsOpen(fd));
  }
  CHECK_FALSE(IsOpen(fd));
}

TEST_CASE("A moved UniqueFd hands its fd over and holds nothing after") {
  UniqueFd first(OpenDevNull());
  const int fd = first.get();
  UniqueFd second(std::move(first));
  CHECK(second.get() == fd);
  CHECK_FALSE(first);
  CHECK(first.get() == -1);

  UniqueFd third(OpenDevNull());
  const int replaced = third.get();
  third = std::move(second);
  CHECK(third.get() == fd);
  CHECK_FALSE(second);
  CHECK_FALSE(IsOpen(replaced));  // assigning over an owner closes what it held
  CHECK(IsOpen(fd));
}

TEST_CASE("Resetting a UniqueFd closes the old fd and holds the new one") {
  UniqueFd owner(OpenDevNull());
  const int old_fd = owner.get();
  const int new_fd = OpenDevNull();
  owner.Reset(new_fd);
  CHECK_FALSE(IsOpen(old_fd));
  CHECK(owner.get() == new_fd);
  owner.Reset();
  CHECK_FALSE(owner);
  CHECK_FALSE(IsOpen(new_fd));
}

TEST_CASE("A default UniqueFd holds nothing and closes nothing") {
  UniqueFd empty;
  CHECK_FALSE(empty);
  CHECK(empty.get() == -1);
  empty.Reset();
  CHECK_FALSE(empty);
}

}  // namespace
}  // namespace jobrunner
