#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "schedule/resources.h"
#include "schedule/scheduler_state.h"

namespace jobrunner {

// Placement with resources: the scheduler's path once some task asks for cores, GPUs, memory or
// tags (Scheduler::SetNeeds). A manifest without resource fields never takes it, and scheduling
// costs what it did.
//
// A worker's capacity in cores is its slots, and a task takes as many as it asks (one by
// default), plus GPU ids and memory when it asks for them, and only on a worker with its tags.
// Only tasks that take one core and nothing else may wait in a prefetch queue; any other task is
// handed out only to a worker where it fits right now, counting everything given to that worker
// and not yet reported. Tasks are looked at in order: one that fits nowhere now is held and
// reserves what it asks for on one worker it could run on (the one with the most free cores): as
// tasks end there, their cores, GPUs and memory go to it first, and other tasks may use only what
// is beyond the reservation (and queue nothing there), until it starts there or fits on another
// worker first. So a big task is never starved by small ones behind it, and the rest of the farm
// keeps taking the tasks behind it. Held tasks keep their order and reserve workers in turn, one
// each; at most kMaxHeld are held.
//
// A suspended worker (WorkerHealth) still takes the tasks that no worker outside suspension could
// run: waiting for the verdict on it could hold them for ever, and WorkerHealth lets every worker
// work when all are suspended for the same reason.
//
// The state it works on is the scheduler's (SchedulerState), passed in; it keeps only what each
// group asks for and the tasks held.
class Placement {
 public:
  // Tasks held back because they fit on no worker now: how far past them the scheduler looks.
  static constexpr std::size_t kMaxHeld = 1024;

  // What the tasks of each of `group_count` groups ask for (missing groups ask for nothing).
  // Keeps nothing when no task asks for anything: Active() then says to stay on the plain path.
  void SetNeeds(std::vector<ResourceNeeds> needs, std::size_t group_count);
  bool Active() const { return !needs_.empty(); }
  const ResourceNeeds& NeedsOf(std::size_t group) const;
  // The first group whose tasks fit on none of the workers, if any.
  std::optional<std::size_t> GroupFittingNowhere(const SchedulerState& state) const;
  std::size_t Held() const { return held_.size(); }

  // Hands out work as Scheduler::Assign does, each task only where it fits now: retries that
  // are due, then the tasks held (in order), then fresh ones.
  void Assign(SchedulerState& state, std::int64_t now_ms, std::vector<Assignment>& out);
  // Every task that worker `id` could run could also run on another worker in rotation.
  bool OthersCouldTakeOver(const SchedulerState& state, int id) const;
  // `worker` left rotation: the task that reserved it, if any, looks for another.
  void ReleaseReservation(SchedulerState& state, int worker);

  // Throws std::logic_error naming the first invariant that does not hold: off the resource
  // path nothing is held or reserved; every attempt in flight takes what its group asks for; a
  // held task is of its group, held once, and neither in flight nor waiting for a retry; a
  // reservation and the held task it is for point at each other, one worker per task and one
  // task per worker, never on a retired worker. O(state): for tests, after every step.
  void CheckInvariants(const SchedulerState& state) const;

 private:
  // A task that fit on no worker when its turn came (fresh, or a retry that came due).
  struct Hold {
    std::uint64_t index = 0;
    int attempt = 1;
    int failures = 0;
    int failed_on = -1;
    std::size_t group = 0;
    int reserved = -1;  // the worker it reserved, if any
  };

  void PlaceHeld(SchedulerState& state, bool slots_only, std::vector<Assignment>& out);
  void PullFresh(SchedulerState& state, bool slots_only, std::vector<Assignment>& out);
  // Places `hold` now, or holds it (reserving a worker if it can).
  void PlaceOrHold(SchedulerState& state, Hold hold, bool slots_only, std::vector<Assignment>& out);
  int FindPlace(const SchedulerState& state, const Hold& hold, bool slots_only) const;
  bool FitsNow(const SchedulerState& state, const WorkerState& worker, const Hold& hold,
               bool slots_only) const;
  // For each group, whether only workers that are suspended could run its tasks now.
  void FindGroupsForSuspended(const SchedulerState& state);
  // `worker` may be given no task of `group` now.
  bool BlockedFor(const SchedulerState& state, const WorkerState& worker, std::size_t group) const;
  // A fresh task taking one core could go to `worker` now.
  bool RoomForFresh(const SchedulerState& state, const WorkerState& worker, bool slots_only) const;
  // Whether worker `id` may ever take `hold`: in rotation, able to hold it, and not the worker a
  // retry failed on while another that may take work could run it.
  bool MayTake(const SchedulerState& state, int id, const WorkerState& worker,
               const Hold& hold) const;
  bool OtherWorkerCouldHold(const SchedulerState& state, const Hold& hold) const;
  void Reserve(SchedulerState& state, Hold& hold);
  void GiveHold(SchedulerState& state, int worker, const Hold& hold, std::vector<Assignment>& out);

  std::vector<ResourceNeeds> needs_;  // per group; empty when no task asks for anything
  std::deque<Hold> held_;             // in the order their turn came
  // Per group, during Assign: only suspended workers could run its tasks (FindGroupsForSuspended).
  std::vector<bool> for_suspended_;
};

}  // namespace jobrunner
