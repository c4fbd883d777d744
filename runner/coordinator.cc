#include "coordinator.h"

#include <algorithm>
#include <utility>

#include "units.h"

namespace jobrunner {
namespace {
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kMaxIdleWait{5};
constexpr milliseconds kResultsFlushInterval{1000};
// Failed tasks named one by one on the console; the rest are only in results.jsonl.
constexpr std::uint64_t kFailuresToReport = 20;
constexpr std::size_t kFailedInSummary = 10;

std::int64_t SteadyMs() {
  return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
}

std::string Describe(const AttemptResult& r) {
  switch (r.outcome) {
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed with exit status " + std::to_string(r.exit_code);
    case Outcome::kSignaled:
      return "was killed by signal " + std::to_string(r.signal);
    case Outcome::kTimedOut:
      return "timed out";
    case Outcome::kSpawnError:
      return "could not start: " + r.error;
  }
  return "ended";
}

}  // namespace

Coordinator::Coordinator(Transport& transport, const TaskSource& source, ResultsWriter& results,
                         Reporter& reporter, RunOptions options)
    : transport_(transport),
      source_(source),
      results_(results),
      reporter_(reporter),
      options_(std::move(options)),
      scheduler_(source.size(), Scheduler::Options{options_.retry, 1024}),
      started_(Clock::now()),
      last_flush_(started_) {}

std::int64_t Coordinator::ElapsedMs() const {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - started_).count();
}

void Coordinator::OnHello(int from, const std::string& payload) {
  Hello hello = Decode<Hello>(payload);
  if (hello.protocol_version != kProtocolVersion) {
    Finish(3, "worker rank " + std::to_string(hello.rank) + " on " + hello.host +
                  " speaks protocol version " + std::to_string(hello.protocol_version) +
                  ", the coordinator " + std::to_string(kProtocolVersion) +
                  ": run the same jobrunner build on every node");
    return;
  }
  workers_[from] = WorkerInfo{hello.rank, hello.host, std::max(1, hello.cores)};
}

void Coordinator::WelcomeWorkers() {
  std::map<std::string, int> per_host;
  for (const auto& [from, w] : workers_) per_host[w.host]++;
  for (const auto& [from, w] : workers_) {
    Welcome welcome;
    welcome.slots = options_.slots > 0 ? options_.slots : std::max(1, w.cores / per_host[w.host]);
    welcome.run_dir = options_.run_dir;
    welcome.max_output = options_.max_output;
    welcome.kill_grace_ms = options_.kill_grace_ms;
    transport_.Send(from, welcome);
    scheduler_.AddWorker(from, welcome.slots);
    reporter_.Verbose("worker rank " + std::to_string(w.rank) + " on " + w.host + ": " +
                      std::to_string(welcome.slots) + " slots");
  }
  welcomed_ = true;
}

void Coordinator::OnResults(int from, const std::string& payload) {
  ResultBatch batch = Decode<ResultBatch>(payload);
  const WorkerInfo& w = workers_[from];
  for (const AttemptResult& r : batch.results) {
    if (r.index >= source_.size()) continue;
    const TaskEntry& entry = source_.EntryOf(r.index);
    std::int64_t duration = r.end_ms - r.start_ms;
    Scheduler::Verdict verdict =
        scheduler_.OnResult(from, r.index, r.attempt, r.outcome, entry.retries,
                            static_cast<double>(duration), SteadyMs());
    if (verdict == Scheduler::Verdict::kIgnored) continue;
    std::string id = source_.Id(r.index);
    bool retrying = verdict == Scheduler::Verdict::kRetrying;
    results_.Attempt(id, r, w.rank, w.host, retrying);
    ++attempts_;
    slowest_.Offer(id, r.attempt, duration);

    std::string what = "task " + id + " attempt " + std::to_string(r.attempt) + " on rank " +
                       std::to_string(w.rank) + " (" + w.host + ") " + Describe(r);
    if (r.outcome == Outcome::kSucceeded) {
      reporter_.Verbose(what);
      continue;
    }
    if (!retrying && failed_.size() < kFailedInSummary) failed_.push_back(id);
    what += retrying ? "; retrying" : r.attempt > 1 ? " (no retries left)" : "";
    if (failures_reported_++ < kFailuresToReport) {
      reporter_.Warn(what);
    } else {
      if (failures_reported_ == kFailuresToReport + 1) {
        reporter_.Warn("further failures are recorded in results.jsonl only");
      }
      reporter_.Verbose(what);
    }
  }
}

