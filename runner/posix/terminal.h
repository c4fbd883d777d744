#pragma once

// What this process's standard output is: a terminal to redraw in place, or a file or pipe to
// append to.

#include <optional>

namespace jobrunner {

bool StdoutIsTerminal();
// The width of the terminal on standard output; nullopt when it is not a terminal.
std::optional<int> StdoutColumns();

}  // namespace jobrunner
