#pragma once

#include <cstddef>
#include <map>
#include <vector>

namespace jobrunner {

// Which workers the scheduler still trusts with work. Pure, like the scheduler it serves.
//
// A task that failed on one worker and then succeeded on another counts against the first: after
// `max_failures` of those in a row, with no success of its own in between, that worker is retired
// (given no more work) while another worker remains in rotation. A worker's own success clears its
// record: one that also succeeds is healthy, and its failures belong to tasks that fail on a first
// try anywhere.
//
// The verdict takes the retries elsewhere, so meanwhile a worker with `max_failures` failures in a
// row is suspended (given nothing new), so that a broken worker cannot burn through the manifest
// first. A failure is explained, and stops counting towards suspension, when its task fails on
// the next worker too. When every worker in rotation is suspended they all keep working: then the
// tasks are more likely at fault than the workers, and waiting would stall the run.
// max_failures 0: no worker is ever suspended or retired. The last worker in rotation is never
// retired, whatever its record.
//
// A worker's Record lives beside the rest of what the scheduler keeps per worker, so that asking
// whether a worker may take work costs no lookup; this class holds the rules and the counts over
// all workers.
class WorkerHealth {
 public:
  struct Record {
    int failures_fixed_elsewhere = 0;  // since its last success
    // Failures since its last success, less those of tasks that then failed elsewhere too.
    int unexplained_failures = 0;
    bool suspended = false;  // unexplained_failures reached max_failures
    bool retired = false;
  };

  explicit WorkerHealth(int max_failures) : max_failures_(max_failures) {}

  // A worker joined: one more in rotation.
  void Added() { ++workers_; }

  // The worker may be given nothing new.
  bool Blocked(const Record& worker) const {
    return worker.retired || (worker.suspended && !AllSuspended());
  }
  // Every worker in rotation is suspended (or none is in rotation): then none is blocked for it.
  bool AllSuspended() const { return suspended_ >= InRotation(); }

  // An attempt succeeded on `worker`.
  void Succeeded(Record& worker);
  // An attempt failed on `worker`; `earlier` is the other worker its task last failed on, if any.
  void Failed(Record& worker, Record* earlier);
  // An attempt that had failed on a worker (with record `failed`) succeeded on another. Returns
  // whether that worker has now earned retirement: its record says so, and another worker is in
  // rotation. Retire does it, unless the caller knows a reason to keep it.
  bool FixedElsewhere(Record& failed);
  void Retire(int id, Record& worker);

  // Workers retired, in the order it happened.
  const std::vector<int>& retired() const { return retired_; }
  std::size_t InRotation() const { return workers_ - retired_.size(); }
  std::size_t Suspended() const { return suspended_; }

  // Throws std::logic_error naming the first invariant that does not hold of `records` (every
  // worker's, by id): one record per worker added; a worker is suspended exactly when it is not
  // retired and its unexplained failures reached max_failures, and the count of suspended workers
  // says so; the retired list names each retired worker once, and no other; with workers added,
  // one at least stays in rotation. For tests, after every step.
  void CheckInvariants(const std::map<int, Record>& records) const;

 private:
  void UpdateSuspicion(Record& worker);

  int max_failures_;
  std::size_t workers_ = 0;
  std::size_t suspended_ = 0;
  std::vector<int> retired_;
};

}  // namespace jobrunner
