#include "base/status.h"

#include <catch2/catch.hpp>
#include <string>

using jobrunner::Status;
using jobrunner::StatusOr;

TEST_CASE("A Status is ok without a message, and an error keeps its message") {
  CHECK(Status::Ok().ok());
  CHECK(Status::Ok().message().empty());
  const Status error = Status::Error("no such host: node9");
  CHECK_FALSE(error.ok());
  CHECK(error.message() == "no such host: node9");
}

TEST_CASE("A StatusOr holds either a value or the error that explains its absence") {
  StatusOr<int> value = 42;
  REQUIRE(value.ok());
  CHECK(*value == 42);
  CHECK(value.status().ok());

  StatusOr<std::string> missing = Status::Error("cannot read hostfile h.txt");
  CHECK_FALSE(missing.ok());
  CHECK(missing.status().message() == "cannot read hostfile h.txt");
}

TEST_CASE("An error may carry a code that says what kind of failure it was") {
  CHECK(Status::Ok().code() == 0);
  CHECK(Status::Error("bad flag").code() == 0);
  const Status full = Status::Error("No space left on device", 28);
  CHECK(full.message() == "No space left on device");
  CHECK(full.code() == 28);
}
