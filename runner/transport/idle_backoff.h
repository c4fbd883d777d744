#pragma once

#include <algorithm>
#include <chrono>

#include "base/clock.h"

namespace jobrunner {

// How long a rank's loop may sleep before it looks for messages again. Nothing while work
// flows; a millisecond for a short while after it stops, since the next batch of work (or of
// results) is usually already on its way; then doubling up to `max`, so that an idle rank costs
// next to no CPU. (Messages cannot wake a sleeping rank: Open MPI is only polled.)
class IdleBackoff {
 public:
  static constexpr std::chrono::milliseconds kStayAwake{20};

  explicit IdleBackoff(std::chrono::milliseconds max, const Clock& clock = SystemClock())
      : max_(max), clock_(&clock) {}

  // The wait after a loop turn that did (`active`) or did not do something.
  std::chrono::milliseconds Next(bool active) {
    const std::chrono::steady_clock::time_point now = clock_->Now();
    if (active) {
      last_active_ = now;
      wait_ = std::chrono::milliseconds(0);
    } else if (now - last_active_ < kStayAwake) {
      wait_ = std::chrono::milliseconds(1);
    } else {
      wait_ = std::min(max_, std::max(std::chrono::milliseconds(1), wait_ * 2));
    }
    return wait_;
  }
  std::chrono::milliseconds current() const { return wait_; }

 private:
  std::chrono::milliseconds max_;
  const Clock* clock_;
  std::chrono::milliseconds wait_{0};
  std::chrono::steady_clock::time_point last_active_{};
};

}  // namespace jobrunner
