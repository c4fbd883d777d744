#include "posix/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

namespace jobrunner {

bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::optional<int> StdoutColumns() {
  struct winsize size {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return std::nullopt;
  return static_cast<int>(size.ws_col);
}

}  // namespace jobrunner
