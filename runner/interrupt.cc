#include "interrupt.h"

#include <csignal>
#include <initializer_list>

namespace jobrunner {
namespace {
volatile std::sig_atomic_t g_signal = 0;

extern "C" void OnSignal(int signal) { g_signal = signal; }
}  // namespace

void InstallInterruptHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
}

int PendingInterrupt() { return g_signal; }

}  // namespace jobrunner
