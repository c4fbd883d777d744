#pragma once

// Every message between ranks, in one place. Messages are plain structs, written and read by
// message_codec.h through their serialize(); the tag of an Envelope says which struct its payload
// holds.
//
//   worker -> coordinator   Hello once, then ResultBatch whenever attempts end (with the starts
//                           of attempts still running), Heartbeat after kHeartbeatIntervalMs
//                           without either, Stopping when a signal ends it
//   coordinator -> worker   Welcome once, then TaskBatch as credits allow, Drain when the run
//                           stops early, finally Shutdown
//
// A worker never waits for a reply between two tasks: the coordinator keeps a few tasks queued
// at each worker (credits = slots + prefetch), and results travel in batches.

#include <cstdint>
#include <string>
#include <vector>

#include "manifest/task_spec.h"
#include "schedule/attempt_result.h"

namespace jobrunner {

inline constexpr int kProtocolVersion = 10;

enum class Tag : int {
  kHello = 1,
  kWelcome,
  kTaskBatch,
  kResultBatch,
  kDrain,
  kShutdown,
  kHeartbeat,
  kStopping,
};

// A worker that has sent nothing else for this long sends a Heartbeat, so that the coordinator
// can tell a rank that stopped (a task may SIGSTOP its own worker) from one with nothing to say.
inline constexpr int kHeartbeatIntervalMs = 1000;

struct Hello {
  int protocol_version = kProtocolVersion;
  int rank = 0;  // the rank results name (0 for the worker inside the coordinator with -n 1)
  std::string host;
  int pid = 0;
  int cores = 0;  // CPUs this rank may use on its node
  // What the rank's node offers; the coordinator shares it among the worker ranks of one host.
  std::uint64_t memory = 0;       // bytes: MemTotal, or the cgroup's limit when lower
  std::vector<std::string> gpus;  // CUDA_VISIBLE_DEVICES of the node
  int gpus_per_worker = 0;        // --gpus-per-worker, which replaces `gpus` when given
  std::vector<std::string> tags;  // --worker-tags
  // The shell this rank runs string commands with when the manifest names none (/bin/bash where
  // it has one, else /bin/sh), for the commands results.jsonl records.
  std::string shell;
  // Whether tasks' `memory:` is enforced on this rank, and how ("cgroup v1 (...)") or why not.
  bool memory_enforced = false;
  std::string memory_note;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& protocol_version& rank& host& pid& cores& memory& gpus& gpus_per_worker& tags& shell&
        memory_enforced& memory_note;
  }
};

// How a worker starts the Python interpreters of `kind: python` tasks (the manifest's `python:`).
struct PythonSetup {
  std::string executable = "/usr/bin/python3";  // a path, or a name looked up in PATH
  std::vector<std::string> path;                // absolute; first on sys.path, in this order
  std::string setup;  // "module:function" called once per interpreter, or empty

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& executable& path& setup;
  }
};

// The coordinator's answer to Hello: how to run tasks.
struct Welcome {
  int slots = 1;                 // tasks to run at once
  std::string run_dir;           // absolute; output files go below it
  std::uint64_t max_output = 0;  // bytes per stream and attempt
  std::int64_t kill_grace_ms = 0;
  std::vector<std::string> plugins;  // absolute paths of task kind libraries to load
  // Command lists' `#DISBATCH PERENGINE START` commands, which the worker runs one after another
  // before its first task, and the STOP commands, which it runs when told to (Drain). Each
  // comes back as an AttemptResult with `per_worker` set and `index` its place in its list.
  std::vector<TaskSpec> start_commands;
  std::vector<TaskSpec> stop_commands;
  // For the lowest worker rank of each host, when the manifest has them: node_setup (one
  // command, run before anything else; its result, per_worker kNodeSetup, tells the coordinator
  // whether the host's workers may take tasks) and node_teardown (run when a Drain says so,
  // after the STOP commands, whether the setup succeeded or not). Empty for the other workers,
  // whose Welcome waits until the setup succeeded.
  std::vector<TaskSpec> node_setup;
  std::vector<TaskSpec> node_teardown;
  PythonSetup python;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& slots& run_dir& max_output& kill_grace_ms& plugins& python& start_commands& stop_commands&
        node_setup& node_teardown;
  }
};

struct TaskBatch {
  std::vector<TaskSpec> tasks;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& tasks;
  }
};

// An attempt that has begun on its worker and was still running when the worker reported.
struct TaskStart {
  std::uint64_t index = 0;
  int attempt = 1;
  std::int64_t start_ms = 0;  // unix time
  std::string task_id;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& index& attempt& start_ms& task_id;
  }
};

// Attempts that ended, and attempts that started and still run. A start travels only if its
// attempt is still running when the batch leaves: an attempt that begins and ends between two
// batches is known by its result alone, so tiny tasks cost no start at all.
struct ResultBatch {
  std::vector<AttemptResult> results;
  std::vector<TaskStart> started;
  // The worker has run its STOP commands (Drain::run_stop_commands), and these are the last.
  bool stop_commands_done = false;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& results& started& stop_commands_done;
  }
};

// The run is stopping early (a drain before a time limit, an interrupt): drop the tasks queued
// here, and report each as interrupted without a start time. With `kill_running`, also kill the
// running children and report them as interrupted. The worker keeps running until Shutdown.
// With `run_stop_commands` (every task has ended), run the Welcome's STOP commands and say when
// they are done.
struct Drain {
  bool kill_running = false;
  bool run_stop_commands = false;
  bool run_node_teardown = false;  // the host's node_teardown, where this worker has one

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& kill_running& run_stop_commands& run_node_teardown;
  }
};

// Stop: kill whatever still runs and exit with `exit_code` (the run's exit status, so that every
// rank, and therefore mpirun, ends with the same one). `message` is for logs.
struct Shutdown {
  int exit_code = 0;
  std::string message;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& exit_code& message;
  }
};

struct Heartbeat {
  template <class Archive>
  void serialize(Archive& /*ar*/, unsigned /*version*/) {}
};

// The worker is ending because of a signal (mpirun or a batch system stopping the job): its
// end is no sign of a task that killed it.
struct Stopping {
  int signal = 0;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& signal;
  }
};

template <class T>
struct TagOf;
template <>
struct TagOf<Hello> {
  static constexpr Tag value = Tag::kHello;
};
template <>
struct TagOf<Welcome> {
  static constexpr Tag value = Tag::kWelcome;
};
template <>
struct TagOf<TaskBatch> {
  static constexpr Tag value = Tag::kTaskBatch;
};
template <>
struct TagOf<ResultBatch> {
  static constexpr Tag value = Tag::kResultBatch;
};
template <>
struct TagOf<Drain> {
  static constexpr Tag value = Tag::kDrain;
};
template <>
struct TagOf<Shutdown> {
  static constexpr Tag value = Tag::kShutdown;
};

template <>
struct TagOf<Heartbeat> {
  static constexpr Tag value = Tag::kHeartbeat;
};
template <>
struct TagOf<Stopping> {
  static constexpr Tag value = Tag::kStopping;
};

}  // namespace jobrunner
