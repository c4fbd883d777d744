#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/manifest.h"
#include "manifest/task_spec.h"

namespace jobrunner {

// Consecutive tasks the task graph schedules as one: a manifest entry, or the part of a command
// list between two barriers.
struct TaskGroup {
  std::uint64_t first = 0;  // task index
  std::uint64_t size = 0;
  std::size_t entry = 0;
  // A command list's part after the first: the barrier it waits behind (the first of those at
  // its start), as an index into its list's barriers().
  std::optional<std::size_t> barrier;
};

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
  // Where task `index` comes from when its entry is a command list (its line, without the
  // command); nullopt otherwise.
  std::optional<CommandList::Task> ListTask(std::uint64_t index) const;

  // The full task for one attempt: id, argv (shell values quoted), cwd, env, timeout, retries,
  // with {task_id} and {attempt} filled in. A string command (or a command list's line) is
  // {shell, "-c", text}, where an empty shell stands for the default shell of the worker that
  // will run it (see TaskSpec). A command list's task also gets disBatch's DISBATCH_* variables.
  // A `kind: python` task's call is rendered into kind_args as JSON (see PythonArgs), since no
  // kind encodes it.
  TaskSpec Render(std::uint64_t index, int attempt) const;

  // The command lists' `#DISBATCH PERENGINE START` (or STOP) commands, in entry and file order,
  // as tasks every worker runs itself (see Welcome): id `start-<line>` (`<entry id>-start-<line>`
  // in a manifest), the entry's shell, cwd, env and timeout, and disBatch's variables
  // (DISBATCH_TASKID: the place among the START, or STOP, commands of its list;
  // DISBATCH_REPEAT_INDEX -1).
  std::vector<TaskSpec> PerWorkerCommands(bool start) const;
  // The manifest's `node_setup:` (setup) or `node_teardown:` as a command, with the id
  // node-setup or node-teardown, to which the coordinator adds the host; nullopt when none.
  std::optional<TaskSpec> NodeCommandSpec(bool setup) const;

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

  // The groups of tasks, in index order: one per entry, and one more per barrier within a
  // command list (barriers before its first task or after its last part nothing).
  const std::vector<TaskGroup>& groups() const { return groups_; }
  // The groups of entry `entry`: [first, end).
  std::pair<std::size_t, std::size_t> GroupsOf(std::size_t entry) const {
    return {first_group_[entry], first_group_[entry + 1]};
  }

  // The value of a matrix name for one task.
  using Lookup = std::function<std::string_view(std::string_view)>;
  // Calls visit(index, lookup) for every task of entry `entry`, in index order; far cheaper per
  // task than Id or Render, since the matrix values advance like an odometer. `lookup` knows
  // the matrix names only.
  void ForEachTask(std::size_t entry,
                   const std::function<void(std::uint64_t, const Lookup&)>& visit) const;
  // Calls visit(index, id) for every task of entry `entry`, in index order: the cheap way to list
  // ids, for matrices and command lists alike.
  void ForEachId(std::size_t entry,
                 const std::function<void(std::uint64_t, const std::string&)>& visit) const;

 private:
  std::size_t EntryIndex(std::uint64_t index) const;
  // A rendered `cwd`, absolute and without a trailing slash.
  std::string ResolveCwd(const std::string& rendered) const;

  Manifest manifest_;
  std::string base_dir_;
  std::vector<std::uint64_t> first_index_;  // first task index of each entry
  std::uint64_t total_ = 0;
  std::vector<TaskGroup> groups_;
  std::vector<std::size_t> first_group_;  // of each entry, then groups_.size()
};

// A task's command as results.jsonl and --dry-run show it: its argv, each word shell-quoted where
// needed, joined by spaces, with `default_shell` for a shell left to the worker; empty for a kind.
std::string CommandLine(const TaskSpec& task, std::string_view default_shell);
// The same, appended to `line`: into a string whose memory is kept from task to task.
void AppendCommandLine(const TaskSpec& task, std::string_view default_shell, std::string& line);

}  // namespace jobrunner
