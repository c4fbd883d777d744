#include "posix/signals.h"

#include <atomic>
#include <csignal>
#include <initializer_list>

namespace jobrunner {
namespace {
volatile std::sig_atomic_t g_interrupts = 0;  // SIGINT count
volatile std::sig_atomic_t g_drain = 0;       // SIGUSR1 seen
volatile std::sig_atomic_t g_stop = 0;        // SIGTERM or SIGHUP seen
volatile std::sig_atomic_t g_last = 0;
volatile std::sig_atomic_t g_received = 0;  // bit N: signal N seen

extern "C" void OnSignal(int signal) {
  if (signal == SIGINT) g_interrupts = g_interrupts + 1;
  if (signal == SIGUSR1) g_drain = 1;
  if (signal == SIGTERM || signal == SIGHUP) g_stop = 1;
  g_last = signal;
  if (signal < 31) g_received = g_received | (1 << signal);
}

// Forwarding (InstallSignalForwarding): where signals go, and the first that came.
std::atomic<pid_t> g_forward_to{0};
volatile std::sig_atomic_t g_forwarded = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

extern "C" void ForwardSignal(int signal) {
  if (g_forwarded == 0) g_forwarded = signal;
  const pid_t pid = g_forward_to.load();
  if (pid > 0) kill(pid, signal);
}

void Handle(void (*handler)(int), int flags) {
  struct sigaction action = {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = flags;
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaction(signal, &action, nullptr);
}

}  // namespace

void InstallInterruptHandlers() { Handle(OnSignal, 0); }

InterruptRequest PendingInterrupt() {
  if (g_stop || g_interrupts >= 2) return InterruptRequest::kStop;
  if (g_drain || g_interrupts == 1) return InterruptRequest::kDrain;
  return InterruptRequest::kNone;
}

int InterruptSignal() { return g_last; }

bool ReceivedSignal(int signal) {
  return signal > 0 && signal < 31 && (g_received & (1 << signal)) != 0;
}

bool IsInterruptSignal(int signal) {
  return signal == SIGINT || signal == SIGTERM || signal == SIGHUP || signal == SIGUSR1;
}

void IgnoreInterruptSignals() { Handle(SIG_IGN, 0); }

// SA_RESTART: the supervisor's reads and waits go on after a forwarded signal.
void InstallSignalForwarding() {
  Handle(ForwardSignal, SA_RESTART);
  signal(SIGPIPE, SIG_IGN);
}

void ForwardSignalsTo(pid_t pid) {
  g_forward_to = pid;
  if (pid > 0 && g_forwarded != 0) kill(pid, g_forwarded);
}

int ForwardedSignal() { return g_forwarded; }

}  // namespace jobrunner
