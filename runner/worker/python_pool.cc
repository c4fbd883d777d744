#include "worker/python_pool.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "manifest/json_template.h"
#include "posix/dir.h"
#include "posix/event_fd.h"
#include "posix/helper_process.h"
#include "rundir/run_dir.h"
#include "worker/python_source.h"

namespace jobrunner {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Calls per message at most, and the work one message should hold.
constexpr std::size_t kMaxBatch = 64;
constexpr double kBatchWorkNs = 2e6;
// Below this mean call duration a second message waits in the pipe; above, a call has none
// behind it, so that a drain or a timeout strands nothing.
constexpr double kPipelineBelowNs = 10e6;
// How long the interpreter gets to print its stacks before a timed-out call's SIGTERM.
constexpr milliseconds kStackDumpWait{200};
// Interpreters in a row that die or fail before they are ready before every call fails at once.
constexpr int kMaxStartFailures = 3;
// A frame this large is no frame: the stream is corrupt.
constexpr std::uint32_t kMaxFrame = 1u << 30;

// The driver's statuses (python_helper.py).
enum Status : std::uint8_t {
  kOk,
  kPickled,
  kRaised,
  kNotFound,
  kBadArguments,
  kUnserialisable,
  kCannotStart
};
constexpr std::uint8_t kStdoutTruncated = 1, kStderrTruncated = 2;
// seq, status, flags, start, end, stdout and stderr bytes, and which copy name (LogCopyName) each
// log went to.
constexpr std::size_t kDoneHeader = 44;
// The copy number of a log whose every name was taken: its output was not kept.
constexpr std::uint8_t kLogNotKept = 255;

std::int64_t UnixMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t ReadLittleEndian(const char* p, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

std::string Frame(char type, const std::string& body) {
  std::string frame(5, '\0');
  const auto size = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i)
    frame[static_cast<std::size_t>(i)] = static_cast<char>(size >> (8 * i));
  frame[4] = type;
  return frame + body;
}

// "ValueError: bad alpha" from the driver's {"type", "message"}.
std::string ErrorText(const std::string& body) {
  const nlohmann::json error = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!error.is_object()) return body;
  const std::string type = error.value("type", "");
  const std::string message = error.value("message", "");
  return message.empty() ? type : type + ": " + message;
}

// The function a call names, for messages.
std::string FunctionOf(const std::string& call) {
  const std::size_t open = call.find('"');
  const std::size_t close = open == std::string::npos ? open : call.find('"', open + 1);
  return close == std::string::npos ? "?" : call.substr(open + 1, close - open - 1);
}

// An eventfd, or the exception that ends the worker: without one nothing can be waited for.
EventFd MakeEventFd() {
  StatusOr<EventFd> fd = EventFd::Create();
  if (!fd.ok()) {
    throw std::runtime_error("cannot create an eventfd for Python tasks: " + fd.status().message());
  }
  return std::move(*fd);
}

}  // namespace

struct PythonPool::State {
  std::mutex mutex;
  std::deque<PythonCall> queue;  // given to no interpreter yet
  std::vector<PythonExit> done;  // for Collect
  std::size_t concurrency = 0;
  std::size_t busy = 0;  // interpreters with calls, as the feeder last counted
  bool kill_running = false;
  bool stopping = false;
  const EventFd wake_feeder = MakeEventFd();
  const EventFd wake_worker = MakeEventFd();

  // With the lock held.
  void Finish(std::vector<PythonExit>& exits) {
    if (exits.empty()) return;
    const bool signal = done.empty();
    for (PythonExit& exit : exits) done.push_back(std::move(exit));
    exits.clear();
    if (signal) wake_worker.Signal();
  }
};

// The pool's thread: owns the interpreters, sends them calls, reads their answers, enforces
// timeouts and replaces the ones that die.
class PythonPool::Feeder {
 public:
  Feeder(PythonPoolSettings settings, OrphanGuard* guard, std::shared_ptr<State> state)
      : settings_(std::move(settings)), guard_(guard), state_(std::move(state)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Feeder() {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stopping = true;
    }
    state_->wake_feeder.Signal();
    thread_.join();
  }

