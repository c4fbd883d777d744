#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "manifest/task_input.h"

namespace jobrunner {

// `jobrunner --check MANIFEST`: reads the manifest (or command list) as a run would (ids,
// dependencies, task kinds and plugins), prints its task count and any warnings, and returns 0,
// or 2 after printing the error. No MPI, nothing runs.
int Check(const std::string& manifest, const InputOptions& options,
          const std::vector<std::string>& plugins);

// `jobrunner --dry-run`: the same checks, then the first `shown` tasks as they would run: id,
// where it comes from (file:line), the command with its shell, cwd, the environment added, and
// what it asks of a worker. Prints only what it shows, so a list of 10^7 lines costs one pass.
int DryRun(const std::string& manifest, const InputOptions& options,
           const std::vector<std::string>& plugins, std::uint64_t shown);

}  // namespace jobrunner
