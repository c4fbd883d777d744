#include "worker/kind_runner.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "kinds/kind_context.h"
#include "posix/event_fd.h"
#include "posix/thread_cpu.h"

namespace jobrunner {
namespace {
using SteadyTime = std::chrono::steady_clock::time_point;
}  // namespace

// Threads may not return before the worker exits: waiting longer than this for them would turn
// a stuck kind into a stuck run.
constexpr std::chrono::seconds kExitWait{2};

namespace {
// Every runner's State::busy, summed (see StillRunningAnywhere).
std::atomic<std::size_t> still_running_anywhere{0};
}  // namespace

struct KindRunner::Task {
  KindRequest request;
  std::atomic<bool> cancelled{false};
  std::optional<SteadyTime> deadline;
  std::int64_t start_ms = 0;
  bool reported = false;  // its timeout was reported; what it returns is dropped
  std::string data_path;
};

struct KindRunner::State {
  State(const Clock& clock, EventFd wake) : clock(clock), wake(std::move(wake)) {}
  const Clock& clock;
  std::mutex mutex;
  std::condition_variable wake_threads;
  std::condition_variable all_idle;
  std::deque<std::shared_ptr<Task>> queue;
  std::vector<std::shared_ptr<Task>> running;  // started, not yet returned
  std::vector<KindExit> done;
  std::vector<KindStart> started;  // since the last TakeStarts
  std::size_t threads = 0;
  std::size_t idle_threads = 0;
  std::size_t concurrency = 1;
  std::atomic<std::size_t> busy{0};  // running; read without the lock by Busy()
  bool stopping = false;
  const EventFd wake;  // readable while `done` waits for Collect
};

KindRunner::KindRunner(const Clock& clock) {
  StatusOr<EventFd> wake = EventFd::Create();
  if (!wake.ok()) throw std::runtime_error("cannot create an eventfd for task kinds");
  state_ = std::make_shared<State>(clock, std::move(*wake));
  wake_fd_ = state_->wake.fd();
}

KindRunner::~KindRunner() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->stopping = true;
  for (auto& task : state_->running) task->cancelled = true;
  for (auto& task : state_->queue) task->cancelled = true;
  state_->wake_threads.notify_all();
  state_->queue.clear();
  state_->all_idle.wait_for(lock, kExitWait, [this] { return state_->busy == 0; });
}

void KindRunner::Start(std::vector<KindRequest> requests) {
  std::vector<std::shared_ptr<Task>> tasks;
  tasks.reserve(requests.size());
  for (KindRequest& request : requests) {
    tasks.push_back(std::make_shared<Task>());
    tasks.back()->request = std::move(request);
  }
  unreported_ += tasks.size();
  // One lock for the batch: the threads running tasks take the same lock between tasks.
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (auto& task : tasks) state_->queue.push_back(std::move(task));
  Wake(state_);
}

void KindRunner::SetConcurrency(std::size_t concurrency) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (concurrency == state_->concurrency) return;
  state_->concurrency = concurrency;
  Wake(state_);
}

// With the lock held: makes sure a thread will take the next queued task if one may start now,
// waking an idle thread or starting one. A thread that takes a task calls it again, so that as
// many threads run as the queue and the concurrency allow.
void KindRunner::Wake(const std::shared_ptr<State>& state) {
  if (state->queue.empty() || state->busy >= state->concurrency) return;
  if (state->idle_threads > 0) {
    state->wake_threads.notify_one();
  } else if (state->threads < state->concurrency) {
    ++state->threads;
    std::thread(Loop, state).detach();
  }
}

std::vector<std::uint64_t> KindRunner::DropQueued() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<std::uint64_t> keys;
  for (const auto& task : state_->queue) keys.push_back(task->request.key);
  state_->queue.clear();
  unreported_ -= keys.size();
  return keys;
}

