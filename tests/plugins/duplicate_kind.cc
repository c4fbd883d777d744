// A broken plugin for the tests: it adds the kind `twin` twice.
#include <jobrunner/task_kind.h>

namespace {
struct Empty {
  template <class Archive>
  void serialize(Archive&, unsigned) {}
};
class Twin final : public jobrunner::TypedTaskKind<Empty, Empty> {
 public:
  const char* Name() const override { return "twin"; }
  Empty ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  Empty Execute(const Empty&, jobrunner::TaskContext&) const override { return {}; }
  std::string ToJson(const Empty&) const override { return ""; }
};
}  // namespace

JOBRUNNER_PLUGIN(registrar) {
  registrar.Add(std::make_unique<Twin>());
  registrar.Add(std::make_unique<Twin>());
}
