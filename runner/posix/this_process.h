#pragma once

// This process: who it is, where its stderr goes, and how it ends in a hurry.

#include <string>
#include <vector>

namespace jobrunner {

int ProcessId();
bool RunningAsRoot();  // effective user id 0

bool StderrIsTerminal();
// What the parent process's stderr is, as /proc/PPID/fd/2 names it ("/dev/pts/3", "pipe:[12]");
// empty when that cannot be read.
std::string ParentStderrTarget();

// The absolute path of this process's executable (/proc/self/exe); empty when unknown.
std::string ExecutablePath();
// This process's command line and its parent's, one word per argument (/proc/PID/cmdline);
// empty when it cannot be read (a parent of another user, or one that has gone).
std::vector<std::string> OwnCommandLine();
std::vector<std::string> ParentCommandLine();
// The working directory of this process; empty when it cannot be named.
std::string WorkingDirectory();

// Ends this process now with `status`: no destructors, no atexit handlers, no stdio flush. For a
// rank that must not wait for what mpirun is already tearing down.
[[noreturn]] void ExitNow(int status);

// For tests only: lets a test stop or kill this process at a named point of its start-up, to
// see what a crash or a stall there leaves behind, without racing a timer. When the environment
// variable JOBRUNNER_TEST_CRASH_AT equals `point`, the process sends itself SIGKILL there (as
// kill -9 would end it: no clean-up); when JOBRUNNER_TEST_STOP_AT equals it, SIGSTOP (the test
// then looks around or starts another run, and sends SIGCONT). Unset, nothing happens. The
// points are listed where the run directory is opened (app/open_run.cc).
void TestCrashPoint(const char* point);

}  // namespace jobrunner