 private:
  struct Call {
    PythonCall request;
    // When it started, as far as this side can tell (see running_since): the start of a call
    // that never answers.
    std::int64_t start_ms = 0;
  };

  enum class Stopping { kNo, kDumpingStack, kTerminating, kKilled };

  struct Interpreter {
    std::unique_ptr<HelperProcess> process;
    std::string scratch_out, scratch_err;
    bool ready = false;
    std::deque<Call> calls;  // given to it, in order: [0, sent) were sent
    std::size_t sent = 0;
    std::string outbox;  // frames not yet written
    std::string inbox;   // bytes read, not yet a whole frame
    std::string gpus;    // the GPUs of the calls it ran: CUDA is set up once per process
    bool gpu_bound = false;
    // When the first call began, as far as this side can tell: when it was sent to an idle
    // interpreter, or when the answer before it was read. Never later than the truth.
    Clock::time_point running_since;
    Stopping stopping = Stopping::kNo;
    Clock::time_point next_step_at = Clock::time_point::max();
    Outcome stop_outcome = Outcome::kTimedOut;  // what the first call becomes once it is gone
    std::string stop_error;
    bool start_failed = false;  // it died, or its setup raised, before it was ready
    bool ended = false;         // its pipe or process has ended
    std::string end_error;      // a protocol error: what the stream held

    bool busy() const { return !calls.empty(); }
  };

  void Loop();
  void Assign(std::unique_lock<std::mutex>& lock);
  Interpreter* Spawn();
  void Send(Interpreter& interpreter, std::size_t count);
  void Flush(Interpreter& interpreter);
  void Read(Interpreter& interpreter);
  void OnReady(Interpreter& interpreter, const std::string& body);
  void OnDone(Interpreter& interpreter, const std::string& body);
  void AdvanceStops(Clock::time_point now);
  void BeginStop(Interpreter& interpreter, Outcome outcome, std::string error);
  void Bury(Interpreter& interpreter);
  void FailStart(Interpreter& interpreter, Outcome outcome, const std::string& error);
  void KillAllRunning();
  std::size_t BatchSize() const;
  std::size_t InFlightLimit() const;
  std::optional<Clock::time_point> NextDeadline() const;
  // The path of the call's log of `stream` in its copy `copy` (LogCopyName); empty for
  // kLogNotKept.
  std::string Log(const std::string& name, const char* stream, std::uint8_t copy) const {
    if (copy == kLogNotKept) return "";
    return settings_.logs->PathOf(LogCopyName(name + "." + stream, copy));
  }
  // Moves what the interpreter wrote since its last answer into the call's logs.
  void MoveScratch(Interpreter& interpreter, PythonExit& exit, const std::string& name);
  PythonExit FailedCall(const Call& call, Outcome outcome, const std::string& error) const;

  const PythonPoolSettings settings_;
  OrphanGuard* const guard_;
  std::shared_ptr<State> state_;
  std::thread thread_;
  std::vector<std::unique_ptr<Interpreter>> interpreters_;
  std::vector<PythonExit> exits_;  // handed to the worker at the end of each round
  std::vector<Call> requeue_;      // calls an interpreter took with it, never started
  std::size_t concurrency_ = 0;
  int spawned_ = 0;
  int start_failures_ = 0;                                 // in a row
  std::optional<std::pair<Outcome, std::string>> broken_;  // every call fails with this
  double mean_call_ns_ = 0;  // a moving average of call durations; 0: none seen yet
};

