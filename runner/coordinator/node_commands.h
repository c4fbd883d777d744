#pragma once

// The manifest's node_setup and node_teardown, on the coordinator's side: which worker of each
// host runs them, the commands as that host runs them, and the workers that wait, out of the
// scheduler, until their host's set-up has succeeded.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manifest/task_spec.h"
#include "schedule/resources.h"
#include "transport/protocol.h"

namespace jobrunner {

class NodeCommands {
 public:
  // A worker whose host's set-up has not succeeded yet: its Welcome (sent already to the host's
  // first worker, which runs the set-up; held back from the others) and its capacity for the
  // scheduler.
  struct Waiting {
    int from = 0;  // transport rank
    Welcome welcome;
    WorkerCapacity capacity;
    bool welcomed = false;
  };

  NodeCommands(std::optional<TaskSpec> setup, std::optional<TaskSpec> teardown,
               std::uint32_t run_number);

  bool has_setup() const { return setup_.has_value(); }
  bool has_teardown() const { return teardown_.has_value(); }

  // Called for every worker, in rank order, as it is welcomed. The first worker of a host (its
  // lowest rank) runs the host's commands: they go into its Welcome, and true is returned. The
  // hosts are numbered 0, 1, ... in that order (JOBRUNNER_NODE_RANK).
  bool AddToWelcome(const std::string& host, Welcome& welcome);

  // node_setup (setup) or node_teardown as `host` runs it: id node-setup.<host> (or
  // node-teardown.<host>), so that its logs are logs/node-setup.<host>.<run>.out and .err, with
  // the run's number as its attempt; JOBRUNNER_NODE_RANK and JOBRUNNER_NODE_HOST in its
  // environment. Only for a host AddToWelcome has seen, and a command the manifest has.
  TaskSpec For(bool setup, const std::string& host) const;

  void Wait(const std::string& host, Waiting waiting);
  // The workers of `host` that waited for its set-up, its first one first; none are left after.
  std::vector<Waiting> TakeWaiting(const std::string& host);
  bool AnyWaiting() const { return !waiting_.empty(); }

 private:
  std::optional<TaskSpec> setup_;
  std::optional<TaskSpec> teardown_;
  std::uint32_t run_number_;
  std::map<std::string, int> node_ranks_;
  std::map<std::string, std::vector<Waiting>> waiting_;
};

}  // namespace jobrunner
