#include "coordinator/interrupted.h"

namespace jobrunner {

std::size_t RecordInFlightAsInterrupted(const TaskSource& source, const Clock& clock,
                                        bool recovered, RunLedger& ledger, JournalWriter* journal,
                                        ResultsWriter& results) {
  std::size_t closed = 0;
  for (const RunLedger::Unfinished& u : ledger.InFlight()) {
    if (u.index >= source.size()) continue;  // a task of a longer manifest (resume --force)
    TaskFinishedRecord record;
    record.index = u.index;
    record.attempt = u.attempt;
    record.worker_rank = u.worker_rank;
    record.outcome = JournalOutcome::kInterrupted;
    // The start is unknown (the worker may not have begun it); the end time marks an attempt
    // that may have run, unlike one dropped from a worker's queue, which has neither.
    record.end_ms = clock.UnixMs();
    if (journal != nullptr) journal->Add(record, clock);
    ledger.Apply(record);
    results.FromJournal(source.Id(u.index), record, recovered);
    ++closed;
  }
  return closed;
}

}  // namespace jobrunner
