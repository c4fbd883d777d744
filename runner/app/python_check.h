#pragma once

#include "manifest/task_source.h"
#include "transport/protocol.h"

namespace jobrunner {

// The manifest's `python:` made absolute: python.path (default: the manifest's directory) and a
// relative python.executable resolved against the manifest's directory.
PythonSetup PythonSetupOf(const Manifest& manifest);

// Checks the `kind: python` entries before anything runs, with one interpreter started on this
// rank: that python.setup and the function of each entry's first task can be imported and
// called, and that its arguments fit the function's signature (bound, not called). Throws
// ManifestError at the function, the arguments or the setup at fault, naming the task; also when
// the interpreter cannot be started. Costs one interpreter start (about 25 ms) plus importing
// the modules named, which run their top-level code here as on every worker.
void CheckPythonTasks(const TaskSource& source, const PythonSetup& setup);

}  // namespace jobrunner
