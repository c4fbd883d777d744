#pragma once

#include <algorithm>
#include <cmath>

namespace jobrunner {

// How quickly a worker gets through its tasks, and so how many tasks it may have queued beyond
// its slots (its prefetch).
//
// Prefetch is zero until the worker's typical task duration is known, then sized so that its
// queue holds about kQueueTargetMs of work, growing by one per result seen: tiny tasks travel
// hundreds at a time, long tasks are never parked behind one another while another worker sits
// idle. Inline: the scheduler asks it of every worker in every Assign.
struct Pace {
  static constexpr double kQueueTargetMs = 20.0;
  static constexpr double kNoPrefetchAboveMs = 500.0;
  // Weight of the newest duration in the running mean: recent tasks say more about the next ones
  // than old tasks do, without one outlier swinging the prefetch.
  static constexpr double kDurationWeight = 0.2;
  // Durations below this are measured as this: sub-millisecond tasks all need the maximum prefetch.
  static constexpr double kMinDurationMs = 0.01;

  double mean_duration_ms = 0;  // of its tasks so far, recent ones weighing most
  double last_duration_ms = 0;
  int samples = 0;  // results seen, up to max_prefetch

  void Record(double duration_ms, int max_prefetch) {
    const double d = std::max(duration_ms, kMinDurationMs);
    mean_duration_ms =
        samples == 0 ? d : (1 - kDurationWeight) * mean_duration_ms + kDurationWeight * d;
    last_duration_ms = d;
    samples = std::min(samples + 1, max_prefetch);
  }

  // Tasks to queue beyond `slots`.
  int Prefetch(int slots, int max_prefetch) const {
    // Judged by the longer of the running mean and the latest task, so that one long task stops
    // the queueing at once; and never deeper than the results seen so far, so that one quick
    // first task cannot earn a worker a queue of long ones (queued tasks are never handed back).
    const double per_task = std::max(mean_duration_ms, last_duration_ms);
    if (samples == 0 || per_task >= kNoPrefetchAboveMs) return 0;
    const double wanted = std::ceil(slots * kQueueTargetMs / std::max(per_task, kMinDurationMs));
    return static_cast<int>(std::min<double>(
        {wanted, static_cast<double>(max_prefetch), static_cast<double>(samples)}));
  }
};

}  // namespace jobrunner
