#include "posix/signals.h"

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
}  // namespace

void InstallInterruptHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaction(signal, &action, nullptr);
}

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

}  // namespace jobrunner
