#pragma once

// The tasks of a run that failed for good or were skipped: `jobrunner failed`, and the failures
// `jobrunner status` and the report show.

#include <ostream>
#include <string>
#include <vector>

#include "inspect/results_file.h"
#include "inspect/run_history.h"

namespace jobrunner {

// The last results line of each task that failed with no retry left or was skipped, in task
// order. With a journal's `history`, a task counts when the journal says so (StateOf with
// `live`): a task that --resume --retry-failed is running again does not. Without one (a run
// with --no-journal), the lines alone decide.
std::vector<AttemptLine> FinalFailures(const std::string& run_dir, const RunHistory* history,
                                       bool live);

// `jobrunner failed`: one line per such task, "<task id> TAB <outcome> TAB <reason>", the reason
// on one line (FailureReason, control characters as spaces).
void PrintFailedTasks(const std::vector<AttemptLine>& failures, std::ostream& out);

}  // namespace jobrunner
