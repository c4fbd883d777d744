#pragma once

#include "manifest/task_source.h"
#include "schedule/task_graph.h"

namespace jobrunner {

// The TaskGraph of a manifest: one group per entry, with its priority, and every `depends_on`
// element resolved into edges. An element whose placeholders are all matrix names of its entry
// (or that has none) names one task for each task of the entry; an element that is another
// entry's id exactly as written there, with placeholders its own entry does not define, stands
// for every task of that entry (one edge per dependent task, however large that entry is).
//
// Throws ManifestError, at the element or entry to blame, for an id that names no task, for a
// placeholder that is neither, and for a cycle, naming the tasks on it. Without any depends_on
// it builds nothing per task. Memory is proportional to the edges: 16 bytes each, plus one hash
// per distinct id named, while resolving.
TaskGraph BuildTaskGraph(const TaskSource& source);

}  // namespace jobrunner
