// The Python pool with real python3 interpreters (as tests/e2e runs, /usr/bin/python3 from
// scripts/install-deps) and a real module written into a temporary run directory.

#include "worker/python_pool.h"

#include <poll.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "posix/dir.h"
#include "temp_dir.h"

using jobrunner::Dir;
using jobrunner::Outcome;
using jobrunner::PythonCall;
using jobrunner::PythonExit;
using jobrunner::PythonPool;
using jobrunner::PythonPoolSettings;
using jobrunner::testing::ReadFile;
using jobrunner::testing::TempDir;

namespace {

constexpr const char* kModule = R"(
import ctypes, os, sys, time

def noop(**kwargs):
    return None

def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}

def pair(a, b):
    return (a, b)

def unkeepable():
    return lambda: 0

def boom(alpha):
    raise ValueError(f"bad alpha {alpha}")

def segv():
    ctypes.string_at(0)

def leave(code):
    os._exit(code)

def nap(seconds):
    time.sleep(seconds)
    return seconds

def talk(n):
    print("print", n)
    sys.stderr.write(f"stderr {n}\n")
    os.write(1, b"os.write\n")
    os.system("echo from a child")
    return n

def where():
    return [os.getcwd(), os.environ.get("JR_TEST"), os.environ.get("CUDA_VISIBLE_DEVICES")]

def gpu():
    return [os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")]

def meet(dir, name, count):
    open(os.path.join(dir, name), "w").close()
    for _ in range(1000):
        if len(os.listdir(dir)) >= count:
            return True
        time.sleep(0.01)
    raise RuntimeError("the other calls never ran beside this one")

def failing_setup():
    raise RuntimeError("no model here")

counted = []
def count_setup():
    counted.append(1)

def setups():
    return len(counted)
)";

// A run directory with logs/ and data/, and the test module beside them.
struct RunDir {
  TempDir dir;
  RunDir() {
    std::filesystem::create_directories(dir / "logs");
    std::filesystem::create_directories(dir / "data");
    std::filesystem::create_directories(dir / "lib");
    std::ofstream(dir / "lib/pooltest.py") << kModule;
  }
  PythonPoolSettings Settings(std::size_t interpreters = 1) const {
    PythonPoolSettings settings;
    settings.python.path = {dir / "lib"};
    settings.run_dir = dir.str();
    settings.logs = std::make_shared<const Dir>(Dir::Open(dir / "logs").value());
    settings.scratch_prefix = ".python-test-";
    settings.kill_grace = std::chrono::milliseconds(500);
    settings.max_interpreters = interpreters;
    return settings;
  }
  std::string Log(const std::string& name) const { return ReadFile(dir / ("logs/" + name)); }
};

PythonCall Call(std::uint64_t key, const std::string& function, const std::string& args = "[]",
                const std::string& kwargs = "{}") {
  PythonCall call;
  call.key = key;
  call.name = "t-" + std::to_string(key) + ".1";
  call.call = "[\"pooltest:" + function + "\"," + args + "," + kwargs + "]";
  return call;
}

// Runs `calls` on `pool` and returns their exits by key (waiting at most 60 s).
std::map<std::uint64_t, PythonExit> Run(PythonPool& pool, std::vector<PythonCall> calls) {
  const std::size_t count = calls.size();
  pool.Start(std::move(calls));
  std::map<std::uint64_t, PythonExit> exits;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (exits.size() < count && std::chrono::steady_clock::now() < give_up) {
    pollfd fd{pool.wake_fd(), POLLIN, 0};
    poll(&fd, 1, 100);
    for (PythonExit& exit : pool.Collect()) exits[exit.key] = std::move(exit);
  }
  return exits;
}

std::vector<std::string> ScratchFiles(const RunDir& run) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(run.dir / "logs")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".python", 0) == 0) names.push_back(name);
  }
  return names;
}

}  // namespace

TEST_CASE(
    "Return values come back as JSON, or pickled into the data file when JSON cannot hold them") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "noop"), Call(2, "echo", "[1, 2.5]", R"({"s": "x", "n": null})"),
                          Call(3, "pair", "[1]", R"({"b": [true]})")});
  REQUIRE(exits.size() == 3);
  CHECK(exits[1].outcome == Outcome::kSucceeded);
  CHECK(exits[1].result == "null");
  CHECK(exits[2].result == R"({"args":[1,2.5],"kwargs":{"s":"x","n":null}})");
  CHECK(exits[3].outcome == Outcome::kSucceeded);
  CHECK(exits[3].result.empty());
  CHECK(exits[3].data_path == run.dir / "data/t-3.1.pickle");
  CHECK(std::filesystem::file_size(exits[3].data_path) > 0);
  CHECK(exits[1].start_ms > 0);
  CHECK(exits[1].end_ms >= exits[1].start_ms);
}

