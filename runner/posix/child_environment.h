#pragma once

#include <string>
#include <utility>
#include <vector>

namespace jobrunner {

// The environment a child starts with: the parent's, minus the variables by which Open MPI and
// PMIx recognize their own processes (OMPI_, PMIX_, OPAL_, ORTE_), so that a task that is itself
// an MPI program does not think it is part of our job, plus the task's own variables.
class ChildEnvironment {
 public:
  // Copies `parent` (a null-terminated "KEY=value" array such as environ) once, so that building
  // a child's environment costs nothing when the task sets no variables.
  explicit ChildEnvironment(char* const* parent);

  // The filtered parent environment with `overrides` replacing same-name entries. Null-terminated,
  // valid until the next call.
  char* const* With(const std::vector<std::pair<std::string, std::string>>& overrides);

 private:
  std::vector<std::string> base_;
  std::vector<char*> base_pointers_;
  std::vector<std::string> merged_;  // the overrides as KEY=value, reused from call to call
  std::vector<char*> merged_pointers_;
};

}  // namespace jobrunner
