#pragma once

// Which manifest entry each task index came from, for the report's durations per entry.

#include <cstdint>
#include <string>
#include <vector>

namespace jobrunner {

struct EntryGroups {
  std::vector<std::string> labels;         // "sim-{n} (line 4, 100 tasks)"
  std::vector<std::uint64_t> first_index;  // of each entry, ascending; first_index[0] == 0

  // The entry of task `index`.
  std::size_t Of(std::uint64_t index) const;
};

// The entries of the manifest copy in <run_dir>/manifest.yaml. Tasks are numbered in entry
// order, so each entry is a range of indices. When the copy cannot be read, or its entries do not
// add up to `task_count` (0: do not check), every task is in one group, "all tasks".
EntryGroups ReadEntryGroups(const std::string& run_dir, std::uint64_t task_count);

}  // namespace jobrunner
