#include "posix/shared_library.h"

#include <catch2/catch.hpp>
#include <string>

namespace jobrunner {
namespace {

TEST_CASE("A shared library that cannot be loaded says why in the dynamic linker's words") {
  StatusOr<SharedLibrary> library = SharedLibrary::Load("/jobrunner-no-such-library.so");
  REQUIRE_FALSE(library.ok());
  CHECK(library.status().message().find("/jobrunner-no-such-library.so") != std::string::npos);
}

TEST_CASE("A loaded shared library finds the functions it has, and only those") {
  StatusOr<SharedLibrary> library = SharedLibrary::Load(EXAMPLE_PLUGIN);
  REQUIRE(library.ok());
  auto api = library->Function<int (*)()>("jobrunner_task_kind_api");
  REQUIRE(api != nullptr);
  CHECK(api() > 0);
  CHECK(library->Function<void (*)()>("jobrunner_no_such_function") == nullptr);
}

}  // namespace
}  // namespace jobrunner
