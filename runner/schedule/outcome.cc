#include "schedule/outcome.h"

#include <array>

namespace jobrunner {
namespace {
constexpr std::array<std::string_view, kOutcomeCount> kNames = {
    "succeeded", "failed", "signaled", "timed_out", "spawn_error", "interrupted", "skipped", "oom"};
}  // namespace

std::string_view OutcomeName(Outcome outcome) { return kNames[static_cast<int>(outcome)]; }

}  // namespace jobrunner
