#include "schedule/worker_health.h"

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

bool WorkerHealth::FixedElsewhere(int id, Record& failed) {
  if (max_failures_ <= 0 || failed.retired) return false;
  if (++failed.failures_fixed_elsewhere < max_failures_) return false;
  if (InRotation() <= 1) return false;  // the last worker keeps working, whatever its record
  failed.retired = true;
  retired_.push_back(id);
  UpdateSuspicion(failed);
  return true;
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

}  // namespace jobrunner
