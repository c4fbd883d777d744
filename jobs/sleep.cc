// kind: sleep — waits for `duration` without a process: for benchmarks and tests.
#include <jobrunner/task_kind.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace {

struct SleepArgs {
  std::int64_t ms = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& ms;
  }
};

class Sleep final : public jobrunner::TypedTaskKind<SleepArgs, jobrunner::NoValue> {
 public:
  const char* Name() const override { return "sleep"; }
  const char* Description() const override {
    return "waits for `duration` (500ms, 2s, ...); stops early when cancelled";
  }
  SleepArgs ReadArgs(const jobrunner::KindArgs& args) const override {
    return {args.DurationMs("duration")};
  }
  jobrunner::NoValue Execute(const SleepArgs& args,
                             jobrunner::TaskContext& context) const override {
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + std::chrono::milliseconds(args.ms);
    // Wakes every 50 ms at most to see whether the task was cancelled.
    for (auto now = Clock::now(); now < until && !context.Cancelled(); now = Clock::now()) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(until - now, std::chrono::milliseconds(50)));
    }
    return {};
  }
  std::string ToJson(const jobrunner::NoValue&) const override { return ""; }
};

}  // namespace

JOBRUNNER_KIND(Sleep);
