#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace jobrunner {

// A task whose attempt failed, waiting for its next one.
struct Retry {
  std::uint64_t index = 0;
  int attempt = 1;  // the attempt to run next
  int failures = 0;
  std::int64_t due_ms = 0;
  int failed_on = -1;
};

// The retries of a run: those whose backoff still runs, by the time it ends, and those that are
// due and wait for a worker with room, in the order they fell due. Looking for what is due costs
// a comparison with the earliest, not a walk over every retry waiting: with thousands of failed
// tasks backing off, each Assign still pays only for the retries it hands out.
class RetryQueue {
 public:
  void Add(const Retry& retry) {
    backing_off_.push_back(Pending{retry, added_++});
    std::push_heap(backing_off_.begin(), backing_off_.end(), Later());
  }

  // Some retry's backoff ends by `now_ms`.
  bool FallsDueBy(std::int64_t now_ms) const {
    return !backing_off_.empty() && backing_off_.front().retry.due_ms <= now_ms;
  }

  // The retries due by `now_ms`, in the order they fell due (ties in the order they were
  // added): the caller hands out what it can and leaves the rest, in order, for later.
  std::vector<Retry>& Due(std::int64_t now_ms) {
    while (FallsDueBy(now_ms)) {
      std::pop_heap(backing_off_.begin(), backing_off_.end(), Later());
      due_.push_back(backing_off_.back().retry);
      backing_off_.pop_back();
    }
    return due_;
  }

  // All the retries due by `now_ms`, in that order, taken out of the queue.
  std::vector<Retry> TakeDue(std::int64_t now_ms) {
    Due(now_ms);
    return std::exchange(due_, {});
  }

  // When the earliest retry is or was due; nullopt when none waits.
  std::optional<std::int64_t> NextDueAt() const {
    std::optional<std::int64_t> next;
    if (!backing_off_.empty()) next = backing_off_.front().retry.due_ms;
    // The due list is in the order its retries fell due.
    if (!due_.empty() && (!next || due_.front().due_ms < *next)) next = due_.front().due_ms;
    return next;
  }

  std::size_t size() const { return backing_off_.size() + due_.size(); }
  bool empty() const { return size() == 0; }

  // Calls `visit` with every retry waiting, in no particular order: for checks.
  template <class Visit>
  void ForEach(Visit visit) const {
    for (const Pending& p : backing_off_) visit(p.retry);
    for (const Retry& r : due_) visit(r);
  }

 private:
  struct Pending {
    Retry retry;
    std::uint64_t order = 0;  // of Add
  };
  // A heap with the earliest due (then the first added) on top.
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.retry.due_ms != b.retry.due_ms ? a.retry.due_ms > b.retry.due_ms : a.order > b.order;
    }
  };

  std::vector<Pending> backing_off_;
  std::vector<Retry> due_;
  std::uint64_t added_ = 0;
};

}  // namespace jobrunner
