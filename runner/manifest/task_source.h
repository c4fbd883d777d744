#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/manifest.h"
#include "manifest/task_spec.h"

namespace jobrunner {

// The tasks of a manifest, expanded lazily: a task is an index, and Render builds its TaskSpec
// only when it is handed out. Memory stays proportional to the manifest, not to the task count.
class TaskSource {
 public:
  // `base_dir` is the absolute directory relative `cwd:` values are resolved against.
  // Throws ManifestError when the task count overflows 64 bits.
  TaskSource(Manifest manifest, std::string base_dir);

  std::uint64_t size() const { return total_; }
  const Manifest& manifest() const { return manifest_; }

  // The rendered id of task `index` (0 <= index < size()).
  std::string Id(std::uint64_t index) const;

  // The full task for one attempt: id, argv (shell values quoted), cwd, env, timeout, retries,
  // with {task_id} and {attempt} filled in. A `kind: python` task's call is rendered into
  // kind_args as JSON (see PythonArgs), since no kind encodes it.
  TaskSpec Render(std::uint64_t index, int attempt) const;

  // Throws ManifestError when a task id cannot name output files (empty, over 200 bytes, '/',
  // control characters, "." or "..") or when two tasks share an id, naming both entries' id
  // positions. Streams over all ids once, keeping 8 bytes per task (a hash; at most 2^32 tasks),
  // and confirms any hash collision by comparing the ids themselves.
  void CheckUniqueIds() const;
  // Whether the manifest's shape alone proves every id unique and usable (see CheckUniqueIds),
  // as it does for the usual `name-{n}` matrices.
  bool IdsProvablyUnique() const;

  // Where task `index` was declared.
  const TaskEntry& EntryOf(std::uint64_t index) const;
  std::uint64_t FirstIndexOf(std::size_t entry) const { return first_index_[entry]; }

  // The value of a matrix name for one task.
  using Lookup = std::function<std::string_view(std::string_view)>;
  // Calls visit(index, lookup) for every task of entry `entry`, in index order; far cheaper per
  // task than Id or Render, since the matrix values advance like an odometer. `lookup` knows
  // the matrix names only.
  void ForEachTask(std::size_t entry,
                   const std::function<void(std::uint64_t, const Lookup&)>& visit) const;

 private:
  std::size_t EntryIndex(std::uint64_t index) const;

  Manifest manifest_;
  std::string base_dir_;
  std::vector<std::uint64_t> first_index_;  // first task index of each entry
  std::uint64_t total_ = 0;
};

}  // namespace jobrunner
