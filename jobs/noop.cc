// kind: noop — does nothing and succeeds: for measuring the job farm itself.
#include <jobrunner/task_kind.h>

namespace {

struct NoArgs {
  template <class Archive>
  void serialize(Archive&, unsigned) {}
};

class Noop final : public jobrunner::TypedTaskKind<NoArgs, NoArgs> {
 public:
  const char* Name() const override { return "noop"; }
  const char* Description() const override { return "does nothing and succeeds"; }
  NoArgs ReadArgs(const jobrunner::KindArgs&) const override { return {}; }
  NoArgs Execute(const NoArgs&, jobrunner::TaskContext&) const override { return {}; }
  std::string ToJson(const NoArgs&) const override { return ""; }
};

}  // namespace

JOBRUNNER_KIND(Noop);
