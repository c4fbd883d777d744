#pragma once

// The run's records on their way to disk, written on a thread of their own so that the
// coordinator never waits for the disk.
//
// The coordinator's thread adds journal records (Add) and formats results.jsonl lines into its
// ResultsWriter; Commit hands both over as one batch and returns the batch's ticket. The writer
// thread takes every batch committed since it last looked, writes their records to the journal
// and syncs them with one fdatasync (group commit: however many records arrived meanwhile), and
// only then writes their results.jsonl lines. So a results line is always backed by a synced
// journal record, and --resume can restore any line a crash kept out. The thread starts a sync
// as soon as something is pending and its previous sync has finished: a record waits at most
// about one fdatasync, and never for a timer.
//
// Durable() says up to which ticket the records are synced. What must not happen before its
// records are on disk waits for that: the coordinator sends a task's TaskBatch only once the
// record of its dispatch is durable, so that a crash can never lose the knowledge that an
// attempt number was used (a resume would run the task again under the same number and
// overwrite its logs). wake_fd() becomes readable when a sync ends, for the coordinator's loop
// to wait on beside its timeout.
//
// A failed write or sync (JournalError, ResultsError) stops the writer; the failure is thrown
// again on the coordinator's thread by the next Commit, Durable or Flush, so the run ends exactly
// as if the coordinator had written the records itself (exit 4: the journal is intact up to its
// last synced record, and the run resumable).
//
// Without a journal (--no-journal) nothing waits: every ticket is durable at once, and the
// thread only writes results.jsonl.
//
// Threads: every member function but the destructor is for the coordinator's thread (the one that
// owns the transport); the writer thread touches only the JournalWriter, ResultsWriter::Write and
// this class's shared state.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "coordinator/results.h"
#include "journal/journal.h"
#include "posix/event_fd.h"

namespace jobrunner {

class RecordWriter final : public JournalSink {
 public:
  using Ticket = std::uint64_t;

  enum class Mode {
    kOwnThread,  // a run: the writer thread writes and syncs
    // Nothing happens in the background: WriteCommitted writes and syncs on the caller's thread.
    // For tests that step the coordinator by hand and decide when a sync ends.
    kCallerWrites,
  };

  // `journal` is null with --no-journal. Both `journal` and `results` must outlive this writer,
  // and nothing else may write to them while it lives (the coordinator still formats lines into
  // `results`: see ResultsWriter). Throws std::runtime_error when the thread cannot be set up.
  RecordWriter(JournalWriter* journal, ResultsWriter& results, Mode mode = Mode::kOwnThread);
  // Commits and writes what is left, then stops the thread. Failures are lost here: call Flush
  // first wherever they matter.
  ~RecordWriter() override;
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Adds `record` to the open batch (with no journal, drops it).
  void Add(const JournalRecord& record) override;
  // Hands the open batch over: its records and the lines formatted into the ResultsWriter since
  // the last Commit. Returns the ticket of the last batch committed (unchanged when nothing was
  // added since). Throws the writer's failure.
  Ticket Commit();
  // Every batch up to this ticket has its records synced (without a journal: every batch
  // committed). Throws the writer's failure.
  Ticket Durable();
  // Readable once a sync has ended (or a write failed) since Durable() last looked.
  int wake_fd() const { return wake_.fd(); }
  // Commits, then waits until every batch is synced and its lines written. Throws the writer's
  // failure. For the end of a run.
  void Flush();

  bool journaled() const { return journal_ != nullptr; }

  // Mode::kCallerWrites: writes and syncs the batches committed so far, on this thread.
  void WriteCommitted();

 private:
  struct Batch {
    std::string journal;  // framed records (AppendFramedRecord)
    std::string results;  // whole results.jsonl lines
    Ticket ticket = 0;    // of the last batch merged into this one; 0: none (tickets start at 1)
  };

  void Loop();
  // Writes `batch`; false when that failed (the failure is kept for the coordinator's thread).
  bool Write(Batch& batch);
  void Woke();
  [[noreturn]] void Rethrow();

  JournalWriter* const journal_;
  ResultsWriter& results_;
  const Mode mode_;
  EventFd wake_;

  // The coordinator's thread only.
  std::string open_;  // framed records of the open batch
  Ticket committed_ = 0;

  std::mutex mutex_;
  std::condition_variable work_;  // the writer thread waits on it for batches
  std::condition_variable done_;  // Flush waits on it for the writer
  Batch pending_;                 // committed, not yet taken by the writer (guarded)
  Ticket written_ = 0;            // lines written up to this ticket (guarded)
  bool stopping_ = false;         // guarded
  std::exception_ptr failure_;    // guarded
  std::atomic<Ticket> synced_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> woken_{false};  // wake_ may be readable: Durable clears it
  std::thread thread_;              // last: started once everything above exists
};

}  // namespace jobrunner