TEST_CASE("An exception fails its call with type and message; the traceback is in its stderr log") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "boom", "[0.5]"), Call(2, "noop")});
  REQUIRE(exits.size() == 2);
  CHECK(exits[1].outcome == Outcome::kFailed);
  CHECK(exits[1].exit_code == 1);
  CHECK(exits[1].error == "ValueError: bad alpha 0.5 (traceback in the task's stderr log)");
  CHECK(exits[1].stderr_path == run.dir / "logs/t-1.1.err");
  const std::string traceback = run.Log("t-1.1.err");
  CHECK_THAT(traceback, Catch::Contains("Traceback (most recent call last)"));
  CHECK_THAT(traceback, Catch::Contains("in boom"));
  CHECK(exits[2].outcome == Outcome::kSucceeded);  // the same interpreter goes on
}

TEST_CASE("A missing module, a missing function and bad arguments are named in the error") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  PythonCall missing_module = Call(1, "noop");
  missing_module.call = R"(["nosuchmodule:f",[],{}])";
  auto exits = Run(pool, {missing_module, Call(2, "nosuchfunction"),
                          Call(3, "boom", "[]", R"({"gama": 1})"), Call(4, "unkeepable")});
  REQUIRE(exits.size() == 4);
  for (auto& [key, exit] : exits) CHECK(exit.outcome == Outcome::kFailed);
  CHECK_THAT(exits[1].error, Catch::StartsWith("cannot call nosuchmodule:f: NotFound: no module "
                                               "named 'nosuchmodule'"));
  CHECK(exits[2].error ==
        "cannot call pooltest:nosuchfunction: NotFound: module 'pooltest' has no attribute "
        "'nosuchfunction'");
  CHECK(exits[3].error ==
        "bad arguments for pooltest:boom: TypeError: boom() got an "
        "unexpected keyword argument 'gama'");
  CHECK_THAT(exits[4].error, Catch::StartsWith("pooltest:unkeepable returned a value that cannot "
                                               "be kept: TypeError: the result (function) is not "
                                               "JSON, and cannot be pickled either"));
}

TEST_CASE("An interpreter that dies costs only its call; the calls behind it run in a new one") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  std::vector<PythonCall> calls;
  for (std::uint64_t key = 1; key <= 20; ++key) calls.push_back(Call(key, "noop"));
  calls[9] = Call(10, "segv");
  calls[14] = Call(15, "leave", "[3]");
  auto exits = Run(pool, std::move(calls));
  REQUIRE(exits.size() == 20);
  CHECK(exits[10].outcome == Outcome::kSignaled);
  CHECK(exits[10].signal == 11);
  CHECK(exits[10].error ==
        "the Python interpreter died (SIGSEGV) while running pooltest:segv; a new one takes its "
        "place");
  CHECK_THAT(run.Log("t-10.1.err"), Catch::Contains("Segmentation fault"));
  CHECK(exits[15].outcome == Outcome::kFailed);
  CHECK(exits[15].exit_code == 3);
  for (auto& [key, exit] : exits) {
    if (key == 10 || key == 15) continue;
    INFO(key << ": " << exit.error);
    CHECK(exit.outcome == Outcome::kSucceeded);
  }
  CHECK(ScratchFiles(run).size() <= 2);  // only the live interpreter's
}

TEST_CASE("A call past its timeout is timed out with its stack in its log, and the next one runs") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  // A call's time runs from its interpreter's start when none is ready: on a loaded machine
  // the timeout could then come before the interpreter can print a stack (or reach nap at all).
  // Once it has answered a call, the timeout falls inside nap.
  REQUIRE(Run(pool, {Call(3, "noop")})[3].outcome == Outcome::kSucceeded);
  PythonCall stuck = Call(1, "nap", "[60]");
  stuck.timeout_ms = 300;
  auto exits = Run(pool, {stuck, Call(2, "nap", "[0]")});
  REQUIRE(exits.size() == 2);
  CHECK(exits[1].outcome == Outcome::kTimedOut);
  CHECK(exits[1].end_ms - exits[1].start_ms >= 300);
  CHECK(exits[1].end_ms - exits[1].start_ms < 10'000);
  CHECK_THAT(run.Log("t-1.1.err"), Catch::Contains("in nap"));
  CHECK(exits[2].outcome == Outcome::kSucceeded);
}

