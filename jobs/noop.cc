// kind: noop — does nothing and succeeds: for measuring the job farm itself.
#include <jobrunner/task_kind.h>

namespace {

class Noop final : public jobrunner::TypedTaskKind<jobrunner::NoValue, jobrunner::NoValue> {
 public:
  const char* Name() const override { return "noop"; }
  const char* Description() const override { return "does nothing and succeeds"; }
  jobrunner::NoValue ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  jobrunner::NoValue Execute(const jobrunner::NoValue&, jobrunner::TaskContext&) const override {
    return {};
  }
  std::string ToJson(const jobrunner::NoValue&) const override { return ""; }
};

}  // namespace

JOBRUNNER_KIND(Noop);
