#include "posix/signals.h"

#include <atomic>
#include <csignal>

namespace jobrunner {
namespace {
volatile std::sig_atomic_t g_received = 0;  // bit N: signal N seen

// Every interrupt signal, with its sender, in a ring the handler writes and PendingInterrupt
// reads. The four handlers block one another, so only one writes at a time; a ring overrun
// (more than kSignalLog signals between two looks) loses the oldest, which asked for the same.
constexpr unsigned kSignalLog = 64;
struct SignalEntry {
  int signal;
  pid_t sender;
};
SignalEntry g_log[kSignalLog];
std::atomic<unsigned> g_logged{0};
static_assert(std::atomic<unsigned>::is_always_lock_free, "written in a signal handler");

extern "C" void OnSignal(int signal, siginfo_t* info, void* /*context*/) {
  const unsigned n = g_logged.load(std::memory_order_relaxed);
  // si_pid is meaningful only for a signal a process sent (kill, sigqueue, tgkill).
  const bool sent = info != nullptr && (info->si_code == SI_USER || info->si_code == SI_QUEUE ||
                                        info->si_code == SI_TKILL);
  g_log[n % kSignalLog] = SignalEntry{signal, sent ? info->si_pid : 0};
  g_logged.store(n + 1, std::memory_order_release);
  if (signal < 31) g_received = g_received | (1 << signal);
}

// What the signals read from the log so far ask for; only the reading thread touches these.
unsigned g_read = 0;
int g_interrupts = 0;  // SIGINT count
bool g_drain = false;  // SIGUSR1 seen
bool g_stop = false;   // SIGTERM or SIGHUP seen
int g_last = 0;

// Forwarding (InstallSignalForwarding): where signals go, and the first that came.
std::atomic<pid_t> g_forward_to{0};
volatile std::sig_atomic_t g_forwarded = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

extern "C" void ForwardSignal(int signal) {
  if (g_forwarded == 0) g_forwarded = signal;
  const pid_t pid = g_forward_to.load();
  if (pid > 0) kill(pid, signal);
}

constexpr int kInterruptSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};

void Handle(void (*handler)(int), int flags) {
  struct sigaction action = {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = flags;
  for (int signal : kInterruptSignals) sigaction(signal, &action, nullptr);
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction action = {};
  action.sa_sigaction = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signal : kInterruptSignals) sigaddset(&action.sa_mask, signal);
  action.sa_flags = SA_SIGINFO;
  for (int signal : kInterruptSignals) sigaction(signal, &action, nullptr);
}

bool InterruptHandlersKept() {
  for (int signal : kInterruptSignals) {
    struct sigaction now = {};
    if (sigaction(signal, nullptr, &now) != 0) return false;
    if ((now.sa_flags & SA_SIGINFO) == 0 || now.sa_sigaction != OnSignal) return false;
  }
  return true;
}

InterruptRequest PendingInterrupt(FromOwnTask from_own_task, void* context) {
  const unsigned logged = g_logged.load(std::memory_order_acquire);
  if (logged - g_read > kSignalLog) g_read = logged - kSignalLog;
  for (; g_read != logged; ++g_read) {
    const SignalEntry entry = g_log[g_read % kSignalLog];
    if (from_own_task != nullptr && from_own_task(entry.signal, entry.sender, context)) continue;
    if (entry.signal == SIGINT) ++g_interrupts;
    if (entry.signal == SIGUSR1) g_drain = true;
    if (entry.signal == SIGTERM || entry.signal == SIGHUP) g_stop = true;
    g_last = entry.signal;
  }
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
  (void)signal(SIGPIPE, SIG_IGN);  // cannot fail: a valid signal and handler
}

void ForwardSignalsTo(pid_t pid) {
  g_forward_to = pid;
  if (pid > 0 && g_forwarded != 0) kill(pid, g_forwarded);
}

int ForwardedSignal() { return g_forwarded; }

}  // namespace jobrunner