void PythonPool::Feeder::Loop() {
  std::vector<FdWait> fds;
  std::vector<Interpreter*> owners;  // same index as fds; nullptr: the wake fd
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(state_->mutex);
      if (state_->stopping) break;
      state_->wake_feeder.Clear();
      concurrency_ = state_->concurrency;
      if (std::exchange(state_->kill_running, false)) KillAllRunning();
      for (auto it = requeue_.rbegin(); it != requeue_.rend(); ++it) {
        state_->queue.push_front(std::move(it->request));
      }
      requeue_.clear();
      Assign(lock);
      state_->busy = static_cast<std::size_t>(std::count_if(
          interpreters_.begin(), interpreters_.end(), [](const auto& i) { return i->busy(); }));
      state_->Finish(exits_);
    }
    for (auto& interpreter : interpreters_) Flush(*interpreter);

    fds.clear();
    owners.clear();
    fds.push_back({state_->wake_feeder.fd(), false, false});
    owners.push_back(nullptr);
    for (auto& interpreter : interpreters_) {
      Interpreter* i = interpreter.get();
      if (i->ended) continue;
      fds.push_back({i->process->receive_fd(), false, false});
      owners.push_back(i);
      // A process the function started may hold the pipe past the interpreter's death.
      fds.push_back({i->process->exit_fd(), false, false});
      owners.push_back(i);
      if (!i->outbox.empty()) {
        fds.push_back({i->process->send_fd(), true, false});
        owners.push_back(i);
      }
    }
    milliseconds wait{-1};
    if (std::optional<Clock::time_point> deadline = NextDeadline()) {
      wait = std::max(milliseconds(0), std::chrono::ceil<milliseconds>(*deadline - Clock::now()));
    }
    WaitForFds(fds, wait);
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].ready || owners[i]->ended) continue;
      if (fds[i].want_write) {
        Flush(*owners[i]);
      } else if (fds[i].fd == owners[i]->process->exit_fd()) {
        Read(*owners[i]);  // what it wrote before it went
        owners[i]->ended = true;
      } else {
        Read(*owners[i]);
      }
    }
    AdvanceStops(Clock::now());
    for (auto& interpreter : interpreters_) {
      if (interpreter->ended) Bury(*interpreter);
    }
    interpreters_.erase(std::remove_if(interpreters_.begin(), interpreters_.end(),
                                       [](const auto& i) { return i->process == nullptr; }),
                        interpreters_.end());
  }
  // Stopping: the interpreters go with the pool; their calls are the worker's to account for.
  for (auto& interpreter : interpreters_) {
    interpreter->process->KillAndReap();
    (void)settings_.logs->Remove(interpreter->scratch_out);
    (void)settings_.logs->Remove(interpreter->scratch_err);
  }
}

std::size_t PythonPool::Feeder::BatchSize() const {
  if (mean_call_ns_ <= 0) return 1;  // nothing known yet: one at a time until it is
  return std::clamp<std::size_t>(static_cast<std::size_t>(kBatchWorkNs / mean_call_ns_), 1,
                                 kMaxBatch);
}

std::size_t PythonPool::Feeder::InFlightLimit() const {
  const bool pipeline = mean_call_ns_ > 0 && mean_call_ns_ < kPipelineBelowNs;
  return BatchSize() * (pipeline ? 2 : 1);
}

