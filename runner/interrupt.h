#pragma once

namespace jobrunner {

// What the signals received so far ask for. Handlers only count signals; the rank's loop asks
// between steps, so that it can record what it was doing before it goes.
enum class InterruptRequest {
  kNone,
  kDrain,  // SIGUSR1 (mpirun forwards it to every rank), or a first SIGINT: finish gracefully
  kStop,   // SIGTERM, SIGHUP or a second SIGINT: stop now, still saving the journal
};

void InstallInterruptHandlers();
InterruptRequest PendingInterrupt();
// The signal behind the current request, for messages and exit statuses.
int InterruptSignal();

// The signal that asked for a drain (SIGUSR1 or SIGINT), or 0 while none has.
int DrainSignal();

}  // namespace jobrunner
