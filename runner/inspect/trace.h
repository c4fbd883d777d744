#pragma once

// A run's attempts in Chrome's trace-event format (JSON), which Perfetto (ui.perfetto.dev) and
// chrome://tracing open: one process per worker, one thread per slot, one slice per attempt.

#include <nlohmann/json.hpp>

#include "inspect/timeline.h"

namespace jobrunner {

// Times are microseconds from the timeline's start; `otherData.start` says when that was.
nlohmann::json ChromeTrace(const Timeline& timeline);

}  // namespace jobrunner
