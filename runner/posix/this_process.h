#pragma once

// This process: who it is, where its stderr goes, and how it ends in a hurry.

#include <string>

namespace jobrunner {

int ProcessId();
bool RunningAsRoot();  // effective user id 0

bool StderrIsTerminal();
// What the parent process's stderr is, as /proc/PPID/fd/2 names it ("/dev/pts/3", "pipe:[12]");
// empty when that cannot be read.
std::string ParentStderrTarget();

// Ends this process now with `status`: no destructors, no atexit handlers, no stdio flush. For a
// rank that must not wait for what mpirun is already tearing down.
[[noreturn]] void ExitNow(int status);

}  // namespace jobrunner