// With the lock held: gives queued calls to interpreters, starting interpreters as needed.
void PythonPool::Feeder::Assign(std::unique_lock<std::mutex>& lock) {
  std::deque<PythonCall>& queue = state_->queue;
  if (broken_) {
    for (PythonCall& request : queue) {
      exits_.push_back(
          FailedCall(Call{std::move(request), UnixMs()}, broken_->first, broken_->second));
    }
    queue.clear();
    return;
  }
  const std::size_t batch = BatchSize();
  const std::size_t limit = InFlightLimit();
  std::size_t busy = static_cast<std::size_t>(std::count_if(
      interpreters_.begin(), interpreters_.end(), [](const auto& i) { return i->busy(); }));
  // Top up the interpreters at work: a message's worth once the one in flight runs low.
  for (auto& interpreter : interpreters_) {
    Interpreter& i = *interpreter;
    if (!i.busy() || i.stopping != Stopping::kNo || i.gpu_bound || busy > concurrency_) continue;
    while (!queue.empty() && queue.front().gpus.empty() && i.calls.size() + batch <= limit) {
      std::size_t n = 0;
      for (; n < batch && !queue.empty() && queue.front().gpus.empty(); ++n) {
        i.calls.push_back(Call{std::move(queue.front()), 0});
        queue.pop_front();
      }
      Send(i, n);
    }
  }
  // Then idle interpreters, and new ones, up to the concurrency.
  while (!queue.empty() && busy < concurrency_) {
    PythonCall& next = queue.front();
    Interpreter* chosen = nullptr;
    for (auto& interpreter : interpreters_) {
      Interpreter& i = *interpreter;
      if (i.busy() || i.stopping != Stopping::kNo || i.ended) continue;
      // CUDA reads CUDA_VISIBLE_DEVICES once per process: a GPU call needs an interpreter that
      // used the same GPUs, or none yet.
      if (!next.gpus.empty() && i.gpu_bound && i.gpus != next.gpus) continue;
      if (chosen == nullptr || (!next.gpus.empty() && i.gpu_bound)) chosen = &i;
    }
    if (chosen == nullptr && interpreters_.size() >= settings_.max_interpreters) {
      // Every interpreter is busy, or bound to other GPUs: replace an idle one of those.
      for (auto& interpreter : interpreters_) {
        Interpreter& i = *interpreter;
        if (i.ready && !i.busy() && i.stopping == Stopping::kNo && !i.ended && !next.gpus.empty()) {
          i.process->KillAndReap();
          i.ended = true;
          Bury(i);
          interpreters_.erase(std::find(interpreters_.begin(), interpreters_.end(), interpreter));
          break;
        }
      }
    }
    if (chosen == nullptr && interpreters_.size() < settings_.max_interpreters) {
      lock.unlock();  // a spawn takes a millisecond or so: the worker need not wait for it
      chosen = Spawn();
      lock.lock();
      if (broken_) return Assign(lock);
      if (chosen == nullptr || queue.empty()) continue;
    }
    if (chosen == nullptr) break;
    Interpreter& i = *chosen;
    if (!queue.front().gpus.empty()) {
      i.gpus = queue.front().gpus;
      i.gpu_bound = true;
      i.calls.push_back(Call{std::move(queue.front()), 0});
      queue.pop_front();
      Send(i, 1);
    } else {
      std::size_t n = 0;
      for (; n < std::min(batch, limit) && !queue.empty() && queue.front().gpus.empty(); ++n) {
        i.calls.push_back(Call{std::move(queue.front()), 0});
        queue.pop_front();
      }
      Send(i, n);
    }
    ++busy;
  }
}

// Starts an interpreter; nullptr (with the failure accounted for) when it cannot be.
PythonPool::Feeder::Interpreter* PythonPool::Feeder::Spawn() {
  auto interpreter = std::make_unique<Interpreter>();
  const std::string scratch = settings_.scratch_prefix + std::to_string(spawned_++);
  interpreter->scratch_out = scratch + ".out";
  interpreter->scratch_err = scratch + ".err";
  HelperRequest request;
  request.argv = {settings_.python.executable, "-c", PythonHelperSource(), "serve"};
  request.stdout_path = settings_.logs->PathOf(interpreter->scratch_out);
  request.stderr_path = settings_.logs->PathOf(interpreter->scratch_err);
  StatusOr<std::unique_ptr<HelperProcess>> process = HelperProcess::Start(request, guard_);
  if (!process.ok()) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    const std::string error = "cannot start the Python interpreter: " + process.status().message();
    if (!state_->queue.empty()) {
      exits_.push_back(FailedCall(Call{std::move(state_->queue.front()), UnixMs()},
                                  Outcome::kSpawnError, error));
      state_->queue.pop_front();
    }
    if (++start_failures_ >= kMaxStartFailures) broken_ = {Outcome::kSpawnError, error};
    return nullptr;
  }
  interpreter->process = std::move(process.value());
  nlohmann::json init = {
      {"path", settings_.python.path},
      {"setup", settings_.python.setup.empty() ? nlohmann::json(nullptr)
                                               : nlohmann::json(settings_.python.setup)},
      {"scratch", {interpreter->scratch_out, interpreter->scratch_err}},
      {"logs", settings_.logs->path()},
      {"data", settings_.run_dir + "/data"},
      {"max_output", settings_.max_output},
  };
  interpreter->outbox =
      Frame('I', init.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  // The first call's time runs from here: a setup that hangs is bounded by its timeout too.
  interpreter->running_since = Clock::now();
  interpreters_.push_back(std::move(interpreter));
  return interpreters_.back().get();
}

