#include "posix/helper_process.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "temp_dir.h"

using jobrunner::CapturedRun;
using jobrunner::FdWait;
using jobrunner::HelperProcess;
using jobrunner::HelperRequest;
using jobrunner::RunCaptured;
using jobrunner::testing::ReadFile;
using jobrunner::testing::TempDir;

TEST_CASE("A helper reads fd 3 and answers on fd 4, its stdout and stderr in files") {
  TempDir dir;
  HelperRequest request;
  request.argv = {"/bin/sh", "-c", "read line <&3; echo \"got $line\" >&4; echo out; echo err >&2"};
  request.stdout_path = dir / "out";
  request.stderr_path = dir / "err";
  auto helper = HelperProcess::Start(request, nullptr);
  REQUIRE(helper.ok());
  HelperProcess& h = **helper;
  CHECK(h.Send("hello\n") == 6u);
  std::string answer;
  std::vector<FdWait> fds = {{h.receive_fd(), false, false}};
  while (answer.find('\n') == std::string::npos) {
    jobrunner::WaitForFds(fds, std::chrono::milliseconds(5000));
    REQUIRE(fds[0].ready);
    h.Receive(answer);
  }
  CHECK(answer == "got hello\n");
  std::vector<FdWait> exited = {{h.exit_fd(), false, false}};
  jobrunner::WaitForFds(exited, std::chrono::milliseconds(5000));
  REQUIRE(exited[0].ready);
  const jobrunner::ChildEnd end = h.KillAndReap();
  CHECK(end.exit_code == 0);
  CHECK(end.signal == 0);
  CHECK(h.reaped());
  CHECK(ReadFile(dir / "out") == "out\n");
  CHECK(ReadFile(dir / "err") == "err\n");
}

TEST_CASE("Sending to a helper that has ended says so instead of raising SIGPIPE") {
  TempDir dir;
  HelperRequest request;
  request.argv = {"/bin/true"};
  request.stdout_path = dir / "out";
  request.stderr_path = dir / "err";
  auto helper = HelperProcess::Start(request, nullptr);
  REQUIRE(helper.ok());
  std::vector<FdWait> fds = {{(*helper)->exit_fd(), false, false}};
  jobrunner::WaitForFds(fds, std::chrono::milliseconds(5000));
  REQUIRE(fds[0].ready);
  std::string ignored;
  CHECK_FALSE((*helper)->Receive(ignored));
  CHECK_FALSE((*helper)->Send("anyone there?\n").has_value());
  CHECK((*helper)->KillAndReap().exit_code == 0);
}

TEST_CASE("A helper that cannot start says why") {
  TempDir dir;
  HelperRequest request;
  request.argv = {"/nonexistent/python3"};
  request.stdout_path = dir / "out";
  request.stderr_path = dir / "err";
  auto helper = HelperProcess::Start(request, nullptr);
  REQUIRE_FALSE(helper.ok());
  CHECK(helper.status().message() == "no such file or directory: /nonexistent/python3");
}

TEST_CASE("A captured run gets its input and gives back both outputs and its status") {
  auto run = RunCaptured({"/bin/sh", "-c", "read x; echo \"in: $x\"; echo oops >&2; exit 3"},
                         "data\n", std::chrono::seconds(10));
  REQUIRE(run.ok());
  CHECK(run->output == "in: data\n");
  CHECK(run->errors == "oops\n");
  CHECK(run->end.exit_code == 3);
}

TEST_CASE("A captured run past its limit is killed and reported") {
  const auto start = std::chrono::steady_clock::now();
  auto run = RunCaptured({"/bin/sleep", "30"}, "", std::chrono::milliseconds(200));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  REQUIRE_FALSE(run.ok());
  CHECK(run.status().message() == "/bin/sleep did not finish within 200 ms");
}

TEST_CASE("Signals have their names") {
  CHECK(jobrunner::SignalName(11) == "SIGSEGV");
  CHECK(jobrunner::SignalName(9) == "SIGKILL");
}
