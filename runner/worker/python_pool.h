#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "schedule/outcome.h"
#include "transport/protocol.h"

namespace jobrunner {

class Dir;
class OrphanGuard;

// One attempt of a `kind: python` task.
struct PythonCall {
  std::uint64_t key = 0;  // the caller's handle; comes back in PythonExit
  std::string name;       // "<task id>.<attempt>": logs/<name>.out and .err, data/<name>.pickle
  std::string call;       // ["module:function", [args], {kwargs}] as JSON
  // What to set around the call, as JSON: {"cwd": dir, "env": {NAME: value}}, or null.
  std::string context = "null";
  std::int64_t timeout_ms = 0;  // 0: none
  std::string gpus;             // its CUDA_VISIBLE_DEVICES, or empty
};

struct PythonExit {
  std::uint64_t key = 0;
  bool started = true;  // false: dropped by KillRunning before it began (no start time)
  Outcome outcome = Outcome::kSucceeded;
  int exit_code = 0;  // kFailed: 1 for an exception, the status for an interpreter that exited
  int signal = 0;     // kSignaled, or the signal that ended a timed-out interpreter
  std::int64_t start_ms = 0;  // unix time
  std::int64_t end_ms = 0;
  std::string result;       // the return value as JSON, when it succeeded and was not pickled
  std::string data_path;    // the pickled return value, when it was
  std::string error;        // "ValueError: bad alpha", "the Python interpreter died ...", ...
  std::string stdout_path;  // empty when the call wrote nothing there
  std::string stderr_path;
  std::uint64_t stdout_bytes = 0;
  std::uint64_t stderr_bytes = 0;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

struct PythonPoolSettings {
  PythonSetup python;
  std::string run_dir;  // logs/ and data/ below it
  // The run's logs/, open (the worker's): scratch files and logs are reached through it.
  std::shared_ptr<const Dir> logs;
  // Scratch files of the interpreters in logs/, unique to this worker: <prefix><n>.out and .err.
  std::string scratch_prefix;
  std::uint64_t max_output = 0;  // per stream and call; 0: no cap
  std::chrono::milliseconds kill_grace{5000};
  std::size_t max_interpreters = 1;  // the worker's slots
};

// The warm Python interpreters of one worker: `python3 -c <python_helper.py> serve` processes,
// one per slot at most, each started at the first call that needs it and reused for every call
// after (a module is imported once per interpreter). The calls they run come in whole queues
// from the worker; one thread of the pool feeds them in batches and reads their replies, and the
// worker learns of ended calls through wake_fd() and Collect(), once per batch of replies rather
// than once per call: a hand-over per call was measured to cost three times as much.
//
// Batches: up to 64 calls a message, sized so that one holds about 2 ms of work (by the mean
// duration seen), with a second one waiting in the pipe while calls are short (under 10 ms):
// the interpreter never waits for the pool between two calls, and a long call never has others
// queued behind it in its interpreter. GPU calls go one at a time, to an interpreter that has
// run calls of the same GPUs or none (see README, Python functions).
//
// An interpreter answers each call before it starts the next, so the first call without an
// answer is the one running. When an interpreter dies (a segfault, os._exit), that call fails
// (signaled or failed), the calls queued behind it go back to the queue, and a new interpreter
// takes its place. Past a call's timeout the pool asks for every thread's stack (written into
// the task's stderr log), then SIGTERM to the interpreter's group, then SIGKILL after the kill
// grace; the call is timed_out. An interpreter that dies before it is ready, or whose `setup`
// raises, fails the call it was started for; after three in a row, every call fails at once
// with that message rather than starting interpreters forever.
class PythonPool {
 public:
  PythonPool(PythonPoolSettings settings, OrphanGuard* guard);
  ~PythonPool();  // kills every interpreter and waits for them
  PythonPool(const PythonPool&) = delete;
  PythonPool& operator=(const PythonPool&) = delete;

  // Queues calls; they start in order as interpreters are free.
  void Start(std::vector<PythonCall> calls);
  // How many interpreters may run calls at once: the worker's slots that nothing else takes.
  void SetConcurrency(std::size_t concurrency);
  // Slots taken: interpreters with calls, plus calls waiting for one, at most the concurrency.
  std::size_t Busy() const;
  // Takes the calls no interpreter has been given out of the queue; returns their keys.
  std::vector<std::uint64_t> DropQueued();
  // Kills every interpreter that has calls: the call running ends killed (kSignaled, SIGKILL),
  // those behind it come back with started = false. For a drain that kills what runs.
  void KillRunning();
  // Readable while ended calls wait for Collect.
  int wake_fd() const;
  std::vector<PythonExit> Collect();

 private:
  struct State;
  class Feeder;
  std::shared_ptr<State> state_;
  std::unique_ptr<Feeder> feeder_;
  std::size_t unreported_ = 0;  // calls started and not yet returned by Collect or DropQueued
};

}  // namespace jobrunner
