#include "sim_cluster.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "manifest/task_source.h"

namespace jobrunner::sim {
namespace {

// A real worker's batching (runner/worker.cc): results wait at most this long for company...
constexpr double kResultDelayMs = 2.0;
// ...or until this many have gathered.
constexpr std::size_t kResultBatch = 512;
// The shell the simulated workers say they run string commands with.
constexpr std::string_view kShell = "/bin/sh";

double SteadyMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

double UnixMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(system_clock::now().time_since_epoch()).count();
}

// A well-mixed 64-bit hash (splitmix64's finalizer): per-task durations and failures that do
// not depend on the order tasks are handed out.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double Uniform(std::uint64_t index, std::uint64_t salt) {
  return static_cast<double>(Mix(index ^ salt) >> 11) / static_cast<double>(1ull << 53);
}

}  // namespace

// Rank 0's view of the simulated world: what the coordinator sends is kept for the workers' next
// Step, what the workers send waits in the inbox. The coordinator and the workers may run on two
// threads: both queues are guarded, and a send wakes the workers' thread.
class SimCluster::Endpoint final : public Transport {
 public:
  explicit Endpoint(int size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }

  // The payloads the workers have taken since the last send come back here, to the
  // coordinator's thread, as the MPI transport gets a send's buffer back once MPI is done with
  // it: freed on the workers' thread instead, they would leave rank 0's allocator to find fresh
  // memory for every message, a cost no real run pays.
  void SendBytes(int to, Tag tag, std::string payload) override {
    if (to <= 0 || to >= size_) throw std::logic_error("send to a rank outside the simulation");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sent_.push_back(Envelope{to, tag, std::move(payload)});  // `from` holds the destination
      delivered_.swap(returned_);
    }
    for (std::string& buffer : returned_) KeepBuffer(std::move(buffer));
    returned_.clear();
    unannounced_ = true;
  }

  // Copied into the coordinator's buffer, as MPI's receive copies into the one it is given; the
  // message's own buffer goes back to the workers' thread, which made it, to be freed there (a
  // real sender frees its buffers in its own process).
  bool ReceiveInto(Envelope& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (inbox_.empty()) return false;
    Envelope& front = inbox_.front();
    e.from = front.from;
    e.tag = front.tag;
    e.payload.assign(front.payload);
    inbox_bytes_ -= front.payload.size();
    read_.push_back(std::move(front.payload));
    inbox_.pop_front();
    results_taken_ += inbox_results_.front();
    inbox_results_.pop_front();
    return true;
  }

  // Wakes the workers' thread once for what this Step sent (the coordinator flushes at the end of
  // every Step), rather than once per message: a wake is a futex call when that thread sleeps,
  // which an MPI send does not cost rank 0. The thread wakes within 2 ms regardless.
  bool Flush() override {
    if (unannounced_) {
      unannounced_ = false;
      something_sent_.notify_one();
    }
    return true;
  }

  // The workers' side.
  void Post(Envelope e, std::size_t results, ClusterStats& stats) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      read_.swap(freeing_read_);
      inbox_bytes_ += e.payload.size();
      inbox_results_.push_back(results);
      inbox_.push_back(std::move(e));
      stats.peak_inbox_messages = std::max(stats.peak_inbox_messages, inbox_.size());
      stats.peak_inbox_bytes = std::max(stats.peak_inbox_bytes, inbox_bytes_);
    }
    freeing_read_.clear();  // freed here, on the workers' thread; the vectors keep their memory
  }
  // What the coordinator sent since the last call, into `into` (emptied first). Swapped, so that
  // the coordinator's Send reuses the vector's memory rather than growing a new one each time.
  void TakeSent(std::vector<Envelope>& into) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Envelope& e : into) delivered_.push_back(std::move(e.payload));
    into.clear();
    into.swap(sent_);
  }
  std::uint64_t results_taken() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return results_taken_;
  }
  // Waits until the coordinator sends something, `stop` is set, or `ms` pass.
  void WaitForSend(double ms, const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mutex_);
    something_sent_.wait_for(lock, std::chrono::duration<double, std::milli>(ms),
                             [&] { return !sent_.empty() || stop; });
  }
  void WakeUp() { something_sent_.notify_all(); }

 private:
  int size_;
  mutable std::mutex mutex_;
  std::condition_variable something_sent_;
  std::deque<Envelope> inbox_;
  std::size_t inbox_bytes_ = 0;
  std::deque<std::size_t> inbox_results_;  // results in each inbox message
  std::uint64_t results_taken_ = 0;
  std::vector<Envelope> sent_;
  std::vector<std::string> read_;          // payloads the coordinator has read, for Post to free
  std::vector<std::string> freeing_read_;  // the workers' side of read_
  std::vector<std::string> delivered_;     // payloads the workers have taken, back to SendBytes
  std::vector<std::string> returned_;      // the coordinator's side of delivered_
  bool unannounced_ = false;               // sent since the last Flush (coordinator's thread)
};