void KindRunner::Loop(std::shared_ptr<State> state) {
  std::unique_lock<std::mutex> lock(state->mutex);
  for (;;) {
    ++state->idle_threads;
    state->wake_threads.wait(lock, [&] {
      return state->stopping || (!state->queue.empty() && state->busy < state->concurrency);
    });
    --state->idle_threads;
    if (state->stopping) {
      --state->threads;
      return;
    }
    std::shared_ptr<Task> task = std::move(state->queue.front());
    state->queue.pop_front();
    ++state->busy;
    ++still_running_anywhere;
    Wake(state);
    task->start_ms = state->clock.UnixMs();
    state->started.push_back(KindStart{task->request.key, task->request.attempt, task->start_ms});
    if (task->request.timeout_ms > 0) {
      task->deadline = state->clock.Now() + std::chrono::milliseconds(task->request.timeout_ms);
    }
    state->running.push_back(task);
    lock.unlock();

    KindExit exit;
    exit.key = task->request.key;
    exit.start_ms = task->start_ms;
    const CpuTime cpu_before = ThisThreadCpuTime();
    try {
      const KindRequest& r = task->request;
      KindContext context(r.task_id, r.attempt, r.cwd, r.data_dir, &task->cancelled,
                          task->data_path);
      exit.result = task->request.kind->Run(task->request.args, context);
    } catch (const DiskFullError& e) {
      exit.outcome = Outcome::kInterrupted;
      exit.disk_full = true;
      exit.error = e.what();
    } catch (const std::exception& e) {
      exit.outcome = Outcome::kFailed;
      exit.error = e.what();
    } catch (...) {
      exit.outcome = Outcome::kFailed;
      exit.error = "the task threw something other than an exception";
    }
    exit.end_ms = state->clock.UnixMs();
    const CpuTime cpu_after = ThisThreadCpuTime();
    exit.cpu_measured = true;
    exit.cpu_user_us = cpu_after.user_us - cpu_before.user_us;
    exit.cpu_system_us = cpu_after.system_us - cpu_before.system_us;
    exit.data_path = task->data_path;

    lock.lock();
    state->running.erase(std::find(state->running.begin(), state->running.end(), task));
    // One wake-up for the caller however many results gather before it looks.
    // A task whose timeout was reported already has nothing more to say.
    const bool signal = !task->reported && state->done.empty();
    if (!task->reported) state->done.push_back(std::move(exit));
    --state->busy;
    --still_running_anywhere;
    if (state->busy == 0) state->all_idle.notify_all();
    if (signal) state->wake.Signal();
  }
}

std::size_t KindRunner::Busy() const { return state_->busy.load(std::memory_order_relaxed); }

std::size_t KindRunner::StillRunningAnywhere() { return still_running_anywhere.load(); }

std::vector<KindExit> KindRunner::Collect() {
  // A worker that runs only commands asks every turn of its loop: no lock, no read then.
  if (unreported_ == 0) return {};
  const SteadyTime now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mutex);
  // Read under the lock: a result added after it writes the eventfd again.
  state_->wake.Clear();
  for (auto& task : state_->running) {
    if (task->reported || !task->deadline || now < *task->deadline) continue;
    task->reported = true;
    task->cancelled = true;
    KindExit exit;
    exit.key = task->request.key;
    exit.outcome = Outcome::kTimedOut;
    exit.start_ms = task->start_ms;
    exit.end_ms = state_->clock.UnixMs();
    exit.error = "still running at its timeout; told to stop, its slot stays busy until it does";
    state_->done.push_back(std::move(exit));
  }
  unreported_ -= state_->done.size();
  return std::exchange(state_->done, {});
}

std::vector<KindStart> KindRunner::TakeStarts() {
  if (unreported_ == 0) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  return std::exchange(state_->started, {});
}

std::optional<SteadyTime> KindRunner::NextDeadline() const {
  if (unreported_ == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::optional<SteadyTime> next;
  for (const auto& task : state_->running) {
    if (task->reported || !task->deadline) continue;
    if (!next || *task->deadline < *next) next = task->deadline;
  }
  return next;
}

void KindRunner::CancelAll() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (auto& task : state_->running) task->cancelled = true;
  for (auto& task : state_->queue) task->cancelled = true;
}

}  // namespace jobrunner
