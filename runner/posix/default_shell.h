#pragma once

#include <string>

namespace jobrunner {

// The shell that runs a string command when the manifest names none: /bin/bash where this host
// has it (what disBatch, and most task lists written by hand, expect), else /bin/sh. Looked up
// once per process.
const std::string& DefaultShell();

}  // namespace jobrunner