TEST_CASE("What a call prints, by any route, lands in its own logs") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "talk", "[1]"), Call(2, "noop"), Call(3, "talk", "[3]")});
  REQUIRE(exits.size() == 3);
  CHECK(exits[1].stdout_path == run.dir / "logs/t-1.1.out");
  // print() is buffered until the call returns, as in `python3 script.py > file`.
  const std::string out = run.Log("t-1.1.out");
  CHECK(out.size() == 30);
  CHECK_THAT(out, Catch::Contains("print 1\n") && Catch::Contains("os.write\n") &&
                      Catch::Contains("from a child\n"));
  CHECK(run.Log("t-1.1.err") == "stderr 1\n");
  CHECK(exits[1].stdout_bytes == 30);
  CHECK(exits[2].stdout_path.empty());
  CHECK(exits[2].stdout_bytes == 0);
  CHECK_FALSE(std::filesystem::exists(run.dir / "logs/t-2.1.out"));
  CHECK_THAT(run.Log("t-3.1.out"), Catch::Contains("print 3\n"));
}

TEST_CASE(
    "A call's output goes beside a file or link already at its log's name, never over or "
    "through it") {
  RunDir run;
  std::ofstream(run.dir / "outside") << "outside\n";
  std::ofstream(run.dir / "logs/t-1.1.out") << "planted\n";
  std::filesystem::create_symlink(run.dir / "outside", run.dir / "logs/t-1.1.err");
  std::filesystem::create_symlink(run.dir / "outside", run.dir / "logs/t-1.1.err.2");
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "talk", "[1]")});
  REQUIRE(exits.size() == 1);
  CHECK(exits[1].outcome == Outcome::kSucceeded);
  CHECK(exits[1].stdout_path == run.dir / "logs/t-1.1.out.2");
  CHECK(exits[1].stderr_path == run.dir / "logs/t-1.1.err.3");
  CHECK_THAT(run.Log("t-1.1.out.2"), Catch::Contains("print 1\n"));
  CHECK(run.Log("t-1.1.err.3") == "stderr 1\n");
  CHECK(run.Log("t-1.1.out") == "planted\n");
  CHECK(ReadFile(run.dir / "outside") == "outside\n");
  CHECK(std::filesystem::is_symlink(run.dir / "logs/t-1.1.err"));
}

TEST_CASE(
    "The output of a call whose interpreter died goes beside a file already at its log's name") {
  RunDir run;
  std::ofstream(run.dir / "logs/t-1.1.err") << "planted\n";
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "segv")});
  REQUIRE(exits.size() == 1);
  CHECK(exits[1].outcome == Outcome::kSignaled);
  CHECK(exits[1].stderr_path == run.dir / "logs/t-1.1.err.2");
  CHECK_THAT(run.Log("t-1.1.err.2"), Catch::Contains("Segmentation fault"));
  CHECK(run.Log("t-1.1.err") == "planted\n");
}

TEST_CASE("Output past max_output is cut, with a marker, and the call says so") {
  RunDir run;
  PythonPoolSettings settings = run.Settings();
  settings.max_output = 10;
  PythonPool pool(settings, nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "talk", "[1]")});
  REQUIRE(exits.size() == 1);
  CHECK(exits[1].stdout_truncated);
  CHECK_FALSE(exits[1].stderr_truncated);
  CHECK(exits[1].stdout_bytes == 30);
  const std::string marker = "\n[jobrunner: output truncated after 10 bytes; 20 bytes dropped]\n";
  const std::string out = run.Log("t-1.1.out");
  CHECK(out.size() == 10 + marker.size());
  CHECK_THAT(out, Catch::EndsWith(marker));
}

TEST_CASE("A call's cwd and env are set for it alone") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  PythonCall with = Call(1, "where");
  with.context = R"({"cwd": ")" + run.dir / "data" + R"(", "env": {"JR_TEST": "yes"}})";
  auto exits = Run(pool, {with, Call(2, "where")});
  REQUIRE(exits.size() == 2);
  CHECK(exits[1].result == R"([")" + run.dir / "data" + R"(","yes",null])");
  CHECK(exits[2].result == R"([")" + std::filesystem::current_path().string() + R"(",null,null])");
}

TEST_CASE("A GPU call goes to an interpreter of the same GPUs, or replaces one of other GPUs") {
  RunDir run;
  PythonPool pool(run.Settings(1), nullptr);
  pool.SetConcurrency(1);
  auto on = [](std::uint64_t key, const std::string& gpus) {
    PythonCall call = Call(key, "gpu");
    call.gpus = gpus;
    call.context = R"({"cwd": "", "env": {"CUDA_VISIBLE_DEVICES": ")" + gpus + R"("}})";
    return call;
  };
  auto first = Run(pool, {on(1, "0")});
  auto second = Run(pool, {on(2, "0")});
  auto third = Run(pool, {on(3, "1")});
  auto fourth = Run(pool, {Call(4, "gpu")});
  const auto pid_of = [](const PythonExit& exit) {
    return exit.result.substr(1, exit.result.find(',') - 1);
  };
  CHECK_THAT(first[1].result, Catch::EndsWith(R"(,"0"])"));
  CHECK(pid_of(second[2]) == pid_of(first[1]));  // the same GPUs: the same interpreter
  CHECK_THAT(third[3].result, Catch::EndsWith(R"(,"1"])"));
  CHECK(pid_of(third[3]) != pid_of(first[1]));                   // bound to GPU 0: replaced
  CHECK(fourth[4].result == "[" + pid_of(third[3]) + ",null]");  // no GPU: any interpreter
}

