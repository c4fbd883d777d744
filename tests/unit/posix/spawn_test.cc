#include "posix/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "posix/pipe.h"
#include "posix/signals.h"
#include "posix/unique_fd.h"

namespace jobrunner {
namespace {

// Everything a pipe's writers wrote, once they have all closed it.
std::string ReadAll(UniqueFd& read_end) {
  std::string text;
  char buffer[4096];
  for (;;) {
    StatusOr<std::size_t> n = ReadSome(read_end.get(), buffer, sizeof buffer);
    REQUIRE(n.ok());
    if (*n == 0) return text;
    text.append(buffer, *n);
  }
}

// Runs `script` under /bin/sh with the write end of a fresh pipe as its fd 3 and returns what
// it wrote there, after reaping it.
std::string RunWithPipe(const std::string& script, SpawnRequest spawn = {}) {
  StatusOr<Pipe> pipe = MakePipe(/*nonblocking_read=*/false);
  REQUIRE(pipe.ok());
  const std::vector<std::string> command = {"/bin/sh", "-c", script};
  spawn.SetCommand(command);
  spawn.fds.push_back({3, pipe->write_end.get()});
  StatusOr<pid_t> pid = Spawn(spawn);
  REQUIRE(pid.ok());
  pipe->write_end.Reset();
  std::string text = ReadAll(pipe->read_end);
  std::optional<ChildEnd> end = Reap(*pid);
  REQUIRE(end);
  CHECK(end->exit_code == 0);
  return text;
}

TEST_CASE("A spawned child gets its fd mappings and a process group of its own") {
  // Field 5 of /proc/PID/stat is the process group.
  const std::string text =
      RunWithPipe("echo \"$$ $(cut -d' ' -f5 /proc/$$/stat) $(readlink /proc/$$/fd/0)\" >&3",
                  SpawnRequest{{}, nullptr, false, nullptr, nullptr, {{0, kDevNull}}, true});
  const std::size_t space = text.find(' ');
  REQUIRE(space != std::string::npos);
  const std::string pid = text.substr(0, space);
  CHECK(text == pid + " " + pid + " /dev/null\n");
  CHECK(pid != std::to_string(getpgrp()));
}

// The signals 1..31 in a /proc/PID/status mask such as "SigIgn:\t0000000180000000\n". glibc
// leaves its two internal signals (32 and 33) ignored in the child, and sets them up anew at
// the start of every program it runs.
unsigned long long StandardSignals(const std::string& text, const std::string& field) {
  const std::size_t at = text.find(field + ":\t");
  REQUIRE(at != std::string::npos);
  return std::stoull(text.substr(at + field.size() + 2, 16), nullptr, 16) & 0x7fffffffULL;
}

TEST_CASE("A spawned child starts with no signal blocked or ignored") {
  sigset_t usr2, old_mask;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, &old_mask);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_action);

  // exec: grep's own masks are those the shell started with (a shell that waits for a child
  // blocks signals meanwhile).
  const std::string text = RunWithPipe("exec grep -E '^Sig(Blk|Ign)' /proc/self/status >&3");

  sigaction(SIGPIPE, &old_action, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  CHECK(StandardSignals(text, "SigBlk") == 0);
  CHECK(StandardSignals(text, "SigIgn") == 0);
}

TEST_CASE("A spawned child does not inherit stray fds unless asked to") {
  // Without close-on-exec, as a library might leave one, and above the fds the test maps.
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd stray(::fcntl(dev_null.get(), F_DUPFD, 50));
  REQUIRE(stray);
  const std::string script =
      "if [ -e /proc/$$/fd/" + std::to_string(stray.get()) + " ]; then echo kept >&3; fi";
  CHECK(RunWithPipe(script) == "");
  SpawnRequest keep_fds;
  keep_fds.close_other_fds = false;
  CHECK(RunWithPipe(script, keep_fds) == "kept\n");
}

TEST_CASE("A spawn that fails says why, naming the program or the directory") {
  SpawnRequest spawn;
  const std::vector<std::string> missing = {"jobrunner-no-such-program"};
  spawn.SetCommand(missing);
  spawn.search_path = true;
  StatusOr<pid_t> pid = Spawn(spawn);
  REQUIRE_FALSE(pid.ok());
  CHECK(pid.status().message() == "command not found: jobrunner-no-such-program");
  CHECK(pid.status().code() == ENOENT);

  const std::vector<std::string> shell = {"/bin/sh", "-c", "true"};
  spawn.SetCommand(shell);
  spawn.cwd = "/jobrunner-no-such-dir";
  pid = Spawn(spawn);
  REQUIRE_FALSE(pid.ok());
  CHECK(pid.status().message() ==
        "cannot change directory to /jobrunner-no-such-dir: no such file or directory");

  CHECK(Spawn(SpawnRequest{}).status().message() == "empty command");
}

TEST_CASE("A reaped child reports its exit code, or the signal that killed its group") {
  SpawnRequest spawn;
  const std::vector<std::string> exits = {"/bin/sh", "-c", "exit 3"};
  spawn.SetCommand(exits);
  StatusOr<pid_t> pid = Spawn(spawn);
  REQUIRE(pid.ok());
  std::optional<ChildEnd> end = Reap(*pid);
  REQUIRE(end);
  CHECK(end->exit_code == 3);
  CHECK(end->signal == 0);
  CHECK(end->ShellStatus() == 3);
  CHECK_FALSE(Reap(*pid));  // gone: nothing more to reap

  const std::vector<std::string> sleeps = {"/bin/sh", "-c", "sleep 30 & wait"};
  spawn.SetCommand(sleeps);
  pid = Spawn(spawn);
  REQUIRE(pid.ok());
  CHECK_FALSE(TryReap(*pid));  // still running
  KillProcessGroup(*pid);
  end = Reap(*pid);
  REQUIRE(end);
  CHECK(end->signal == SIGKILL);
  CHECK(end->ShellStatus() == 128 + SIGKILL);
}

TEST_CASE("Forwarded signals reach the child named, also one that came before it") {
  const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE};
  struct sigaction saved[5];
  for (int i = 0; i < 5; ++i) sigaction(signals[i], nullptr, &saved[i]);
  InstallSignalForwarding();

  raise(SIGUSR1);  // nowhere to go yet: remembered
  CHECK(ForwardedSignal() == SIGUSR1);
  SpawnRequest spawn;
  const std::vector<std::string> sleeps = {"/bin/sh", "-c", "sleep 30 & wait"};
  spawn.SetCommand(sleeps);
  StatusOr<pid_t> pid = Spawn(spawn);
  REQUIRE(pid.ok());
  ForwardSignalsTo(*pid);
  std::optional<ChildEnd> end = Reap(*pid);
  ForwardSignalsTo(0);
  for (int i = 0; i < 5; ++i) sigaction(signals[i], &saved[i], nullptr);
  KillProcessGroup(*pid);  // the sleep its shell left behind

  REQUIRE(end);
  CHECK(end->signal == SIGUSR1);
}

}  // namespace
}  // namespace jobrunner
