#pragma once

namespace jobrunner {

// The text of worker/python_helper.py, compiled into the binary (see runner/CMakeLists.txt), so
// that `python3 -c` runs it wherever jobrunner runs: installed, in a container, on any node,
// with nothing installed beside the binary.
const char* PythonHelperSource();

}  // namespace jobrunner
