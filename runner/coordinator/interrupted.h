#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "coordinator/results.h"
#include "journal/journal.h"
#include "journal/run_ledger.h"
#include "manifest/task_source.h"

namespace jobrunner {

// Closes every attempt `ledger` has in flight (dispatched, with no result) as interrupted: a run
// stopping now (Coordinator::StopNow), or one found stopped (PrepareResume). Each gets a
// TaskFinished record, added to `journal` and the ledger, and a results.jsonl line
// marked `recovered` or not. Such an attempt may have run partly, or fully without its result
// reaching the coordinator, so it runs again on resume. `command`, if given, says what each ran,
// for its line. Returns how many it closed.
std::size_t RecordInFlightAsInterrupted(
    const TaskSource& source, const Clock& clock, bool recovered, RunLedger& ledger,
    JournalSink& journal, ResultsWriter& results,
    const std::function<std::string(const RunLedger::Unfinished&)>& command = {});

// Closes the attempts `ledger` has in flight on the worker of rank `worker_rank` as worker_lost:
// that worker died, or stopped answering, with them. Each record's exit_code holds how many there
// were; an attempt that was the only one completes the evidence against its task at its
// kWorkerDeathsToFail-th such death, and fails it for good. Returns the ids of the tasks failed.
std::vector<std::string> RecordInFlightAsLost(const TaskSource& source, const Clock& clock,
                                              bool recovered, std::int32_t worker_rank,
                                              RunLedger& ledger, JournalSink& journal,
                                              ResultsWriter& results);

}  // namespace jobrunner
