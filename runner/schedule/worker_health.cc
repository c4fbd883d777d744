#include "schedule/worker_health.h"

#include <algorithm>

#include "schedule/invariant.h"

namespace jobrunner {

void WorkerHealth::Succeeded(Record& worker) {
  worker.failures_fixed_elsewhere = 0;
  worker.unexplained_failures = 0;
  UpdateSuspicion(worker);
}

void WorkerHealth::Failed(Record& worker, Record* earlier) {
  worker.unexplained_failures++;
  UpdateSuspicion(worker);
  if (earlier != nullptr && earlier->unexplained_failures > 0) {
    // The task failed here too: its earlier failure says nothing against that worker.
    earlier->unexplained_failures--;
    UpdateSuspicion(*earlier);
  }
}

bool WorkerHealth::FixedElsewhere(Record& failed) {
  if (max_failures_ <= 0 || failed.retired) return false;
  if (++failed.failures_fixed_elsewhere < max_failures_) return false;
  return InRotation() > 1;  // the last worker keeps working, whatever its record
}

void WorkerHealth::Retire(int id, Record& worker) {
  if (worker.retired) return;
  worker.retired = true;
  retired_.push_back(id);
  UpdateSuspicion(worker);
}

void WorkerHealth::UpdateSuspicion(Record& worker) {
  const bool suspended =
      !worker.retired && max_failures_ > 0 && worker.unexplained_failures >= max_failures_;
  if (suspended == worker.suspended) return;
  worker.suspended = suspended;
  if (suspended) {
    ++suspended_;
  } else {
    --suspended_;
  }
}

void WorkerHealth::CheckInvariants(const std::map<int, Record>& records) const {
  CheckInvariant(records.size() == workers_, "WorkerHealth: one record per worker added");
  std::size_t suspended = 0;
  std::size_t retired = 0;
  for (const auto& [id, r] : records) {
    CheckInvariant(r.failures_fixed_elsewhere >= 0 && r.unexplained_failures >= 0,
                   "WorkerHealth: failure counts are not negative", "worker", id);
    CheckInvariant(
        r.suspended == (!r.retired && max_failures_ > 0 && r.unexplained_failures >= max_failures_),
        "WorkerHealth: a worker is suspended exactly when it is in rotation and its "
        "unexplained failures reached the limit",
        "worker", id);
    CheckInvariant(!r.retired || std::count(retired_.begin(), retired_.end(), id) == 1,
                   "WorkerHealth: a retired worker is listed once among the retired", "worker", id);
    suspended += r.suspended ? 1 : 0;
    retired += r.retired ? 1 : 0;
  }
  CheckInvariant(suspended == suspended_, "WorkerHealth: the suspended count matches the records");
  CheckInvariant(retired == retired_.size(),
                 "WorkerHealth: the retired list names only retired workers");
  CheckInvariant(max_failures_ > 0 || retired_.empty(),
                 "WorkerHealth: no worker is retired when the limit is off");
  CheckInvariant(workers_ == 0 || InRotation() >= 1,
                 "WorkerHealth: the last worker in rotation is never retired");
}

}  // namespace jobrunner
