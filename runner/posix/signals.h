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

// Whether this process has received `signal`, one of those above (SIGINT, SIGTERM, SIGHUP,
// SIGUSR1). A batch system or mpirun often signals a whole job, tasks included: a task that
// died of the signal its worker also got was stopped with the run, and did not fail.
bool ReceivedSignal(int signal);
// Whether `signal` is one of those: a task killed by it may have been stopped with the run.
bool IsInterruptSignal(int signal);

}  // namespace jobrunner
