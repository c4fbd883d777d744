#include "app/python_check.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "posix/helper_process.h"
#include "worker/python_source.h"

namespace jobrunner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Imports can take seconds (a machine-learning framework); a check that takes this long is stuck.
constexpr std::chrono::seconds kCheckLimit{300};

// The last few lines of a Python error output: where the traceback says what went wrong.
std::string Tail(const std::string& text) {
  constexpr std::size_t kShown = 600;
  std::string tail = text.size() > kShown ? "..." + text.substr(text.size() - kShown) : text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail;
}

}  // namespace

PythonSetup PythonSetupOf(const Manifest& manifest) {
  const fs::path dir = fs::absolute(manifest.path).parent_path();
  PythonSetup setup;
  const PythonSettings& python = manifest.python;
  if (!python.executable.empty()) {
    const bool relative_path =
        python.executable.find('/') != std::string::npos && python.executable[0] != '/';
    setup.executable =
        relative_path ? (dir / python.executable).lexically_normal().string() : python.executable;
  }
  if (!python.path_given) setup.path.push_back(dir.lexically_normal().string());
  for (const std::string& entry : python.path) {
    fs::path path = entry;
    if (path.is_relative()) path = dir / path;
    std::string text = path.lexically_normal().string();
    if (text.size() > 1 && text.back() == '/') text.pop_back();
    setup.path.push_back(text);
  }
  setup.setup = python.setup;
  return setup;
}

void CheckPythonTasks(const TaskSource& source, const PythonSetup& setup) {
  const Manifest& manifest = source.manifest();
  json calls = json::array();
  std::map<std::string, const TaskEntry*> entry_of;  // first task id -> its entry
  const TaskEntry* first_python = nullptr;
  for (std::size_t e = 0; e < manifest.entries.size(); ++e) {
    const TaskEntry& entry = manifest.entries[e];
    if (entry.kind != kPythonKind) continue;
    if (first_python == nullptr) first_python = &entry;
    const TaskSpec task = source.Render(source.FirstIndexOf(e), 1);
    calls.push_back({{"task", task.id}, {"call", json::parse(task.kind_args)}});
    entry_of[task.id] = &entry;
  }
  if (first_python == nullptr) return;
  const json request = {{"path", setup.path},
                        {"setup", setup.setup.empty() ? json(nullptr) : json(setup.setup)},
                        {"calls", calls}};
  const std::string first_id = calls[0]["task"].get<std::string>();
  StatusOr<CapturedRun> run =
      RunCaptured({setup.executable, "-c", PythonHelperSource(), "check"},
                  request.dump(-1, ' ', false, json::error_handler_t::replace), kCheckLimit);
  const SourcePos& where =
      manifest.python.executable.empty() ? first_python->kind_pos : manifest.python.executable_pos;
  if (!run.ok()) {
    throw ManifestError(where, "task " + first_id +
                                   " is kind: python, but the interpreter cannot "
                                   "run: " +
                                   run.status().message() +
                                   (manifest.python.executable.empty()
                                        ? " (install python3, or name one with python.executable)"
                                        : ""));
  }
  const json problems = json::parse(run->output, nullptr, /*allow_exceptions=*/false);
  if (run->end.exit_code != 0 || run->end.signal != 0 || !problems.is_array()) {
    throw ManifestError(
        where, "task " + first_id + ": checking the Python functions with " + setup.executable +
                   " failed: " + Tail(run->errors.empty() ? run->output : run->errors));
  }
  for (const json& problem : problems) {
    const std::string what = problem.value("what", "");
    const std::string message = problem.value("message", "");
    if (what == "setup") {
      throw ManifestError(manifest.python.setup_pos, "python.setup: " + message);
    }
    const std::string task = problem.value("task", "");
    const TaskEntry& entry = *entry_of.at(task);
    throw ManifestError(
        what == "arguments" ? entry.python.arguments_pos : entry.python.function_pos,
        "task " + task + ": " + message);
  }
}

}  // namespace jobrunner
