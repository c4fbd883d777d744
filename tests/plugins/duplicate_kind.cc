// A broken plugin for the tests: it adds the kind `twin` twice.
#include <jobrunner/task_kind.h>

namespace {
class Twin final : public jobrunner::TypedTaskKind<jobrunner::NoValue, jobrunner::NoValue> {
 public:
  const char* Name() const override { return "twin"; }
  jobrunner::NoValue ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  jobrunner::NoValue Execute(const jobrunner::NoValue&, jobrunner::TaskContext&) const override {
    return {};
  }
  std::string ToJson(const jobrunner::NoValue&) const override { return ""; }
};
}  // namespace

JOBRUNNER_PLUGIN(registrar) {
  registrar.Add(std::make_unique<Twin>());
  registrar.Add(std::make_unique<Twin>());
}