SimCluster::SimCluster(ClusterOptions options)
    : options_(options),
      workers_(options.workers),
      unix_offset_ms_(UnixMs() - SteadyMs()),
      state_(static_cast<std::size_t>(options.workers) + 1),
      endpoint_(std::make_unique<Endpoint>(options.workers + 1)) {
  if (workers_ < 1) throw std::invalid_argument("a simulation needs at least one worker");
  for (int rank = 1; rank <= workers_; ++rank) {
    Hello hello;
    hello.rank = rank;
    hello.host = "node-" + std::to_string((rank - 1) / std::max(1, options_.workers_per_host));
    hello.pid = 100000 + rank;
    hello.cores = std::max(1, options_.workers_per_host);
    hello.shell = std::string(kShell);
    endpoint_->Post(Envelope{rank, Tag::kHello, EncodeMessage(hello)}, 0, stats_);
  }
}

SimCluster::~SimCluster() = default;

Transport& SimCluster::coordinator_end() { return *endpoint_; }

double SimCluster::DurationMs(std::uint64_t index) const {
  if (options_.task_ms <= 0) return 0;
  return options_.task_ms * (0.5 + Uniform(index, 0x5eed));
}

bool SimCluster::Fails(std::uint64_t index) const {
  return options_.fail_fraction > 0 && Uniform(index, 0xfa11) < options_.fail_fraction;
}

void SimCluster::Start(int worker, Queued task, double start_ms) {
  Worker& w = state_[static_cast<std::size_t>(worker)];
  ++w.running;
  Ending ending{start_ms + DurationMs(task.index),
                start_ms,
                worker,
                task.index,
                task.attempt,
                std::move(task.id),
                std::move(task.command)};
  w.started.push_back(ending);
  ending_.push(std::move(ending));
}

AttemptResult SimCluster::ResultOf(const Ending& task) const {
  AttemptResult r;
  r.index = task.index;
  r.attempt = task.attempt;
  bool failed = task.attempt == 1 && Fails(task.index);
  r.outcome = failed ? Outcome::kFailed : Outcome::kSucceeded;
  r.exit_code = failed ? 1 : 0;
  r.start_ms = static_cast<std::int64_t>(task.start_ms + unix_offset_ms_);
  r.end_ms = static_cast<std::int64_t>(task.end_ms + unix_offset_ms_);
  r.task_id = task.id;
  r.command = task.command;
  if (options_.stdout_bytes > 0) {
    r.stdout_path = run_dir_ + "/logs/" + task.id + "." + std::to_string(task.attempt) + ".out";
    r.stdout_bytes = options_.stdout_bytes;
  }
  return r;
}

void SimCluster::End(Ending task) {
  const int worker = task.worker;
  const double end_ms = task.end_ms;
  Worker& w = state_[static_cast<std::size_t>(worker)];
  --w.running;
  if (w.unsent.empty()) w.oldest_unsent_ms = end_ms;
  w.unsent.push_back(std::move(task));
  if (!w.listed) {
    w.listed = true;
    results_due_.push_back(worker);
  }
  // The slot is free: a real worker starts its next queued task at once.
  if (!w.queue.empty()) {
    Queued next = std::move(w.queue.front());
    w.queue.pop_front();
    Start(worker, std::move(next), end_ms);
  }
}

void SimCluster::Deliver(const Envelope& message, double now_ms) {
  Worker& w = state_[static_cast<std::size_t>(message.from)];
  switch (message.tag) {
    case Tag::kWelcome: {
      Welcome welcome = DecodeMessage<Welcome>(message.payload);
      w.slots = std::max(1, welcome.slots);
      run_dir_ = welcome.run_dir;
      break;
    }
    case Tag::kTaskBatch: {
      TaskBatch batch = DecodeMessage<TaskBatch>(message.payload);
      ++stats_.task_batches;
      stats_.tasks += batch.tasks.size();
      for (TaskSpec& t : batch.tasks) {
        Queued q{t.index, t.attempt, std::move(t.id), {}};
        AppendCommandLine(t, kShell, q.command);  // a real worker's work, on this thread
        if (w.running < w.slots) {
          Start(message.from, std::move(q), now_ms);
        } else {
          w.queue.push_back(std::move(q));
        }
      }
      break;
    }
    case Tag::kShutdown:
      ++stats_.shutdowns;
      break;
    default:
      break;  // Drain: never sent, the simulation does not drain
  }
}

