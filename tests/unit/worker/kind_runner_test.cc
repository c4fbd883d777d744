#include "worker/kind_runner.h"

#include <sys/poll.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>

using jobrunner::KindExit;
using jobrunner::KindRequest;
using jobrunner::KindRunner;
using jobrunner::Outcome;

namespace {

// A kind whose tasks wait until `wanted` of them run at once (or 10 s pass): it succeeds only if
// the runner really runs that many side by side.
class Meet final : public jobrunner::TypedTaskKind<jobrunner::NoValue, jobrunner::NoValue> {
 public:
  explicit Meet(int wanted) : wanted_(wanted) {}
  const char* Name() const override { return "meet"; }
  jobrunner::NoValue ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  jobrunner::NoValue Execute(const jobrunner::NoValue&, jobrunner::TaskContext&) const override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++running_;
    met_.notify_all();
    const bool met =
        met_.wait_for(lock, std::chrono::seconds(10), [this] { return running_ >= wanted_; });
    if (!met) throw std::runtime_error("the other tasks never ran beside this one");
    return {};
  }
  std::string ToJson(const jobrunner::NoValue&) const override { return ""; }

 private:
  int wanted_;
  mutable std::mutex mutex_;
  mutable std::condition_variable met_;
  mutable int running_ = 0;
};

KindRequest Request(std::uint64_t key, const jobrunner::TaskKind* kind) {
  KindRequest r;
  r.key = key;
  r.kind = kind;
  r.task_id = "t-" + std::to_string(key);
  return r;
}

std::vector<KindExit> CollectAll(KindRunner& runner, std::size_t count) {
  std::vector<KindExit> all;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (all.size() < count && std::chrono::steady_clock::now() < give_up) {
    pollfd fd{runner.wake_fd(), POLLIN, 0};
    poll(&fd, 1, 100);
    for (KindExit& x : runner.Collect()) all.push_back(std::move(x));
  }
  return all;
}

}  // namespace

TEST_CASE("Queued kinds run as many at once as the concurrency allows") {
  Meet meet(2);
  KindRunner runner;
  runner.SetConcurrency(2);
  std::vector<KindRequest> requests;
  for (std::uint64_t i = 0; i < 4; ++i) requests.push_back(Request(i, &meet));
  runner.Start(std::move(requests));
  const std::vector<KindExit> exits = CollectAll(runner, 4);
  REQUIRE(exits.size() == 4);
  for (const KindExit& x : exits) {
    INFO(x.error);
    CHECK(x.outcome == Outcome::kSucceeded);
  }
}

TEST_CASE("A concurrency of zero holds queued kinds back until it is raised") {
  Meet meet(1);
  KindRunner runner;
  runner.SetConcurrency(0);
  runner.Start({Request(7, &meet)});
  pollfd fd{runner.wake_fd(), POLLIN, 0};
  CHECK(poll(&fd, 1, 200) == 0);
  CHECK(runner.Busy() == 0);
  runner.SetConcurrency(1);
  const std::vector<KindExit> exits = CollectAll(runner, 1);
  REQUIRE(exits.size() == 1);
  CHECK(exits[0].key == 7);
  CHECK(exits[0].outcome == Outcome::kSucceeded);
}

namespace {

// A kind that ignores cancellation: its tasks wait until the test opens the gate.
class Gate final : public jobrunner::TypedTaskKind<jobrunner::NoValue, jobrunner::NoValue> {
 public:
  const char* Name() const override { return "gate"; }
  jobrunner::NoValue ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  jobrunner::NoValue Execute(const jobrunner::NoValue&, jobrunner::TaskContext&) const override {
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
    return {};
  }
  std::string ToJson(const jobrunner::NoValue&) const override { return ""; }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable opened_;
  bool open_ = false;
};

// A kind that finds no room for its output.
class FullDisk final : public jobrunner::TypedTaskKind<jobrunner::NoValue, jobrunner::NoValue> {
 public:
  const char* Name() const override { return "full-disk"; }
  jobrunner::NoValue ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  jobrunner::NoValue Execute(const jobrunner::NoValue&, jobrunner::TaskContext&) const override {
    throw jobrunner::DiskFullError("cannot write out.gz: No space left on device");
  }
  std::string ToJson(const jobrunner::NoValue&) const override { return ""; }
};

}  // namespace

TEST_CASE("A task its runner left running is counted until its kind returns") {
  // The process must not destroy its static objects while such a task may still use them.
  Gate gate;
  const std::size_t before = KindRunner::StillRunningAnywhere();
  {
    KindRunner runner;
    runner.Start({Request(1, &gate)});
    for (int i = 0; i < 1000 && runner.Busy() == 0; ++i) poll(nullptr, 0, 10);
    REQUIRE(runner.Busy() == 1);
    CHECK(KindRunner::StillRunningAnywhere() == before + 1);
  }  // waits a moment for the task, then leaves it running
  CHECK(KindRunner::StillRunningAnywhere() == before + 1);
  gate.Open();
  for (int i = 0; i < 1000 && KindRunner::StillRunningAnywhere() > before; ++i) {
    poll(nullptr, 0, 10);
  }
  CHECK(KindRunner::StillRunningAnywhere() == before);
}

TEST_CASE("A kind that finds the disk full is interrupted, not failed") {
  FullDisk kind;
  KindRunner runner;
  runner.SetConcurrency(1);
  runner.Start({Request(1, &kind)});
  std::vector<KindExit> exits = CollectAll(runner, 1);
  REQUIRE(exits.size() == 1);
  CHECK(exits[0].outcome == Outcome::kInterrupted);
  CHECK(exits[0].disk_full);
  CHECK(exits[0].error == "cannot write out.gz: No space left on device");
}

TEST_CASE("Every task's start is told, with its attempt and the start time its exit gives") {
  Meet meet(2);
  KindRunner runner;
  runner.SetConcurrency(2);
  std::vector<KindRequest> requests;
  for (std::uint64_t i = 0; i < 2; ++i) {
    requests.push_back(Request(i, &meet));
    requests.back().attempt = 3;
  }
  runner.Start(std::move(requests));
  std::vector<jobrunner::KindStart> starts = runner.TakeStarts();
  const std::vector<KindExit> exits = CollectAll(runner, 2);
  REQUIRE(exits.size() == 2);
  // The starts not taken before the exits were collected are still there; nothing is unreported
  // now, so they come back only once another task runs.
  CHECK(runner.TakeStarts().empty());
  Meet alone(1);
  runner.Start({Request(7, &alone)});
  for (const jobrunner::KindStart& s : runner.TakeStarts()) starts.push_back(s);
  CollectAll(runner, 1);
  std::map<std::uint64_t, jobrunner::KindStart> by_key;
  for (const jobrunner::KindStart& s : starts) by_key[s.key] = s;
  for (const KindExit& x : exits) {
    REQUIRE(by_key.count(x.key) == 1);
    CHECK(by_key[x.key].attempt == 3);
    CHECK(by_key[x.key].start_ms == x.start_ms);
  }
}