// Queues a message with the last `count` calls given to the interpreter.
void PythonPool::Feeder::Send(Interpreter& i, std::size_t count) {
  if (count == 0) return;
  if (i.sent == 0) {  // an idle interpreter: the first of these starts now
    i.running_since = std::max(i.running_since, Clock::now());
    i.calls[i.calls.size() - count].start_ms = UnixMs();
  }
  std::string body = "[";
  for (std::size_t k = i.calls.size() - count; k < i.calls.size(); ++k) {
    const PythonCall& call = i.calls[k].request;
    if (body.size() > 1) body += ',';
    body += '[';
    body += std::to_string(call.key);
    body += ',';
    body += JsonString(call.name);
    body += ',';
    body += call.call;
    body += ',';
    body += call.context;
    body += ']';
  }
  body += ']';
  i.outbox += Frame('C', body);
  i.sent += count;
}

void PythonPool::Feeder::Flush(Interpreter& i) {
  if (i.outbox.empty() || i.ended) return;
  std::optional<std::size_t> written = i.process->Send(i.outbox);
  if (!written) {
    // It no longer reads: it has died, which Bury tells. The answers it wrote before it went
    // are read first, or Bury would take the call it last finished for the one it died in.
    Read(i);
    i.ended = true;
    return;
  }
  i.outbox.erase(0, *written);
}

void PythonPool::Feeder::Read(Interpreter& i) {
  const bool open = i.process->Receive(i.inbox);
  std::size_t at = 0;
  while (i.inbox.size() - at >= 5 && !i.ended) {
    const auto size = static_cast<std::uint32_t>(ReadLittleEndian(i.inbox.data() + at, 4));
    const char type = i.inbox[at + 4];
    if (size > kMaxFrame || (type != 'R' && type != 'D')) {
      i.end_error = "the Python interpreter sent something that is not jobrunner's protocol";
      i.ended = true;
      break;
    }
    if (i.inbox.size() - at - 5 < size) break;
    const std::string body = i.inbox.substr(at + 5, size);
    at += 5 + size;
    if (type == 'R') {
      OnReady(i, body);
    } else {
      OnDone(i, body);
    }
  }
  i.inbox.erase(0, at);
  if (!open) i.ended = true;
}

void PythonPool::Feeder::OnReady(Interpreter& i, const std::string& body) {
  const nlohmann::json ready = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (ready.is_object() && ready.contains("error") && ready["error"].is_object()) {
    const std::string error =
        "python setup " + settings_.python.setup + " raised " + ErrorText(ready["error"].dump());
    FailStart(i, Outcome::kFailed, error);
    return;
  }
  i.ready = true;
  start_failures_ = 0;
}

