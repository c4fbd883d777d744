#include "coordinator/record_writer.h"

#include <stdexcept>
#include <utility>

#include "base/text.h"

namespace jobrunner {
namespace {

EventFd MakeEventFd() {
  StatusOr<EventFd> wake = EventFd::Create();
  if (!wake.ok()) {
    throw std::runtime_error("cannot create an eventfd for the journal writer: " +
                             wake.status().message());
  }
  return std::move(*wake);
}

// A buffer that once held a burst of records (a resume's recovered lines, say) is not kept at
// that size for the rest of the run.
constexpr std::size_t kBufferKept = 4u << 20;

void Recycle(std::string& buffer) {
  if (buffer.capacity() > kBufferKept) {
    std::string().swap(buffer);
  } else {
    buffer.clear();
  }
}

}  // namespace

RecordWriter::RecordWriter(JournalWriter* journal, ResultsWriter& results, Mode mode)
    : journal_(journal), results_(results), mode_(mode), wake_(MakeEventFd()) {
  if (mode_ == Mode::kOwnThread) thread_ = std::thread([this] { Loop(); });
}

RecordWriter::~RecordWriter() {
  try {
    Commit();
    if (mode_ == Mode::kCallerWrites) WriteCommitted();
  } catch (...) {
    // Nowhere to report from here; Flush() reports to callers that care.
  }
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_.notify_one();
    thread_.join();
  }
}

void RecordWriter::Add(const JournalRecord& record) {
  if (journal_ != nullptr) AppendFramedRecord(record, open_);
}

RecordWriter::Ticket RecordWriter::Commit() {
  if (failed_.load(std::memory_order_acquire)) Rethrow();
  if (open_.empty() && !results_.has_lines()) return committed_;
  ++committed_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    MoveTextTo(pending_.journal, open_);
    results_.TakeLines(pending_.results);
    pending_.ticket = committed_;
  }
  work_.notify_one();
  return committed_;
}

RecordWriter::Ticket RecordWriter::Durable() {
  if (failed_.load(std::memory_order_acquire)) Rethrow();
  if (journal_ == nullptr) return committed_;
  // Cleared before synced_ is read: a sync that ends after this read signals again, so the
  // coordinator's wait cannot miss it.
  if (woken_.exchange(false, std::memory_order_acq_rel)) wake_.Clear();
  return synced_.load(std::memory_order_acquire);
}

void RecordWriter::Flush() {
  Commit();
  if (mode_ == Mode::kCallerWrites) {
    WriteCommitted();
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return written_ >= committed_ || failure_ != nullptr; });
  }
  if (failed_.load(std::memory_order_acquire)) Rethrow();
}

void RecordWriter::WriteCommitted() {
  Batch batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_ != nullptr || pending_.ticket == 0) return;
    std::swap(batch, pending_);
  }
  Write(batch);
}

void RecordWriter::Loop() {
  // Swapped with pending_: the writer's emptied buffers go back for the coordinator to fill.
  Batch batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [this] { return pending_.ticket != 0 || stopping_; });
      if (pending_.ticket == 0) return;  // stopping, and everything is written
      std::swap(batch, pending_);
    }
    if (!Write(batch)) return;
    Recycle(batch.journal);
    Recycle(batch.results);
    batch.ticket = 0;
  }
}

bool RecordWriter::Write(Batch& batch) {
  try {
    if (journal_ != nullptr) {
      if (!batch.journal.empty()) {
        journal_->AddFramed(batch.journal);
        journal_->Sync();
      }
      synced_.store(batch.ticket, std::memory_order_release);
      Woke();
    }
    // Only now: a line reaches results.jsonl after the journal record behind it is on disk.
    if (!batch.results.empty()) results_.Write(batch.results);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failure_ = std::current_exception();
    }
    failed_.store(true, std::memory_order_release);
    done_.notify_all();
    Woke();
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    written_ = batch.ticket;
  }
  done_.notify_all();
  return true;
}

// Signal before the flag: the reverse could leave the fd readable with the flag down, and the
// coordinator's loop spinning on a wake that Durable() never clears.
void RecordWriter::Woke() {
  wake_.Signal();
  woken_.store(true, std::memory_order_release);
}

void RecordWriter::Rethrow() {
  std::exception_ptr failure;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failure = failure_;
  }
  std::rethrow_exception(failure);
}

}  // namespace jobrunner