void SimCluster::SendDueResults(double now_ms, bool force) {
  std::size_t kept = 0;
  for (int worker : results_due_) {
    Worker& w = state_[static_cast<std::size_t>(worker)];
    bool due = force || w.queue.empty() || w.unsent.size() >= kResultBatch ||
               now_ms - w.oldest_unsent_ms >= kResultDelayMs;
    if (!due) {
      results_due_[kept++] = worker;
      continue;
    }
    // Batches of at most kResultBatch, as a worker that collects faster than it sends does.
    for (std::size_t from = 0; from < w.unsent.size(); from += kResultBatch) {
      ResultBatch batch;
      std::size_t to = std::min(w.unsent.size(), from + kResultBatch);
      batch.results.reserve(to - from);
      for (std::size_t i = from; i < to; ++i) batch.results.push_back(ResultOf(w.unsent[i]));
      // The first batch tells the starts of the attempts still running, as a real worker's
      // does (which also sends them alone after kResultDelayMs; the simulation only with results).
      if (from == 0) {
        for (const Ending& s : w.started) {
          if (s.end_ms <= now_ms) continue;
          batch.started.push_back(TaskStart{
              s.index, s.attempt, static_cast<std::int64_t>(s.start_ms + unix_offset_ms_), s.id});
        }
      }
      ++stats_.result_batches;
      stats_.results += batch.results.size();
      endpoint_->Post(Envelope{worker, Tag::kResultBatch, EncodeMessage(batch)},
                      batch.results.size(), stats_);
    }
    // Given back, not kept: a vector keeps its largest size, and over a long run every worker's
    // (and its list of starts) would reach a full batch, which a real worker's memory holds, not
    // rank 0's. (`= {}` would assign an empty initializer list and keep the capacity.)
    std::vector<Ending>().swap(w.unsent);
    decltype(w.started)().swap(w.started);
    w.listed = false;
  }
  results_due_.resize(kept);
}

void SimCluster::EndTasksUntil(double now_ms) {
  while (!ending_.empty() && ending_.top().end_ms <= now_ms) {
    Ending task = ending_.top();
    ending_.pop();
    End(std::move(task));
  }
}

void SimCluster::Step() {
  double now_ms = SteadyMs();
  // Tasks that ended while the coordinator worked first: their slots were free before the new
  // tasks arrived. Then the new tasks, and what of them ended at once (tasks of no duration).
  EndTasksUntil(now_ms);
  endpoint_->TakeSent(delivering_);
  for (const Envelope& message : delivering_) Deliver(message, now_ms);
  delivering_.clear();  // the payloads are freed here, on the workers' thread
  stats_.results_taken = endpoint_->results_taken();
  stats_.peak_in_flight = std::max(stats_.peak_in_flight, stats_.tasks - stats_.results_taken);
  EndTasksUntil(now_ms);
  SendDueResults(now_ms, /*force=*/false);
}

std::optional<double> SimCluster::NextDueInMs() const {
  std::optional<double> due;
  double now_ms = SteadyMs();
  if (!ending_.empty()) due = std::max(0.0, ending_.top().end_ms - now_ms);
  for (int worker : results_due_) {
    double at = state_[static_cast<std::size_t>(worker)].oldest_unsent_ms + kResultDelayMs;
    double in = std::max(0.0, at - now_ms);
    if (!due || in < *due) due = in;
  }
  return due;
}

void SimCluster::Run(const std::atomic<bool>& stop) {
  while (!stop) {
    Step();
    // Results due in a worker are batched for up to kResultDelayMs, so that is the longest
    // anything waits here unless a task ends later.
    const double wait_ms = NextDueInMs().value_or(kResultDelayMs);
    if (wait_ms > 0) endpoint_->WaitForSend(wait_ms, stop);
  }
  Step();
}

void SimCluster::WakeUp() { endpoint_->WakeUp(); }

}  // namespace jobrunner::sim