void PythonPool::Feeder::OnDone(Interpreter& i, const std::string& body) {
  if (body.size() < kDoneHeader || i.calls.empty() || i.sent == 0) {
    i.end_error = "the Python interpreter answered a call it was not given";
    i.ended = true;
    return;
  }
  const char* p = body.data();
  const std::uint64_t seq = ReadLittleEndian(p, 8);
  const auto status = static_cast<std::uint8_t>(p[8]);
  const auto flags = static_cast<std::uint8_t>(p[9]);
  const std::uint64_t start_ns = ReadLittleEndian(p + 10, 8);
  const std::uint64_t end_ns = ReadLittleEndian(p + 18, 8);
  const std::uint64_t out_bytes = ReadLittleEndian(p + 26, 8);
  const std::uint64_t err_bytes = ReadLittleEndian(p + 34, 8);
  const auto out_copy = static_cast<std::uint8_t>(p[42]);
  const auto err_copy = static_cast<std::uint8_t>(p[43]);
  if (seq != i.calls.front().request.key) {
    i.end_error = "the Python interpreter answered calls out of order";
    i.ended = true;
    return;
  }
  // An answer after the deadline: the call is timed out all the same (its stack is in its log)
  // and the interpreter goes.
  if (i.stopping != Stopping::kNo) return;
  const std::string payload = body.substr(kDoneHeader);
  Call call = std::move(i.calls.front());
  i.calls.pop_front();
  --i.sent;
  i.running_since = Clock::now();
  if (i.sent > 0) i.calls.front().start_ms = static_cast<std::int64_t>(end_ns / 1'000'000);
  const double duration = static_cast<double>(end_ns - start_ns);
  mean_call_ns_ = mean_call_ns_ <= 0 ? duration : 0.9 * mean_call_ns_ + 0.1 * duration;

  PythonExit exit;
  exit.key = call.request.key;
  exit.start_ms = static_cast<std::int64_t>(start_ns / 1'000'000);
  exit.end_ms = static_cast<std::int64_t>(end_ns / 1'000'000);
  exit.stdout_bytes = out_bytes;
  exit.stderr_bytes = err_bytes;
  if (out_bytes > 0) exit.stdout_path = Log(call.request.name, "out", out_copy);
  if (err_bytes > 0) exit.stderr_path = Log(call.request.name, "err", err_copy);
  exit.stdout_truncated = (flags & kStdoutTruncated) != 0;
  exit.stderr_truncated = (flags & kStderrTruncated) != 0;
  switch (status) {
    case kOk:
      exit.result = payload;
      break;
    case kPickled:
      exit.data_path = payload;
      break;
    case kCannotStart:
      exit.outcome = Outcome::kSpawnError;
      exit.error = "cannot run " + FunctionOf(call.request.call) + ": " + ErrorText(payload);
      break;
    case kNotFound:
    case kBadArguments:
    case kUnserialisable:
    case kRaised:
    default: {
      exit.outcome = Outcome::kFailed;
      exit.exit_code = 1;  // what python3 -c would have exited with
      const std::string function = FunctionOf(call.request.call);
      const std::string text = ErrorText(payload);
      if (status == kNotFound) {
        exit.error = "cannot call " + function + ": " + text;
      } else if (status == kBadArguments) {
        exit.error = "bad arguments for " + function + ": " + text;
      } else if (status == kUnserialisable) {
        exit.error = function + " returned a value that cannot be kept: " + text;
      } else {
        exit.error = text + " (traceback in the task's stderr log)";
      }
    }
  }
  exits_.push_back(std::move(exit));
}

void PythonPool::Feeder::BeginStop(Interpreter& i, Outcome outcome, std::string error) {
  if (i.stopping != Stopping::kNo) return;
  i.stop_outcome = outcome;
  i.stop_error = std::move(error);
  i.stopping = Stopping::kDumpingStack;
  i.process->Signal(HelperSignal::kDumpStack);
  i.next_step_at = Clock::now() + kStackDumpWait;
}

void PythonPool::Feeder::AdvanceStops(Clock::time_point now) {
  for (auto& interpreter : interpreters_) {
    Interpreter& i = *interpreter;
    if (i.ended) continue;
    if (i.stopping == Stopping::kNo && i.busy()) {
      const PythonCall& running = i.calls.front().request;
      if (running.timeout_ms > 0 && now >= i.running_since + milliseconds(running.timeout_ms)) {
        BeginStop(i, Outcome::kTimedOut,
                  "its Python interpreter was stopped and is replaced (the call's stack is in "
                  "the task's stderr log)");
      }
      continue;
    }
    if (i.stopping == Stopping::kNo || now < i.next_step_at) continue;
    if (i.stopping == Stopping::kDumpingStack) {
      i.process->Signal(HelperSignal::kTerminate);
      i.stopping = Stopping::kTerminating;
      i.next_step_at = now + settings_.kill_grace;
    } else if (i.stopping == Stopping::kTerminating) {
      i.stopping = Stopping::kKilled;
      i.ended = true;
    }
  }
}

