#pragma once

// Every signal handler and disposition jobrunner sets is set here: the ranks' interrupt
// handlers, the orphan guard's indifference, and `jobrunner launch`'s forwarding to mpirun.

#include <sys/types.h>

namespace jobrunner {

// What the signals received so far ask for. Handlers only count signals; the rank's loop asks
// between steps, so that it can record what it was doing before it goes.
enum class InterruptRequest {
  kNone,
  kDrain,  // SIGUSR1 (mpirun forwards it to every rank), or a first SIGINT: finish gracefully
  kStop,   // SIGTERM, SIGHUP or a second SIGINT: stop now, still saving the journal
};

// Installed before MPI_Init, so that a signal in the first moments of a run already drains or
// stops it (Open MPI 4.1 installs no handler of its own for these four: InterruptHandlersKept
// checks it after MPI_Init).
void InstallInterruptHandlers();
// Whether the handlers InstallInterruptHandlers set are still the ones in place.
bool InterruptHandlersKept();

// Decides, for a signal this process received, whether it came from one of this process's own
// tasks (given the sender's pid; 0 when the kernel or an unknown process sent it). Such a signal
// asks for nothing: a task that signals its worker must not stop the run, and every resume with
// it (see README, "Children").
using FromOwnTask = bool (*)(int signal, pid_t sender, void* context);

// What the signals received so far ask for. Signals `from_own_task` claims are left out.
InterruptRequest PendingInterrupt(FromOwnTask from_own_task = nullptr, void* context = nullptr);
// The signal behind the current request, for messages and exit statuses.
int InterruptSignal();

// Whether this process has received `signal`, one of those above (SIGINT, SIGTERM, SIGHUP,
// SIGUSR1). A batch system or mpirun often signals a whole job, tasks included: a task that
// died of the signal its worker also got was stopped with the run, and did not fail.
bool ReceivedSignal(int signal);
// Whether `signal` is one of those: a task killed by it may have been stopped with the run.
bool IsInterruptSignal(int signal);

// Makes this process ignore SIGINT, SIGTERM, SIGHUP and SIGUSR1: for the orphan guard, which
// must outlive the signals meant for its worker to do its one job after it.
void IgnoreInterruptSignals();

// For a supervisor (`jobrunner launch`): SIGINT, SIGTERM, SIGHUP and SIGUSR1 are passed on, as
// they came, to the process ForwardSignalsTo names, and the first of them is remembered. SIGPIPE
// is ignored: the supervisor writes its child's stderr on, and a reader that went away must not
// end it.
void InstallSignalForwarding();
// Where forwarded signals go from now on; 0: nowhere. When a signal already came, `pid` gets it
// at once: it may have come before `pid` was there to receive it.
void ForwardSignalsTo(pid_t pid);
// The first signal InstallSignalForwarding's handlers received; 0 when none came.
int ForwardedSignal();

}  // namespace jobrunner
