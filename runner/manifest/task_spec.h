#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace jobrunner {

// One attempt of one task, fully rendered from the manifest: everything a worker needs to run it.
// It is a plain value; it travels to workers inside a TaskBatch (see protocol.h).
struct TaskSpec {
  std::uint64_t index = 0;  // position in the manifest's expansion order, unique per run
  int attempt = 1;          // 1 for the first run, 2 for the first retry, ...
  std::string id;           // unique after expansion
  // A string command is {shell, "-c", script}. Rank 0 leaves the shell empty where the manifest
  // names none, and fills in, before sending, the default shell of the worker it goes to (/bin/bash
  // where that worker has it, else /bin/sh: see Hello).
  std::vector<std::string> argv;
  std::string cwd;  // absolute, or empty for the worker's working directory
  std::vector<std::pair<std::string, std::string>> env;  // set on top of the worker's environment
  std::int64_t timeout_ms = 0;                           // 0: no time limit
  int retries = 0;  // how many further attempts a failure may have
  // A task kind instead of a command (argv empty): its name, and its arguments, rendered from the
  // manifest (`args`) and then, on the coordinator, encoded by the kind (`kind_args`). For
  // `kind: python`, kind_args is the call as JSON, ["module:function", [args], {kwargs}].
  std::string kind;
  std::vector<std::pair<std::string, std::string>> args;
  std::string kind_args;
  bool isolate = false;  // run the kind in a helper process
  // The entry's `cores:` (0: not given, counts as one slot; given, it is the child's
  // OMP_NUM_THREADS unless `env` sets that), and the GPU ids the scheduler chose for this attempt
  // (the child's CUDA_VISIBLE_DEVICES), so that no two tasks share a GPU.
  int cores = 0;
  std::vector<std::string> gpus;
  // A task of a command list: the worker adds the DISBATCH_* variables only it knows (the run's
  // DISBATCH_JOBID, its DISBATCH_ENGINE_RANK and the task's DISBATCH_CYLINDER_RANK).
  bool disbatch = false;
  // The entry's `memory:` in bytes (0: none): the limit of the task's processes where the worker
  // can enforce one (see posix/memory_cgroups.h).
  std::uint64_t memory = 0;

  // Its bytes in a TaskBatch (transport/message_codec.h).
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& index& attempt& id& argv& cwd& env& timeout_ms& retries& kind& args& kind_args& isolate&
        cores& gpus& disbatch& memory;
  }
};

}  // namespace jobrunner
