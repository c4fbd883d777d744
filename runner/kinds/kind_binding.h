#pragma once

#include <optional>
#include <string>

#include "kinds/kind_registry.h"
#include "manifest/task_source.h"
#include "manifest/task_spec.h"

namespace jobrunner {

// Where a manifest meets the task kinds: a kind's arguments as the manifest renders them become
// the kind's typed, encoded arguments.

// Encodes `task.args` into `task.kind_args` (and clears `task.args`). Returns what is wrong
// instead when the kind is unknown or rejects an argument, misspelt ones included.
std::optional<std::string> EncodeKindArgs(const KindRegistry& kinds, TaskSpec& task);

// Checks, before anything runs, that every `kind:` of the manifest is known and that the first
// task of each such entry has arguments its kind accepts. Throws ManifestError at the kind or
// the argument at fault. (Later tasks of a matrix may still fail at dispatch, one by one, when
// a matrix value does not fit: a SpawnError naming the argument.)
void CheckKinds(const TaskSource& source, const KindRegistry& kinds);

}  // namespace jobrunner
