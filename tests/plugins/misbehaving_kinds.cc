// Task kinds that misbehave, for the tests: `crash` aborts the process it runs in, `hang` ignores
// cancellation for `seconds`, `throw` throws. Loaded with --plugin by tests/e2e/test_kinds.py.
#include <jobrunner/task_kind.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace {

struct Seconds {
  std::int64_t seconds = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& seconds;
  }
};

class Crash final : public jobrunner::TypedTaskKind<Seconds, Seconds> {
 public:
  const char* Name() const override { return "crash"; }
  Seconds ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  Seconds Execute(const Seconds&, jobrunner::TaskContext&) const override { std::abort(); }
  std::string ToJson(const Seconds&) const override { return ""; }
};

class Hang final : public jobrunner::TypedTaskKind<Seconds, Seconds> {
 public:
  const char* Name() const override { return "hang"; }
  Seconds ReadArgs(const jobrunner::KindArgs& args) const override {
    return {args.Integer("seconds")};
  }
  Seconds Execute(const Seconds& a, jobrunner::TaskContext&) const override {
    std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
    return a;
  }
  std::string ToJson(const Seconds& a) const override {
    return "{\"seconds\":" + std::to_string(a.seconds) + "}";
  }
};

class Throw final : public jobrunner::TypedTaskKind<Seconds, Seconds> {
 public:
  const char* Name() const override { return "throw"; }
  Seconds ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  Seconds Execute(const Seconds&, jobrunner::TaskContext&) const override {
    throw std::runtime_error("the throw kind always throws");
  }
  std::string ToJson(const Seconds&) const override { return ""; }
};

}  // namespace

JOBRUNNER_PLUGIN(registrar) {
  registrar.Add(std::make_unique<Crash>());
  registrar.Add(std::make_unique<Hang>());
  registrar.Add(std::make_unique<Throw>());
}
