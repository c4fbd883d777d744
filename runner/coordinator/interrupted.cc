#include "coordinator/interrupted.h"

namespace jobrunner {

std::size_t RecordInFlightAsInterrupted(
    const TaskSource& source, const Clock& clock, bool recovered, RunLedger& ledger,
    JournalSink& journal, ResultsWriter& results,
    const std::function<std::string(const RunLedger::Unfinished&)>& command) {
  std::size_t closed = 0;
  for (const RunLedger::Unfinished& u : ledger.InFlight()) {
    if (u.index >= source.size()) continue;  // a task of a longer manifest (resume --force)
    TaskFinishedRecord record;
    record.index = u.index;
    record.attempt = u.attempt;
    record.worker_rank = u.worker_rank;
    record.outcome = JournalOutcome::kInterrupted;
    // The start is known when its worker reported it (TaskStarted), else unknown: the worker may
    // not have begun it. The end time marks an attempt that may have run, unlike one dropped
    // from a worker's queue, which has neither.
    record.start_ms = u.start_ms;
    record.end_ms = clock.UnixMs();
    journal.Add(record);
    ledger.Apply(record);
    results.FromJournal(source.Id(u.index), record, recovered, nullptr,
                        command ? command(u) : std::string());
    ++closed;
  }
  return closed;
}

std::vector<std::string> RecordInFlightAsLost(const TaskSource& source, const Clock& clock,
                                              bool recovered, std::int32_t worker_rank,
                                              RunLedger& ledger, JournalSink& journal,
                                              ResultsWriter& results) {
  std::vector<RunLedger::Unfinished> lost;
  for (const RunLedger::Unfinished& u : ledger.InFlight()) {
    if (u.worker_rank == worker_rank && u.index < source.size()) lost.push_back(u);
  }
  std::vector<std::string> failed;
  for (const RunLedger::Unfinished& u : lost) {
    TaskFinishedRecord record;
    record.index = u.index;
    record.attempt = u.attempt;
    record.worker_rank = u.worker_rank;
    record.outcome = JournalOutcome::kWorkerLost;
    record.exit_code = static_cast<std::int32_t>(lost.size());
    record.end_ms = clock.UnixMs();
    const bool convicted =
        lost.size() == 1 && ledger.AloneWorkerDeaths(u.index) + 1 >= kWorkerDeathsToFail;
    record.will_retry = !convicted;
    journal.Add(record);
    ledger.Apply(record);
    results.FromJournal(source.Id(u.index), record, recovered);
    if (convicted) failed.push_back(source.Id(u.index));
  }
  return failed;
}

}  // namespace jobrunner
