#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "posix/unique_fd.h"

namespace jobrunner {

// Kills a worker's tasks when the worker dies without doing it itself. Tasks run in process
// groups of their own, so they survive their worker: when mpirun vanishes, Open MPI ends each rank
// with exit_group from one of its threads (no destructor or atexit handler runs), and a rank
// killed with SIGKILL gets no say at all. The guard is a small process in its own process group.
// It learns that the worker died when the socket between them closes, and which task groups were
// alive then from a table both map (a memfd): the worker writes a group id into a free entry
// when it starts a task and clears the entry before it reaps the task, so watching costs two
// stores per task, not a message and a wake-up of the guard each. Processes that left their
// task's group are found by their tag (adopted_processes.h): the guard is given the token of its
// worker's tags and kills every process that carries one.
class OrphanGuard {
 public:
  // Starts the guard as `executable --orphan-guard`; nullptr (and `error` set) when it cannot.
  static std::unique_ptr<OrphanGuard> Start(const std::string& executable, std::string& error);
  // A clean close: every group has been forgotten, so the guard just exits.
  ~OrphanGuard();
  OrphanGuard(const OrphanGuard&) = delete;
  OrphanGuard& operator=(const OrphanGuard&) = delete;

  // A group beyond the table's kTableEntries (that many tasks of one worker at once) goes
  // unwatched, as every group would without a guard.
  void Watch(pid_t pgid);
  void Forget(pid_t pgid);

  // The token of the tags of this worker's tasks (see TaskTag).
  const std::string& task_tag_token() const { return task_tag_token_; }

  static constexpr std::size_t kTableEntries = 1 << 16;  // 256 KiB, touched only as used

 private:
  OrphanGuard(UniqueFd socket, std::int32_t* table, std::string task_tag_token)
      : socket_(std::move(socket)), table_(table), task_tag_token_(std::move(task_tag_token)) {}

  UniqueFd socket_;      // the worker's end: the guard sees it close when the worker ends
  std::int32_t* table_;  // kTableEntries group ids; 0: a free entry
  std::string task_tag_token_;
  std::unordered_map<pid_t, std::size_t> slot_;  // group id -> its entry
  std::vector<std::size_t> free_;                // entries cleared by Forget
  std::size_t used_ = 0;                         // entries [0, used_) have been handed out
};

// The guard's own life, entered through `jobrunner --orphan-guard TOKEN` with the socket as
// stdin and the table as fd 3. Returns the process's exit status.
int RunOrphanGuard(const std::string& task_tag_token);

}  // namespace jobrunner
