#pragma once

#include <cstdint>
#include <string>

#include "manifest/manifest.h"

namespace jobrunner {

// How to read the MANIFEST argument (--format).
enum class InputFormat { kAuto, kYaml, kList };

struct InputOptions {
  InputFormat format = InputFormat::kAuto;
  // For a command list: what a manifest's fields would say (--timeout, --retries, --cwd, --env),
  // and --shell, which a YAML manifest's string commands take too.
  ListDefaults list;
};

// Whether `path` is a YAML manifest: with kAuto, when it ends in .yaml or .yml. Anything else,
// "-" (stdin) included, is a command list.
bool IsYamlInput(const std::string& path, InputFormat format);

// A manifest or a command list, read: the tasks, and the YAML text (empty for a list), which the
// run directory keeps.
struct LoadedInput {
  Manifest manifest;
  std::string yaml_text;
};

// Reads `path` as IsYamlInput says. A list is read from `path`; "-" reads stdin into an
// anonymous temporary file, for --check and --dry-run (a run copies stdin into its run directory
// and reads that copy, named "stdin" through `name`). `name`, if not empty, is how messages name
// a list. Throws ManifestError.
LoadedInput LoadInput(const std::string& path, const InputOptions& options,
                      const std::string& name = "");

// A hash of what the tasks come from: the YAML text and every command list it names, or the
// command list alone. The journal keeps it, to tell on --resume whether anything changed.
std::uint64_t InputHash(const std::string& yaml_text, const Manifest& manifest);

}  // namespace jobrunner