std::optional<Clock::time_point> PythonPool::Feeder::NextDeadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& interpreter : interpreters_) {
    const Interpreter& i = *interpreter;
    std::optional<Clock::time_point> at;
    if (i.ended) {
      at = Clock::now();
    } else if (i.stopping != Stopping::kNo) {
      at = i.next_step_at;
    } else if (i.busy() && i.calls.front().request.timeout_ms > 0) {
      at = i.running_since + milliseconds(i.calls.front().request.timeout_ms);
    }
    if (at && (!next || *at < *next)) next = at;
  }
  return next;
}

PythonExit PythonPool::Feeder::FailedCall(const Call& call, Outcome outcome,
                                          const std::string& error) const {
  PythonExit exit;
  exit.key = call.request.key;
  exit.outcome = outcome;
  exit.error = error;
  exit.start_ms = call.start_ms != 0 ? call.start_ms : UnixMs();
  exit.end_ms = UnixMs();
  if (outcome == Outcome::kFailed) exit.exit_code = 1;
  return exit;
}

// Renamed within logs/ to the first free name of the log's copies, never over anything there
// and never through a link (as the interpreter itself does after each call, python_helper.py).
void PythonPool::Feeder::MoveScratch(Interpreter& i, PythonExit& exit, const std::string& name) {
  const Dir& logs = *settings_.logs;
  for (auto [scratch, stream] : {std::pair{&i.scratch_out, "out"}, {&i.scratch_err, "err"}}) {
    StatusOr<Dir::Entry> entry = logs.Look(*scratch);
    if (!entry.ok() || entry->kind != Dir::Kind::kFile || entry->size == 0) continue;
    const std::string log = name + "." + stream;
    for (int copy = 1; copy <= kMaxLogCopies; ++copy) {
      const jobrunner::Status moved = logs.RenameNoReplace(*scratch, LogCopyName(log, copy));
      if (moved.code() == EEXIST) continue;
      if (moved.ok()) {
        (stream[0] == 'o' ? exit.stdout_path : exit.stderr_path) =
            logs.PathOf(LogCopyName(log, copy));
        (stream[0] == 'o' ? exit.stdout_bytes : exit.stderr_bytes) = entry->size;
      }
      break;
    }
  }
}

// Before it was ready: the call it was started for fails, the others go back to the queue.
void PythonPool::Feeder::FailStart(Interpreter& i, Outcome outcome, const std::string& error) {
  if (!i.calls.empty()) {
    Call first = std::move(i.calls.front());
    i.calls.pop_front();
    i.sent = i.sent > 0 ? i.sent - 1 : 0;
    PythonExit exit = FailedCall(first, outcome, error);
    MoveScratch(i, exit, first.request.name);
    exits_.push_back(std::move(exit));
  }
  if (++start_failures_ >= kMaxStartFailures) broken_ = {outcome, error};
  i.start_failed = true;
  i.ended = true;
}

