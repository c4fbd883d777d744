#pragma once

#include <string>

#include "posix/unique_fd.h"

namespace jobrunner {

// The link in jobrunner-out/ to the run created there last.
inline constexpr const char* kLatestRunLink = "latest";

// Creates the directory a run writes into, with its logs/ subdirectory, and returns its absolute
// path. With `out` empty: jobrunner-out/<name>/, where <name> defaults to the manifest's file
// name without extension plus the start time, and gets a -2, -3, ... suffix if taken; the
// symbolic link jobrunner-out/latest then points at it. Throws std::runtime_error when the
// directory cannot be created or already holds a run.
std::string CreateRunDir(const std::string& out, const std::string& name,
                         const std::string& manifest_path);

// Where an attempt's output stream goes: <run_dir>/logs/<id>.<attempt>.<stream>, with stream
// "out", "err" or (an isolated kind's helper) "kind". Ids are file-name safe (manifest checks).
std::string AttemptLogPath(const std::string& run_dir, const std::string& task_id, int attempt,
                           const char* stream);

// Holds an exclusive lock on a run directory (an flock on its .lock file) for as long as it
// lives, so that a --resume cannot start while the run it continues is still going. Throws
// std::runtime_error when another process holds it.
class RunDirLock {
 public:
  explicit RunDirLock(const std::string& run_dir);
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  UniqueFd file_;  // the lock goes with it
};

}  // namespace jobrunner
