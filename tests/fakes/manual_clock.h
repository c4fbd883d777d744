#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "base/clock.h"

namespace jobrunner {

// Time that passes only when the test says so. Both readings move together: Advance(5ms) moves
// Now() and UnixMs() alike. Atomic, since the kind runner's threads read it too.
class ManualClock final : public Clock {
 public:
  // Starts at plausible moments: 2023-11-14 in Unix time, and an hour after the steady clock's
  // epoch, so that a default time_point{} reads as long ago, as it does on a real system.
  static constexpr std::int64_t kStartUnixMs = 1'700'000'000'000;
  static constexpr std::chrono::hours kStartSteady{1};

  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::time_point(kStartSteady) +
           std::chrono::milliseconds(elapsed_ms_.load());
  }
  std::int64_t UnixMs() const override { return kStartUnixMs + elapsed_ms_.load(); }

  void Advance(std::chrono::milliseconds by) { elapsed_ms_ += by.count(); }

 private:
  std::atomic<std::int64_t> elapsed_ms_{0};
};

}  // namespace jobrunner
