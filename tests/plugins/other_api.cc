// A plugin for the tests that claims another task kind API version than this build's.
#include <jobrunner/task_kind.h>

extern "C" __attribute__((visibility("default"))) int jobrunner_task_kind_api() {
  return jobrunner::kTaskKindApi + 1;
}
extern "C" __attribute__((visibility("default"))) void jobrunner_register_kinds(
    jobrunner::KindRegistrar&) {}
