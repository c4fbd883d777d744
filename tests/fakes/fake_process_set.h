#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "posix/process_set.h"

namespace jobrunner {

// Children that end the moment Wait looks at them, with whatever `decide` says, or run until
// killed when it says nullopt. Records what was started and how many ran at once, so tests can
// check the worker's slot discipline.
class FakeProcessSet final : public ProcessSet {
 public:
  using Decide = std::function<std::optional<ProcessExit>(const ProcessRequest&)>;
  explicit FakeProcessSet(Decide decide) : decide_(std::move(decide)) {}

  void Start(ProcessRequest request) override {
    started.push_back(request);
    running_.push_back(std::move(request));
    max_running = std::max(max_running, running_.size());
  }

  std::size_t Running() const override { return running_.size(); }

  std::vector<ProcessExit> Wait(std::chrono::milliseconds /*max_wait*/) override {
    std::vector<ProcessExit> exits;
    std::vector<ProcessRequest> still_running;
    for (ProcessRequest& r : running_) {
      std::optional<ProcessExit> x = killed_ ? Killed() : decide_(r);
      if (!x) {
        still_running.push_back(std::move(r));
        continue;
      }
      x->key = r.key;
      exits.push_back(*x);
    }
    running_ = std::move(still_running);
    killed_ = false;
    return exits;
  }

  // Like the real set, killed children come back from the next Wait, signaled.
  void KillAll() override { killed_ = true; }

  std::vector<ProcessRequest> started;
  std::size_t max_running = 0;

 private:
  static ProcessExit Killed() {
    ProcessExit x;
    x.outcome = Outcome::kSignaled;
    x.signal = 9;
    x.start_ms = 1000;
    x.end_ms = 2000;
    return x;
  }

  Decide decide_;
  std::vector<ProcessRequest> running_;
  bool killed_ = false;
};

}  // namespace jobrunner
