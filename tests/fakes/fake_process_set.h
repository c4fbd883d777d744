#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "process.h"

namespace jobrunner {

// Children that end the moment Wait looks at them, with whatever `decide` says. Records what was
// started and how many ran at once, so tests can check the worker's slot discipline.
class FakeProcessSet final : public ProcessSet {
 public:
  using Decide = std::function<ProcessExit(const ProcessRequest&)>;
  explicit FakeProcessSet(Decide decide) : decide_(std::move(decide)) {}

  void Start(ProcessRequest request) override {
    started.push_back(request);
    running_.push_back(std::move(request));
    max_running = std::max(max_running, running_.size());
  }

  std::size_t Running() const override { return running_.size(); }

  std::vector<ProcessExit> Wait(std::chrono::milliseconds /*max_wait*/) override {
    std::vector<ProcessExit> exits;
    for (const ProcessRequest& r : running_) {
      ProcessExit x = decide_(r);
      x.key = r.key;
      exits.push_back(x);
    }
    running_.clear();
    return exits;
  }

  void KillAll() override { running_.clear(); }

  std::vector<ProcessRequest> started;
  std::size_t max_running = 0;

 private:
  Decide decide_;
  std::vector<ProcessRequest> running_;
};

}  // namespace jobrunner
