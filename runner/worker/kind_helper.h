#pragma once

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <optional>
#include <string>
#include <vector>

#include "posix/dir.h"

namespace jobrunner {

// `isolate: true`: a task kind run in a helper process (this same binary, `--run-kind`), so that a
// crash, a hang or a leak in the kind costs one attempt, not the worker rank. The worker starts it
// like any command (own process group, output captured, timeout enforced by signals) and reads
// its outcome from a file.

struct KindInvocation {
  std::string kind;
  std::string args;  // encoded by the kind
  std::string task_id;
  int attempt = 1;
  std::string cwd;
  std::string data_dir;
  std::vector<std::string> plugins;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& kind& args& task_id& attempt& cwd& data_dir& plugins;
  }
};

struct KindHelperOutput {
  bool ok = false;
  std::string result;  // encoded by the kind
  std::string error;
  std::string data_path;
  bool disk_full = false;  // the kind threw DiskFullError

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& ok& result& error& data_path& disk_full;
  }
};

// The helper's command line: it writes its KindHelperOutput to `output_path`.
std::vector<std::string> KindHelperArgv(const KindInvocation& invocation,
                                        const std::string& output_path);

// main() of `jobrunner --run-kind ENCODED OUTPUT_PATH`. Exit status 0 when the kind succeeded.
int RunKindHelper(const std::string& encoded_invocation, const std::string& output_path);

// What the helper wrote to the file `name` in `dir`, which then goes; nullopt when it wrote
// nothing readable (it crashed or was killed).
std::optional<KindHelperOutput> TakeKindHelperOutput(const Dir& dir, const std::string& name);

}  // namespace jobrunner