void Coordinator::Dispatch(std::int64_t now_ms) {
  std::map<int, TaskBatch> batches;
  for (const Scheduler::Assignment& a : scheduler_.Assign(now_ms)) {
    batches[a.worker].tasks.push_back(source_.Render(a.index, a.attempt));
  }
  for (const auto& [worker, batch] : batches) transport_.Send(worker, batch);
}

Progress Coordinator::CurrentProgress() const {
  Progress p;
  p.total = source_.size();
  p.succeeded = scheduler_.FinalCount(Outcome::kSucceeded);
  p.failed = scheduler_.FinalTotal() - p.succeeded;
  p.running = scheduler_.Running();
  p.retrying = scheduler_.WaitingRetries();
  p.elapsed_ms = ElapsedMs();
  return p;
}

void Coordinator::Finish(int exit_status, const std::string& message) {
  if (finished_) return;
  finished_ = true;
  exit_status_ = exit_status;
  for (const auto& [from, w] : workers_) transport_.Send(from, Shutdown{exit_status, message});
  if (!message.empty()) reporter_.Error(message);

  RunSummary s;
  s.tasks = source_.size();
  for (int i = 0; i < kOutcomeCount; ++i) s.by_outcome[i] = scheduler_.FinalCount(Outcome(i));
  s.not_run = s.tasks - scheduler_.FinalTotal();
  s.attempts = attempts_;
  s.retried = scheduler_.Retried();
  s.wall_ms = ElapsedMs();
  s.slowest = slowest_.Sorted();
  s.failed = failed_;
  s.failed_total = scheduler_.FinalTotal() - scheduler_.FinalCount(Outcome::kSucceeded);
  s.exit_status = exit_status;
  s.run_dir = options_.run_dir;
  results_.Summary(s);
  results_.Flush();
  reporter_.Finish(CurrentProgress());
  reporter_.Summary(FormatSummary(s));
}

milliseconds Coordinator::Step() {
  if (finished_) return milliseconds(0);
  bool active = false;
  // Bounded, so that a flood of results cannot starve dispatching and progress.
  for (int i = 0; i < 256 && !finished_; ++i) {
    std::optional<Envelope> e = transport_.Receive();
    if (!e) break;
    active = true;
    if (e->tag == Tag::kHello) OnHello(e->from, e->payload);
    if (e->tag == Tag::kResultBatch) OnResults(e->from, e->payload);
  }
  if (finished_) return milliseconds(0);
  if (!welcomed_ && static_cast<int>(workers_.size()) == transport_.size() - 1) WelcomeWorkers();
  if (welcomed_) {
    Dispatch(SteadyMs());
    if (scheduler_.Finished()) {
      Finish(scheduler_.FinalCount(Outcome::kSucceeded) == source_.size() ? 0 : 1, "");
      return milliseconds(0);
    }
  }
  if (Clock::now() - last_flush_ >= kResultsFlushInterval) {
    results_.Flush();
    last_flush_ = Clock::now();
  }
  reporter_.Update(CurrentProgress());
  transport_.Flush();

  idle_wait_ =
      active ? milliseconds(0) : std::min(kMaxIdleWait, std::max(milliseconds(1), idle_wait_ * 2));
  milliseconds wait = idle_wait_;
  if (std::optional<std::int64_t> due = scheduler_.NextRetryAt()) {
    wait = std::min(wait, milliseconds(std::max<std::int64_t>(1, *due - SteadyMs())));
  }
  return wait;
}

}  // namespace jobrunner
