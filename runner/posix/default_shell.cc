#include "posix/default_shell.h"

#include <unistd.h>

namespace jobrunner {

const std::string& DefaultShell() {
  static const std::string shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
  return shell;
}

}  // namespace jobrunner
