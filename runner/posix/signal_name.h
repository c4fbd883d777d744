#pragma once

#include <string>

namespace jobrunner {

// "SIGKILL" for 9, "SIGTERM" for 15, ...; "signal N" for a number the system does not name.
std::string SignalName(int signal);

}  // namespace jobrunner
