#include "posix/child_environment.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace jobrunner {
namespace {

std::vector<std::string> Entries(char* const* envp) {
  std::vector<std::string> entries;
  for (; *envp != nullptr; ++envp) entries.emplace_back(*envp);
  return entries;
}

// environ is an array of mutable strings; so is this.
struct FakeParent {
  std::vector<std::string> storage = {
      "PATH=/bin",  "OMPI_COMM_WORLD_RANK=1", "PMIX_RANK=1", "OPAL_PREFIX=/opt", "ORTE_X=1",
      "OMPIX=kept", "PATHLIKE=kept"};
  std::vector<char*> pointers;
  FakeParent() {
    for (auto& entry : storage) pointers.push_back(entry.data());
    pointers.push_back(nullptr);
  }
};

TEST_CASE("The child environment drops the parent's MPI variables and keeps the rest") {
  FakeParent parent;
  ChildEnvironment environment(parent.pointers.data());
  CHECK(Entries(environment.With({})) ==
        std::vector<std::string>{"PATH=/bin", "OMPIX=kept", "PATHLIKE=kept"});
}

TEST_CASE("The task's variables replace same-name entries and are added once") {
  FakeParent parent;
  ChildEnvironment environment(parent.pointers.data());
  CHECK(Entries(environment.With({{"PATH", "/opt/bin"}, {"NEW", "a=b"}})) ==
        std::vector<std::string>{"OMPIX=kept", "PATHLIKE=kept", "PATH=/opt/bin", "NEW=a=b"});
  CHECK(Entries(environment.With({{"OMPI_COMM_WORLD_RANK", "7"}})) ==
        std::vector<std::string>{"PATH=/bin", "OMPIX=kept", "PATHLIKE=kept",
                                 "OMPI_COMM_WORLD_RANK=7"});
}

}  // namespace
}  // namespace jobrunner
