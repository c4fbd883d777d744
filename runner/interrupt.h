#pragma once

namespace jobrunner {

// SIGINT, SIGTERM and SIGHUP only set a flag; the rank's loop looks at it between steps, so that
// it can kill its children and save results before it goes.
void InstallInterruptHandlers();

// The signal received, or 0.
int PendingInterrupt();

}  // namespace jobrunner
