#pragma once

#include <cstddef>

#include "base/clock.h"
#include "coordinator/results.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "manifest/task_source.h"

namespace jobrunner {

// Closes every attempt `ledger` has in flight (dispatched, with no result) as interrupted: a run
// stopping now (Coordinator::StopNow), or one found stopped (PrepareResume). Each gets a
// TaskFinished record, added to `journal` (unless null) and the ledger, and a results.jsonl line
// marked `recovered` or not. Such an attempt may have run partly, or fully without its result
// reaching the coordinator, so it runs again on resume. Returns how many it closed.
std::size_t RecordInFlightAsInterrupted(const TaskSource& source, const Clock& clock,
                                        bool recovered, RunLedger& ledger, JournalWriter* journal,
                                        ResultsWriter& results);

}  // namespace jobrunner