// An interpreter whose pipe or process has ended: reaps it and accounts for its calls.
void PythonPool::Feeder::Bury(Interpreter& i) {
  if (i.process == nullptr) return;
  const bool was_reaped = i.process->reaped();
  const ChildEnd end = i.process->KillAndReap();
  const std::string how = was_reaped        ? ""
                          : end.signal != 0 ? "killed by " + SignalName(end.signal)
                                            : "exited with status " + std::to_string(end.exit_code);
  if (i.start_failed) {
    // Accounted for when its setup said so.
  } else if (!i.ready && i.stopping == Stopping::kNo && i.end_error.empty()) {
    FailStart(i, Outcome::kSpawnError,
              "the Python interpreter " + settings_.python.executable + " " + how +
                  " before it was ready (see the task's stderr log)");
  } else if (i.sent > 0) {
    Call running = std::move(i.calls.front());
    i.calls.pop_front();
    --i.sent;
    PythonExit exit = FailedCall(running, Outcome::kFailed, "");
    if (i.stopping != Stopping::kNo) {
      exit.outcome = i.stop_outcome;
      exit.error = i.stop_error;
      exit.signal = end.signal;
    } else if (end.signal != 0) {
      exit.outcome = Outcome::kSignaled;
      exit.signal = end.signal;
      exit.error = "the Python interpreter died (" + SignalName(end.signal) + ") while running " +
                   FunctionOf(running.request.call) + "; a new one takes its place";
    } else {
      exit.exit_code = end.exit_code;
      exit.error = "the Python interpreter exited with status " + std::to_string(end.exit_code) +
                   " while running " + FunctionOf(running.request.call) +
                   "; a new one takes its place";
    }
    if (!i.end_error.empty()) exit.error = i.end_error;
    MoveScratch(i, exit, running.request.name);
    exits_.push_back(std::move(exit));
  }
  for (Call& call : i.calls) requeue_.push_back(std::move(call));
  i.calls.clear();
  i.process.reset();
  (void)settings_.logs->Remove(i.scratch_out);
  (void)settings_.logs->Remove(i.scratch_err);
}

// With the lock held. The calls that never started are returned as such, not queued again.
void PythonPool::Feeder::KillAllRunning() {
  for (auto& interpreter : interpreters_) {
    Interpreter& i = *interpreter;
    if (!i.busy() || i.process == nullptr) continue;
    i.stopping = Stopping::kKilled;
    i.stop_outcome = Outcome::kSignaled;
    i.stop_error = "killed by the drain";
    const std::size_t started = i.ready ? 1 : 0;
    while (i.calls.size() > started) {
      PythonExit exit;
      exit.key = i.calls.back().request.key;
      exit.started = false;
      exit.outcome = Outcome::kInterrupted;
      exits_.push_back(std::move(exit));
      i.calls.pop_back();
    }
    i.sent = std::min(i.sent, i.calls.size());
    i.ended = true;
    Bury(i);
  }
  interpreters_.erase(std::remove_if(interpreters_.begin(), interpreters_.end(),
                                     [](const auto& i) { return i->process == nullptr; }),
                      interpreters_.end());
}

PythonPool::PythonPool(PythonPoolSettings settings, OrphanGuard* guard)
    : state_(std::make_shared<State>()) {
  feeder_ = std::make_unique<Feeder>(std::move(settings), guard, state_);
}

PythonPool::~PythonPool() { feeder_.reset(); }

void PythonPool::Start(std::vector<PythonCall> calls) {
  unreported_ += calls.size();
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    for (PythonCall& call : calls) state_->queue.push_back(std::move(call));
  }
  state_->wake_feeder.Signal();
}

void PythonPool::SetConcurrency(std::size_t concurrency) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->concurrency == concurrency) return;
    state_->concurrency = concurrency;
  }
  state_->wake_feeder.Signal();
}

std::size_t PythonPool::Busy() const {
  if (unreported_ == 0) return 0;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return std::min(state_->concurrency, state_->busy + state_->queue.size());
}

std::vector<std::uint64_t> PythonPool::DropQueued() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<std::uint64_t> keys;
  for (const PythonCall& call : state_->queue) keys.push_back(call.key);
  state_->queue.clear();
  unreported_ -= keys.size();
  return keys;
}

void PythonPool::KillRunning() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->kill_running = true;
  }
  state_->wake_feeder.Signal();
}

int PythonPool::wake_fd() const { return state_->wake_worker.fd(); }

std::vector<PythonExit> PythonPool::Collect() {
  if (unreported_ == 0) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->wake_worker.Clear();  // under the lock: a result added after it signals again
  unreported_ -= state_->done.size();
  return std::exchange(state_->done, {});
}

}  // namespace jobrunner