TEST_CASE("Calls run in as many interpreters at once as the concurrency allows") {
  RunDir run;
  PythonPool pool(run.Settings(2), nullptr);
  pool.SetConcurrency(2);
  std::filesystem::create_directories(run.dir / "meet");
  const std::string dir = "\"" + run.dir / "meet" + "\"";
  auto exits = Run(pool, {Call(1, "meet", "[" + dir + ", \"a\", 2]"),
                          Call(2, "meet", "[" + dir + ", \"b\", 2]")});
  REQUIRE(exits.size() == 2);
  CHECK(exits[1].outcome == Outcome::kSucceeded);
  CHECK(exits[2].outcome == Outcome::kSucceeded);
}

TEST_CASE("A concurrency of zero holds calls back until it is raised") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.Start({Call(1, "noop")});
  pollfd fd{pool.wake_fd(), POLLIN, 0};
  CHECK(poll(&fd, 1, 300) == 0);
  CHECK(pool.Busy() == 0);
  CHECK(pool.DropQueued() == std::vector<std::uint64_t>{1});
}

TEST_CASE("setup runs once per interpreter, before its first call") {
  RunDir run;
  PythonPoolSettings settings = run.Settings();
  settings.python.setup = "pooltest:count_setup";
  PythonPool pool(settings, nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "setups"), Call(2, "setups")});
  CHECK(exits[1].result == "1");
  CHECK(exits[2].result == "1");
}

TEST_CASE("A setup that raises fails one call per interpreter, then, after three, every call") {
  RunDir run;
  PythonPoolSettings settings = run.Settings();
  settings.python.setup = "pooltest:failing_setup";
  PythonPool pool(settings, nullptr);
  pool.SetConcurrency(1);
  std::vector<PythonCall> calls;
  for (std::uint64_t key = 1; key <= 6; ++key) calls.push_back(Call(key, "noop"));
  auto exits = Run(pool, std::move(calls));
  REQUIRE(exits.size() == 6);
  for (auto& [key, exit] : exits) {
    CHECK(exit.outcome == Outcome::kFailed);
    CHECK(exit.error == "python setup pooltest:failing_setup raised RuntimeError: no model here");
  }
  CHECK_THAT(run.Log("t-1.1.err"), Catch::Contains("in failing_setup"));
  CHECK(ScratchFiles(run).empty());
}

TEST_CASE("An interpreter that cannot start fails the calls with a spawn error") {
  RunDir run;
  PythonPoolSettings settings = run.Settings();
  settings.python.executable = "/nonexistent/python3";
  PythonPool pool(settings, nullptr);
  pool.SetConcurrency(1);
  auto exits = Run(pool, {Call(1, "noop"), Call(2, "noop"), Call(3, "noop"), Call(4, "noop")});
  REQUIRE(exits.size() == 4);
  for (auto& [key, exit] : exits) {
    CHECK(exit.outcome == Outcome::kSpawnError);
    CHECK(exit.error ==
          "cannot start the Python interpreter: no such file or directory: "
          "/nonexistent/python3");
  }
}

TEST_CASE("KillRunning ends the running call and hands back the unstarted ones") {
  RunDir run;
  PythonPool pool(run.Settings(), nullptr);
  pool.SetConcurrency(1);
  // Learn that calls are short, so that the next ones travel two messages at a time.
  Run(pool, {Call(1, "noop"), Call(2, "noop"), Call(3, "noop")});
  std::vector<PythonCall> calls = {Call(10, "nap", "[60]")};
  for (std::uint64_t key = 11; key < 20; ++key) calls.push_back(Call(key, "noop"));
  pool.Start(std::move(calls));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(pool.Busy() == 1);
  // As a drain does: what no interpreter has is dropped, then what they have is killed.
  std::vector<std::uint64_t> dropped = pool.DropQueued();
  pool.KillRunning();
  std::map<std::uint64_t, PythonExit> exits;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (exits.size() + dropped.size() < 10 && std::chrono::steady_clock::now() < give_up) {
    pollfd fd{pool.wake_fd(), POLLIN, 0};
    poll(&fd, 1, 100);
    for (PythonExit& exit : pool.Collect()) exits[exit.key] = std::move(exit);
  }
  for (std::uint64_t key : dropped) exits[key].started = false;
  REQUIRE(exits.size() == 10);
  CHECK(exits[10].started);
  CHECK(exits[10].outcome == Outcome::kSignaled);
  CHECK(exits[10].signal == 9);
  for (std::uint64_t key = 11; key < 20; ++key) CHECK_FALSE(exits[key].started);
}
