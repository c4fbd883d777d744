#include "outcome.h"

#include <array>

namespace jobrunner {
namespace {
constexpr std::array<std::string_view, kOutcomeCount> kNames = {
    "succeeded", "failed", "signaled", "timed_out", "spawn_error", "interrupted"};
}  // namespace

std::string_view OutcomeName(Outcome outcome) { return kNames[static_cast<int>(outcome)]; }

std::optional<Outcome> OutcomeFromName(std::string_view name) {
  for (int i = 0; i < kOutcomeCount; ++i) {
    if (kNames[i] == name) return static_cast<Outcome>(i);
  }
  return std::nullopt;
}

}  // namespace jobrunner
