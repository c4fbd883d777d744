#pragma once

#include <string>
#include <vector>

#include "coordinator/reporter.h"
#include "manifest/task_source.h"
#include "posix/dir.h"

namespace jobrunner {

// `gather:` of a manifest entry, done by the coordinator once the run has ended, from
// results.jsonl (so tasks that succeeded in earlier runs of a resumed run count too). An entry is
// gathered only when every one of its tasks has succeeded; the file is then written whole
// (under a temporary name, renamed into place), never half:
//   concat  gathered/<label>.out: in task order, each task's bulk output (a kind's data file) or
//           its stdout (a command).
//   sum     gathered/<label>.json: {"tasks": N, "sum": {field: total, ...}} over the numeric
//           fields of each task's result (a kind's result object), or of its stdout read as JSON
//           (a command printing `42` or `{"rows": 42}`; a bare number sums as "value").
// <label> is the entry's id with its placeholders taken out ("grep-{n}" gives "grep").
struct GatherOutcome {
  std::string label;
  std::string path;  // absolute; empty when not written
  std::string note;  // why not, or what was gathered
};

// Files are read and written through `run_dir` (the run directory, its lock held), never
// through a link inside it.
std::vector<GatherOutcome> GatherOutputs(const TaskSource& source, const Dir& run_dir);

// The file label of an entry's gathered output.
std::string GatherLabel(const TaskEntry& entry, std::size_t entry_number);

}  // namespace jobrunner
