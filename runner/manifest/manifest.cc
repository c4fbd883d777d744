#include "manifest/manifest.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "manifest/glob.h"
#include "manifest/units.h"
#include "manifest/yaml_reader.h"

namespace jobrunner {
namespace {

std::string FormatError(const SourcePos& pos, const std::string& message) {
  std::string where = pos.file;
  if (pos.line > 0) where += ":" + std::to_string(pos.line);
  if (pos.line > 0 && pos.column > 0) where += ":" + std::to_string(pos.column);
  return where + ": " + message;
}

constexpr int kMaxRetries = 100;
// As many as --slots allows a worker.
constexpr int kMaxCores = 4096;
constexpr int kMaxGpus = 1024;

// A template together with where it came from, kept until its placeholders have been checked
// against the matrix of every task it applies to (defaults apply to many).
struct SourceTemplate {
  Template tmpl;
  SourcePos pos;
  std::string label;  // "command", "cwd", "env NAME", ...
  bool from_defaults = false;
};

using SourceEnv = std::vector<std::pair<std::string, SourceTemplate>>;

// The resource and priority fields as written, in defaults or in a task: a task's own field
// replaces the default one (its tags replace the default tags as a whole).
struct Placement {
  std::optional<int> cores;
  std::optional<int> gpus;
  SourcePos gpus_pos;
  bool gpus_from_defaults = false;
  std::optional<std::uint64_t> memory;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> node;
  std::optional<int> priority;

  void OverrideWith(const Placement& task) {
    if (task.cores) cores = task.cores;
    if (task.gpus) {
      gpus = task.gpus;
      gpus_pos = task.gpus_pos;
      gpus_from_defaults = false;
    }
    if (task.memory) memory = task.memory;
    if (task.tags) tags = task.tags;
    if (task.node) node = task.node;
    if (task.priority) priority = task.priority;
  }
};

struct Defaults {
  std::int64_t timeout_ms = 0;
  int retries = 0;
  std::optional<SourceTemplate> cwd;
  SourceEnv env;
  Placement placement;
  std::string shell_program;
};

// The most values a `file:` may give one matrix key: they are held in memory, as a list is.
constexpr std::size_t kMaxValuesFileBytes = std::size_t{32} << 20;

const MapField& Require(const std::vector<MapField>& fields, std::string_view name,
                        const LocatedNode& map, const std::string& what) {
  if (const MapField* field = FindField(fields, name)) return *field;
  FailAt(map.pos, "missing field '" + std::string(name) + "' in " + what);
}

// A matrix name must be something a placeholder can refer to.
bool IsPlaceholderName(const std::string& name) {
  const Template probe = Template::Parse("{" + name + "}");
  return probe.parts().size() == 1 && probe.parts()[0].is_placeholder;
}

// "this task has no matrix", "this task's matrix defines: a, b", or for a template from the
// defaults, the same about the task at a given line, since "this task" would be ambiguous there.
std::string DescribeMatrix(const TaskEntry& entry, bool from_defaults) {
  std::string names;
  for (const MatrixAxis& axis : entry.matrix) names += (names.empty() ? "" : ", ") + axis.name;
  const std::string task =
      from_defaults ? "the task at line " + std::to_string(entry.pos.line) : "this task";
  if (names.empty()) return task + " has no matrix";
  return (from_defaults ? "the matrix of " + task : task + "'s matrix") + " defines: " + names;
}

// A format's verdict on a value; the first value it does not suit is an error at the template.
void CheckFormat(const SourceTemplate& source, const std::string& name, const FormatSpec& format,
                 std::string_view value, const std::string& whose) {
  const StatusOr<std::string> formatted = format.Apply(value);
  if (formatted.ok()) return;
  FailAt(source.pos, "{" + name + ":" + format.text() + "} in " + source.label + " cannot format " +
                         whose + ": " + formatted.status().message());
}

void CheckFormats(const SourceTemplate& source, const Template::Part& part,
                  const TaskEntry& entry) {
  const std::string& name = part.text;
  const FormatSpec& format = *part.format;
  if (name == kTaskIdPlaceholder) {
    CheckFormat(source, name, format, "id", "the task id, which is text");
    return;
  }
  if (name == kAttemptPlaceholder) {
    CheckFormat(source, name, format, "1", "the attempt number");
    return;
  }
  for (const MatrixAxis& axis : entry.matrix) {
    if (axis.name != name) continue;
    if (axis.is_range) {
      // Integers all: the first and the last stand for the rest.
      if (axis.size() == 0) return;
      for (std::uint64_t i : {std::uint64_t{0}, axis.size() - 1}) {
        CheckFormat(source, name, format, axis.ValueAt(i), "the value " + axis.ValueAt(i));
      }
      return;
    }
    for (const std::string& value : axis.values) {
      CheckFormat(source, name, format, value, "the value '" + value + "' of " + name);
    }
  }
}

void CheckPlaceholders(const SourceTemplate& source, const TaskEntry& entry, bool is_id) {
  for (const std::string& name : source.tmpl.Names()) {
    const bool reserved = name == kTaskIdPlaceholder || name == kAttemptPlaceholder;
    if (reserved && is_id) {
      FailAt(source.pos, "placeholder {" + name +
                             "} cannot be used in id; an id may only use its task's matrix names");
    }
    const bool defined = std::any_of(entry.matrix.begin(), entry.matrix.end(),
                                     [&name](const MatrixAxis& axis) { return axis.name == name; });
    if (reserved || defined) continue;
    FailAt(source.pos, "unknown placeholder {" + name + "} in " + source.label +
                           (source.from_defaults ? " from defaults; " : "; ") +
                           DescribeMatrix(entry, source.from_defaults));
  }
  for (const Template::Part& part : source.tmpl.parts()) {
    if (part.is_placeholder && part.format) CheckFormats(source, part, entry);
  }
}

class Parser {
 public:
  // `base_dir`: the manifest's directory, for the relative paths in it. `default_shell`: --shell.
  Parser(const std::string& file, std::string_view text, std::string base_dir,
         std::string default_shell)
      : in_(file, text), base_dir_(std::move(base_dir)), default_shell_(std::move(default_shell)) {}

  void ParseRoot(const LocatedNode& root, Manifest& manifest) const {
    const std::vector<MapField> fields =
        in_.Fields(root, "manifest", "a map with version and tasks",
                   {"version", "plugins", "python", "defaults", "tasks", "max_failures",
                    "node_setup", "node_teardown"});
    const LocatedNode& version = Require(fields, "version", root, "manifest").value;
    const std::int64_t number = in_.Integer(version, "version", "the integer 1");
    if (number != 1) {
      FailAt(version.pos, "unsupported version " + std::to_string(number) + "; expected 1");
    }
    if (const MapField* field = FindField(fields, "plugins")) {
      for (const LocatedNode& element :
           in_.Sequence(field->value, "plugins", "a list of shared library paths")) {
        std::string path = in_.Scalar(element, "plugin", "a shared library path");
        if (path.empty()) FailAt(element.pos, "empty plugin path; expected a shared library path");
        manifest.plugins.push_back(PluginRef{std::move(path), element.pos});
      }
    }
    if (const MapField* field = FindField(fields, "python")) {
      manifest.python = ParsePython(field->value);
    }
    if (const MapField* field = FindField(fields, "max_failures")) {
      const std::string text =
          in_.Scalar(field->value, "max_failures", "a count like 10 or a share like 5%");
      manifest.max_failures = ParseFailureLimit(text);
      if (!manifest.max_failures) {
        FailAt(field->value.pos, "bad max_failures '" + text +
                                     "'; expected a count of at least 1, like 10, or a share of "
                                     "the tasks up to 100%, like 5% or 0.5%");
      }
    }
    Defaults defaults;
    defaults.shell_program = default_shell_;
    if (const MapField* field = FindField(fields, "defaults"))
      defaults = ParseDefaults(field->value);
    if (const MapField* field = FindField(fields, "node_setup")) {
      manifest.node_setup = ParseNodeCommand(field->value, "node_setup", defaults);
    }
    if (const MapField* field = FindField(fields, "node_teardown")) {
      manifest.node_teardown = ParseNodeCommand(field->value, "node_teardown", defaults);
    }

    const LocatedNode& tasks = Require(fields, "tasks", root, "manifest").value;
    const std::vector<LocatedNode> elements = in_.Sequence(tasks, "tasks", "a list of tasks");
    if (elements.empty()) FailAt(tasks.pos, "tasks is empty; expected at least one task");
    manifest.entries.reserve(elements.size());
    for (const LocatedNode& element : elements) {
      manifest.entries.push_back(ParseTask(element, defaults));
    }
  }

 private:
  PythonSettings ParsePython(const LocatedNode& node) const {
    const std::vector<MapField> fields = in_.Fields(
        node, "python", "a map of path, setup and executable", {"path", "setup", "executable"});
    PythonSettings python;
    python.pos = node.pos;
    if (const MapField* field = FindField(fields, "path")) {
      python.path_given = true;
      python.pos = field->value.pos;
      for (const LocatedNode& element :
           in_.Sequence(field->value, "python.path", "a list of directories")) {
        std::string dir = in_.Scalar(element, "python.path", "a directory");
        if (dir.empty()) FailAt(element.pos, "empty directory in python.path");
        python.path.push_back(std::move(dir));
      }
    }
    if (const MapField* field = FindField(fields, "setup")) {
      python.setup = in_.Scalar(field->value, "python.setup", "module:function");
      python.setup_pos = field->value.pos;
      CheckFunctionName(python.setup, field->value.pos, "python.setup");
    }
    if (const MapField* field = FindField(fields, "executable")) {
      python.executable = in_.Scalar(field->value, "python.executable", "a path to python3");
      python.executable_pos = field->value.pos;
      if (python.executable.empty()) {
        FailAt(field->value.pos,
               "empty python.executable; expected a path such as "
               "/usr/bin/python3 or a virtual environment's bin/python");
      }
    }
    return python;
  }

  // A string for the shell (defaults' shell) or a list of arguments, as a task's command but
  // without placeholders: it is no task of the matrix. It gets defaults' timeout.
  NodeCommand ParseNodeCommand(const LocatedNode& node, const std::string& label,
                               const Defaults& defaults) const {
    const std::string expected = "a command: a string for the shell, or a list of arguments";
    NodeCommand command;
    command.pos = node.pos;
    command.timeout_ms = defaults.timeout_ms;
    if (node.yaml.IsSequence()) {
      for (const LocatedNode& element : in_.Sequence(node, label, expected)) {
        command.argv.push_back(in_.Scalar(element, label, "an argument"));
      }
      if (command.argv.empty() || command.argv[0].empty()) {
        FailAt(node.pos, "empty " + label + "; expected " + expected);
      }
    } else {
      std::string text = in_.Scalar(node, label, expected);
      if (text.empty()) FailAt(node.pos, "empty " + label + "; expected " + expected);
      command.argv = {defaults.shell_program, "-c", std::move(text)};
    }
    return command;
  }

  // "module:function" with dotted identifiers on both sides: what the helper can look up.
  static void CheckFunctionName(const std::string& text, const SourcePos& pos,
                                const std::string& label) {
    const auto dotted_identifier = [](std::string_view part) {
      if (part.empty() || part.front() == '.' || part.back() == '.') return false;
      bool start = true;
      for (char c : part) {
        const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
                            static_cast<unsigned char>(c) >= 0x80;
        const bool digit = c >= '0' && c <= '9';
        if (c == '.') {
          if (start) return false;
          start = true;
        } else if (letter || (digit && !start)) {
          start = false;
        } else {
          return false;
        }
      }
      return true;
    };
    const std::size_t colon = text.find(':');
    if (colon == std::string::npos || !dotted_identifier(std::string_view(text).substr(0, colon)) ||
        !dotted_identifier(std::string_view(text).substr(colon + 1))) {
      FailAt(pos,
             "bad " + label + " '" + text + "'; expected module:function, like mypkg.tasks:fit");
    }
  }

  Defaults ParseDefaults(const LocatedNode& node) const {
    const std::vector<MapField> fields =
        in_.Fields(node, "defaults",
                   "a map of timeout, retries, env, cwd, shell, priority, cores, gpus, memory, "
                   "node and tags",
                   {"timeout", "retries", "env", "cwd", "shell", "priority", "cores", "gpus",
                    "memory", "node", "tags"});
    Defaults defaults;
    defaults.shell_program = default_shell_;
    if (const MapField* field = FindField(fields, "shell")) {
      defaults.shell_program = ParseShell(field->value);
    }
    if (const MapField* field = FindField(fields, "timeout")) {
      defaults.timeout_ms = ParseTimeout(field->value);
    }
    if (const MapField* field = FindField(fields, "retries")) {
      defaults.retries = ParseRetries(field->value);
    }
    if (const MapField* field = FindField(fields, "cwd")) defaults.cwd = ParseCwd(field->value);
    if (const MapField* field = FindField(fields, "env")) defaults.env = ParseEnv(field->value);
    if (defaults.cwd) defaults.cwd->from_defaults = true;
    for (auto& [name, value] : defaults.env) value.from_defaults = true;
    defaults.placement = ParsePlacement(fields);
    defaults.placement.gpus_from_defaults = true;
    return defaults;
  }

  TaskEntry ParseTask(const LocatedNode& node, const Defaults& defaults) const {
    const std::vector<MapField> fields = in_.Fields(
        node, "task", "a map with id and command (or kind, or tasks_from)",
        {"id",   "command", "kind",    "args", "isolate",    "gather",    "matrix",   "zip",
         "cwd",  "timeout", "retries", "env",  "depends_on", "after",     "priority", "cores",
         "gpus", "memory",  "node",    "tags", "shell",      "tasks_from"});
    TaskEntry entry;
    entry.pos = node.pos;
    // First, since every template of the entry is checked against it.
    if (const MapField* field = FindField(fields, "matrix"))
      entry.matrix = ParseMatrix(field->value);
    if (const MapField* field = FindField(fields, "zip")) ParseZip(field->value, entry.matrix);

    const MapField* tasks_from = FindField(fields, "tasks_from");
    const SourceTemplate id = ParseTemplate(Require(fields, "id", node, "task").value, "id");
    CheckPlaceholders(id, entry, /*is_id=*/true);
    entry.id = id.tmpl;
    entry.id_pos = id.pos;

    const MapField* command = FindField(fields, "command");
    const MapField* kind = FindField(fields, "kind");
    if (command != nullptr && kind != nullptr) {
      FailAt(kind->key_pos, "a task has either command or kind, not both");
    }
    if (tasks_from != nullptr) {
      for (const char* name : {"command", "kind", "args", "isolate", "matrix", "zip"}) {
        if (const MapField* field = FindField(fields, name)) {
          FailAt(field->key_pos, std::string(name) +
                                     " does not go with tasks_from: each line of the list is a "
                                     "command, run by the shell");
        }
      }
      if (!entry.id.IsLiteral() || entry.id.parts().empty()) {
        FailAt(id.pos,
               "the id of a tasks_from entry is a plain name, without placeholders: its "
               "tasks are <id>-<line>");
      }
      ParseTasksFrom(tasks_from->value, entry);
    } else if (kind != nullptr) {
      ParseKind(*kind, FindField(fields, "args"), FindField(fields, "isolate"), entry);
      if (entry.kind == kPythonKind) ParsePythonCall(*kind, FindField(fields, "args"), entry);
    } else {
      ParseCommand(Require(fields, "command", node, "task").value, entry);
      for (const char* name : {"args", "isolate"}) {
        if (const MapField* field = FindField(fields, name)) {
          FailAt(field->key_pos, std::string(name) + " belongs to a task with kind:, not command:");
        }
      }
    }
    entry.shell_program = defaults.shell_program;
    if (const MapField* field = FindField(fields, "shell")) {
      if (!entry.shell && entry.list == nullptr) {
        FailAt(field->key_pos,
               "shell runs a command given as a string (or a tasks_from list); this task's "
               "command is " +
                   std::string(entry.kind.empty() ? "a list of arguments, run without a shell"
                                                  : "a kind, run inside the worker"));
      }
      entry.shell_program = ParseShell(field->value);
    }
    if (const MapField* field = FindField(fields, "gather"))
      entry.gather = ParseGather(field->value);

    const MapField* cwd_field = FindField(fields, "cwd");
    const std::optional<SourceTemplate> cwd = cwd_field ? ParseCwd(cwd_field->value) : defaults.cwd;
    if (cwd) {
      CheckPlaceholders(*cwd, entry, /*is_id=*/false);
      entry.cwd = cwd->tmpl;
    }

    SourceEnv env = defaults.env;
    if (const MapField* field = FindField(fields, "env")) {
      std::unordered_map<std::string, std::size_t> position;
      for (std::size_t i = 0; i < env.size(); ++i) position[env[i].first] = i;
      for (auto& [name, value] : ParseEnv(field->value)) {
        auto [it, added] = position.emplace(name, env.size());
        if (added) {
          env.emplace_back(name, std::move(value));
        } else {
          env[it->second].second = std::move(value);
        }
      }
    }
    for (const auto& [name, value] : env) {
      CheckPlaceholders(value, entry, /*is_id=*/false);
      entry.env.emplace_back(name, value.tmpl);
    }

    const MapField* timeout = FindField(fields, "timeout");
    entry.timeout_ms = timeout ? ParseTimeout(timeout->value) : defaults.timeout_ms;
    const MapField* retries = FindField(fields, "retries");
    entry.retries = retries ? ParseRetries(retries->value) : defaults.retries;

    if (const MapField* field = FindField(fields, "depends_on")) {
      ParseDependencies(field->value, "depends_on", entry.depends_on, entry);
    }
    if (const MapField* field = FindField(fields, "after")) {
      ParseDependencies(field->value, "after", entry.after, entry);
    }
    Placement placement = defaults.placement;
    placement.OverrideWith(ParsePlacement(fields));
    ApplyPlacement(placement, entry);

    entry.size();  // throws now, rather than later, if the matrix is too large to count
    return entry;
  }

  // Placeholders are checked later, by BuildTaskGraph: a name outside this entry's matrix is
  // allowed where the element is another entry's id as written (a dependency on all its tasks).
  void ParseDependencies(const LocatedNode& node, const std::string& label,
                         std::vector<std::pair<Template, SourcePos>>& ids, TaskEntry& entry) const {
    const std::string expected = "a list of task ids (or {entry: id})";
    for (const LocatedNode& element : in_.Sequence(node, label, expected)) {
      if (element.yaml.IsMap()) {
        const std::vector<MapField> fields =
            in_.Fields(element, label + " element", "{entry: id}", {"entry"});
        const LocatedNode& name = Require(fields, "entry", element, label + " element").value;
        std::string text = in_.Scalar(name, "entry", "the id of another entry, as written there");
        if (text.empty()) FailAt(name.pos, "empty entry id in " + label);
        entry.entry_dependencies.push_back(
            EntryDependency{std::move(text), name.pos, label == "after"});
        continue;
      }
      const SourceTemplate id = ParseTemplate(element, label, "a task id");
      if (id.tmpl.parts().empty()) FailAt(element.pos, "empty task id in " + label);
      ids.emplace_back(id.tmpl, id.pos);
    }
  }

  std::string ParseShell(const LocatedNode& node) const {
    std::string shell = in_.Scalar(node, "shell", "a program, like /bin/bash or zsh");
    if (shell.empty() || shell.find_first_of(" \t") != std::string::npos) {
      FailAt(node.pos, "bad shell '" + shell +
                           "'; expected one program (a path, or a name looked up in PATH), run "
                           "as <shell> -c <command>");
    }
    return shell;
  }

  std::string Resolve(const std::string& path) const {
    if (path.empty() || path[0] == '/' || base_dir_.empty()) return path;
    return (std::filesystem::path(base_dir_) / path).lexically_normal().string();
  }

  void ParseTasksFrom(const LocatedNode& node, TaskEntry& entry) const {
    const std::string path = in_.Scalar(node, "tasks_from", "the path of a command list");
    if (path.empty()) FailAt(node.pos, "empty tasks_from; expected the path of a command list");
    const std::string resolved = Resolve(path);
    try {
      entry.list = CommandList::Open(resolved, resolved);
    } catch (const ManifestError& e) {
      if (e.pos().line > 0) throw;
      FailAt(node.pos, "tasks_from " + path + ": " + e.message());
    }
    entry.list_pos = node.pos;
  }

  Placement ParsePlacement(const std::vector<MapField>& fields) const {
    Placement p;
    if (const MapField* field = FindField(fields, "priority")) {
      p.priority = ParsePriority(field->value);
    }
    if (const MapField* field = FindField(fields, "cores")) {
      p.cores = ParseCount(field->value, "cores", 1, kMaxCores);
    }
    if (const MapField* field = FindField(fields, "gpus")) {
      p.gpus = ParseCount(field->value, "gpus", 0, kMaxGpus);
      p.gpus_pos = field->key_pos;
    }
    if (const MapField* field = FindField(fields, "memory")) {
      const std::string text = in_.Scalar(field->value, "memory", "a size like 512M or 8G");
      const std::optional<std::uint64_t> bytes = ParseByteSize(text);
      if (const std::optional<std::string> over = ByteSizeOverLimit(text)) {
        FailAt(field->value.pos, "memory " + *over);
      }
      if (!bytes) {
        FailAt(field->value.pos, "bad size '" + text +
                                     "' for memory: expected a number with an "
                                     "optional unit, like 512M, 8G or 1T");
      }
      p.memory = *bytes;
    }
    if (const MapField* field = FindField(fields, "tags")) {
      p.tags.emplace();
      for (const LocatedNode& element : in_.Sequence(field->value, "tags", "a list of tags")) {
        p.tags->push_back(ParseTag(element, "tag"));
      }
    }
    if (const MapField* field = FindField(fields, "node")) {
      p.node = ParseTag(field->value, "node");
    }
    return p;
  }

  void ApplyPlacement(const Placement& p, TaskEntry& entry) const {
    entry.priority = p.priority.value_or(0);
    ResourceNeeds& needs = entry.needs;
    needs.cores = p.cores.value_or(0);
    needs.gpus = p.gpus.value_or(0);
    // CUDA_VISIBLE_DEVICES is set per process: threads of the worker cannot each have theirs.
    // A Python task's interpreter is a process of its own, so it can have one.
    if (needs.gpus > 0 && !entry.kind.empty() && !entry.isolate && entry.kind != kPythonKind) {
      FailAt(p.gpus_pos,
             "gpus needs a command, or a kind with isolate: true; an in-process kind cannot be "
             "given its own CUDA_VISIBLE_DEVICES" +
                 (p.gpus_from_defaults
                      ? " (from defaults; the task at line " + std::to_string(entry.pos.line) +
                            " is one: give it gpus: 0)"
                      : std::string()));
    }
    needs.memory = p.memory.value_or(0);
    if (p.tags) needs.tags = *p.tags;
    if (p.node) needs.tags.push_back(NodeTag(*p.node));
  }

  // A worker's tags come from --worker-tags a,b: a tag with a comma or space would match none.
  std::string ParseTag(const LocatedNode& node, const std::string& label) const {
    std::string text = in_.Scalar(node, label, label == "node" ? "a host name" : "a tag");
    if (text.empty() || text.find_first_of(", \t") != std::string::npos) {
      FailAt(node.pos, "bad " + label + " '" + text +
                           "'; expected a non-empty name without commas or spaces");
    }
    return text;
  }

  int ParseCount(const LocatedNode& node, const std::string& label, int min, int max) const {
    const std::string expected =
        "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    const std::int64_t n = in_.Integer(node, label, expected);
    if (n < min || n > max) {
      FailAt(node.pos, label + " " + std::to_string(n) + " is out of range; expected " + expected);
    }
    return static_cast<int>(n);
  }

  int ParsePriority(const LocatedNode& node) const {
    constexpr std::int64_t kLimit = 1'000'000'000;
    const std::int64_t priority = in_.Integer(node, "priority", "an integer");
    if (priority < -kLimit || priority > kLimit) {
      FailAt(node.pos, "priority " + std::to_string(priority) + " is out of range; expected -" +
                           std::to_string(kLimit) + " .. " + std::to_string(kLimit));
    }
    return static_cast<int>(priority);
  }

  void ParseCommand(const LocatedNode& node, TaskEntry& entry) const {
    entry.command_pos = node.pos;
    if (!node.yaml.IsSequence()) {
      const SourceTemplate script =
          ParseTemplate(node, "command", "a string (run by /bin/sh -c) or a list of arguments");
      if (node.yaml.Scalar().find_first_not_of(" \t\r\n") == std::string::npos) {
        FailAt(node.pos, "empty command; expected a shell command or a list of arguments");
      }
      CheckPlaceholders(script, entry, /*is_id=*/false);
      entry.shell = true;
      entry.script = script.tmpl;
      return;
    }
    const std::vector<LocatedNode> elements = in_.Sequence(node, "command", "a list of arguments");
    if (elements.empty()) {
      FailAt(node.pos, "empty command; expected a list whose first element names the program");
    }
    for (const LocatedNode& element : elements) {
      const SourceTemplate argument = ParseTemplate(element, "command", "a string");
      if (entry.argv.empty() && element.yaml.Scalar().empty()) {
        FailAt(element.pos, "empty program name in command; expected the program to run first");
      }
      CheckPlaceholders(argument, entry, /*is_id=*/false);
      entry.argv.push_back(argument.tmpl);
    }
  }

  void ParseKind(const MapField& kind, const MapField* args, const MapField* isolate,
                 TaskEntry& entry) const {
    entry.kind = in_.Scalar(kind.value, "kind", "the name of a task kind, like hash-file");
    entry.kind_pos = kind.value.pos;
    if (entry.kind.empty()) FailAt(kind.value.pos, "empty kind; expected a task kind name");
    if (isolate != nullptr && entry.kind == kPythonKind) {
      FailAt(isolate->key_pos,
             "isolate does not apply to kind: python, whose interpreters are processes already");
    }
    if (args != nullptr && entry.kind != kPythonKind) {
      for (const MapField& field : in_.Entries(args->value, "args", "a map of name: value")) {
        if (field.value.yaml.IsMap() || field.value.yaml.IsSequence()) {
          FailAt(field.value.pos, "argument '" + field.name + "' is " +
                                      DescribeNode(field.value.yaml) +
                                      "; expected a string, a number or a boolean");
        }
        const SourceTemplate value = ParseTemplate(field.value, "argument " + field.name);
        CheckPlaceholders(value, entry, /*is_id=*/false);
        entry.args.push_back(KindArgument{field.name, value.tmpl, field.key_pos, field.value.pos});
      }
    }
    if (isolate != nullptr) {
      const std::string text = in_.Scalar(isolate->value, "isolate", "true or false");
      if (text != "true" && text != "false") {
        FailAt(isolate->value.pos, "isolate is '" + text + "'; expected true or false");
      }
      entry.isolate = text == "true";
    }
  }

  // `args: {function: "mod:f", kwargs: {...}, args: [...]}`: any YAML below kwargs and args, its
  // strings templated.
  void ParsePythonCall(const MapField& kind, const MapField* args, TaskEntry& entry) const {
    if (args == nullptr) {
      FailAt(kind.key_pos,
             "kind: python needs args with a function, like "
             "args: {function: \"mypkg.tasks:fit\", kwargs: {alpha: 0.1}}");
    }
    const std::vector<MapField> fields =
        in_.Fields(args->value, "args of kind: python", "a map of function, kwargs and args",
                   {"function", "kwargs", "args"});
    const MapField* function = FindField(fields, "function");
    if (function == nullptr) {
      FailAt(args->value.pos,
             "missing field 'function' in args of kind: python; expected "
             "module:function, like mypkg.tasks:fit");
    }
    const SourceTemplate name = ParseTemplate(function->value, "function", "module:function");
    CheckPlaceholders(name, entry, /*is_id=*/false);
    if (name.tmpl.IsLiteral())
      CheckFunctionName(function->value.yaml.Scalar(), name.pos, "function");
    PythonArgs& call = entry.python;
    call.function = name.tmpl;
    call.function_pos = name.pos;
    call.arguments_pos = args->value.pos;
    call.call.AppendJson("[");
    call.call.AppendString(name.tmpl);
    call.call.AppendJson(",");
    if (const MapField* list = FindField(fields, "args")) {
      if (!list->value.yaml.IsSequence()) {
        FailAt(list->value.pos,
               "wrong type for args: expected a list of positional arguments, "
               "got " +
                   DescribeNode(list->value.yaml));
      }
      call.arguments_pos = list->value.pos;
      AppendJsonValue(list->value, entry, "args", call.call);
    } else {
      call.call.AppendJson("[]");
    }
    call.call.AppendJson(",");
    if (const MapField* kwargs = FindField(fields, "kwargs")) {
      if (!kwargs->value.yaml.IsMap()) {
        FailAt(kwargs->value.pos, "wrong type for kwargs: expected a map of name: value, got " +
                                      DescribeNode(kwargs->value.yaml));
      }
      call.arguments_pos = kwargs->value.pos;
      AppendJsonValue(kwargs->value, entry, "kwargs", call.call);
    } else {
      call.call.AppendJson("{}");
    }
    call.call.AppendJson("]");
  }

  // A YAML value as JSON: maps, lists, null, plain numbers and booleans as they are; every other
  // scalar a string, templated.
  void AppendJsonValue(const LocatedNode& node, const TaskEntry& entry, const std::string& label,
                       JsonTemplate& json) const {
    if (node.yaml.IsNull()) {
      json.AppendJson("null");
    } else if (node.yaml.IsSequence()) {
      json.AppendJson("[");
      bool first = true;
      for (const LocatedNode& element : in_.Sequence(node, label, "a list")) {
        if (!std::exchange(first, false)) json.AppendJson(",");
        AppendJsonValue(element, entry, label, json);
      }
      json.AppendJson("]");
    } else if (node.yaml.IsMap()) {
      json.AppendJson("{");
      bool first = true;
      for (const MapField& field : in_.Entries(node, label, "a map")) {
        if (!std::exchange(first, false)) json.AppendJson(",");
        json.AppendJson(JsonString(field.name) + ":");
        AppendJsonValue(field.value, entry, label + "." + field.name, json);
      }
      json.AppendJson("}");
    } else {
      const std::string text = in_.Scalar(node, label, "a value");
      std::optional<std::string> literal;
      if (node.yaml.Tag() == "?") literal = JsonOfYamlNumberOrBool(text);
      if (literal) {
        json.AppendJson(*literal);
        return;
      }
      const SourceTemplate value{Template::Parse(text), node.pos, label};
      CheckPlaceholders(value, entry, /*is_id=*/false);
      json.AppendString(value.tmpl);
    }
  }

  Gather ParseGather(const LocatedNode& node) const {
    const std::string text = in_.Scalar(node, "gather", "concat, sum or none");
    if (text == "concat") return Gather::kConcat;
    if (text == "sum") return Gather::kSum;
    if (text == "none") return Gather::kNone;
    FailAt(node.pos, "gather is '" + text + "'; expected concat, sum or none");
  }

  std::vector<MatrixAxis> ParseMatrix(const LocatedNode& node) const {
    const std::vector<MapField> fields =
        in_.Entries(node, "matrix", "a map from names to lists or ranges");
    if (fields.empty()) {
      FailAt(node.pos, "empty matrix; expected at least one name, like n: [1, 2]");
    }
    std::vector<MatrixAxis> axes;
    for (const MapField& field : fields) {
      CheckAxisName(field, "matrix");
      axes.push_back(ParseAxis(field, "matrix " + field.name));
    }
    return axes;
  }

  // `zip: {a: [...], b: [...]}`: keys whose i-th values go together, appended to `matrix`.
  void ParseZip(const LocatedNode& node, std::vector<MatrixAxis>& matrix) const {
    const std::vector<MapField> fields =
        in_.Entries(node, "zip", "a map from names to lists of equal length");
    if (fields.empty()) FailAt(node.pos, "empty zip; expected at least one name, like n: [1, 2]");
    const std::size_t first = matrix.size();
    for (const MapField& field : fields) {
      CheckAxisName(field, "zip");
      const auto same = std::find_if(matrix.begin(), matrix.end(),
                                     [&](const MatrixAxis& a) { return a.name == field.name; });
      if (same != matrix.end()) {
        FailAt(field.key_pos, "'" + field.name + "' is a key of both matrix and zip");
      }
      MatrixAxis axis = ParseAxis(field, "zip " + field.name);
      axis.zipped = true;
      if (matrix.size() > first && axis.size() != matrix[first].size()) {
        FailAt(field.key_pos, "zip " + field.name + " has " + std::to_string(axis.size()) +
                                  " values, zip " + matrix[first].name + " " +
                                  std::to_string(matrix[first].size()) +
                                  "; zip pairs the i-th values of its keys, so they need as many");
      }
      matrix.push_back(std::move(axis));
    }
  }

  void CheckAxisName(const MapField& field, const std::string& where) const {
    if (!IsPlaceholderName(field.name)) {
      FailAt(field.key_pos,
             "bad " + where + " name '" + field.name + "'; expected an identifier, like n or file");
    }
    if (field.name == kTaskIdPlaceholder || field.name == kAttemptPlaceholder) {
      FailAt(field.key_pos, where + " name '" + field.name +
                                "' is reserved; jobrunner fills in {task_id} and {attempt}");
    }
  }

  MatrixAxis ParseAxis(const MapField& field, const std::string& label) const {
    MatrixAxis axis;
    axis.name = field.name;
    axis.pos = field.key_pos;
    const std::string forms =
        "a list of values, {range: [start, stop]}, {file: path} or "
        "{glob: pattern}";
    if (!field.value.yaml.IsMap()) {
      for (const LocatedNode& value : in_.Sequence(field.value, label, forms)) {
        axis.values.push_back(in_.Scalar(value, "a value of " + label, "a string or a number"));
        std::optional<std::string> json;
        if (value.yaml.Tag() == "?") json = JsonOfYamlNumberOrBool(axis.values.back());
        axis.json_values.push_back(json.value_or(""));
      }
      return axis;
    }

    const std::vector<MapField> fields =
        in_.Fields(field.value, label, forms, {"range", "file", "glob"});
    if (fields.size() != 1) {
      FailAt(field.value.pos, label + " has " + std::to_string(fields.size()) +
                                  " of range, file and glob; expected one");
    }
    if (fields[0].name == "file") {
      axis.values = ReadValues(fields[0].value, label);
      axis.json_values.assign(axis.values.size(), "");  // strings, as read
      return axis;
    }
    if (fields[0].name == "glob") {
      const std::string pattern = in_.Scalar(fields[0].value, "glob", "a pattern like data/*.csv");
      if (pattern.empty()) FailAt(fields[0].value.pos, "empty glob; expected a pattern");
      axis.values = ExpandGlob(pattern, base_dir_.empty() ? "." : base_dir_);
      axis.json_values.assign(axis.values.size(), "");  // paths, strings
      return axis;
    }
    const LocatedNode& range = fields[0].value;
    const std::string expected = "[start, stop] or [start, stop, step]";
    const std::vector<LocatedNode> bounds = in_.Sequence(range, "range of " + label, expected);
    if (bounds.size() != 2 && bounds.size() != 3) {
      FailAt(range.pos, "range of " + label + " has " + std::to_string(bounds.size()) +
                            " elements; expected " + expected);
    }
    axis.is_range = true;
    axis.start = in_.Integer(bounds[0], "range start of " + label, "an integer");
    axis.stop = in_.Integer(bounds[1], "range stop of " + label, "an integer");
    if (bounds.size() == 3) {
      axis.step = in_.Integer(bounds[2], "range step of " + label, "an integer");
      if (axis.step == 0) FailAt(bounds[2].pos, "zero step in range of " + label);
    }
    return axis;
  }

  // `{file: values.txt}`: one value a line, blank lines skipped, relative to the manifest.
  std::vector<std::string> ReadValues(const LocatedNode& node, const std::string& label) const {
    const std::string path = in_.Scalar(node, "file", "the path of a file of values");
    if (path.empty()) FailAt(node.pos, "empty file; expected the path of a file of values");
    std::ifstream in(Resolve(path), std::ios::binary);
    if (!in) {
      FailAt(node.pos,
             "cannot read the values of " + label + " from " + path + ": " + std::strerror(errno));
    }
    // Read up to the limit and one byte more, so that a file without line ends (/dev/zero) is
    // refused at the limit rather than read into one endless line.
    std::string text(kMaxValuesFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) FailAt(node.pos, "cannot read " + path + ": " + std::strerror(errno));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxValuesFileBytes) {
      FailAt(node.pos, path + " is larger than " + std::to_string(kMaxValuesFileBytes >> 20) +
                           " MiB; for that many tasks, use a command list (tasks_from)");
    }
    std::vector<std::string> values;
    std::size_t number = 0;
    for (std::size_t begin = 0; begin < text.size();) {
      const std::size_t end = std::min(text.find('\n', begin), text.size());
      std::string line = text.substr(begin, end - begin);
      begin = end + 1;
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find('\0') != std::string::npos) {
        FailAt(node.pos, path + ":" + std::to_string(number) + ": a NUL byte");
      }
      if (!line.empty()) values.push_back(std::move(line));
    }
    return values;
  }

  SourceTemplate ParseTemplate(const LocatedNode& node, const std::string& label,
                               const std::string& expected = "a string") const {
    const std::string text = in_.Scalar(node, label, expected);
    try {
      return SourceTemplate{Template::Parse(text), node.pos, label};
    } catch (const TemplateError& e) {
      FailAt(node.pos, std::string(e.what()) + " in " + label);
    }
  }

  SourceTemplate ParseCwd(const LocatedNode& node) const {
    SourceTemplate cwd = ParseTemplate(node, "cwd", "a directory path");
    if (cwd.tmpl.parts().empty()) FailAt(node.pos, "empty cwd; expected a directory path");
    return cwd;
  }

  SourceEnv ParseEnv(const LocatedNode& node) const {
    SourceEnv env;
    for (const MapField& field : in_.Entries(node, "env", "a map of NAME: value")) {
      if (field.name.empty() || field.name.find('=') != std::string::npos) {
        FailAt(field.key_pos, "bad env name '" + field.name +
                                  "'; expected a name without '=', like OMP_NUM_THREADS");
      }
      env.emplace_back(field.name, ParseTemplate(field.value, "env " + field.name));
    }
    return env;
  }

  std::int64_t ParseTimeout(const LocatedNode& node) const {
    const std::string text = in_.Scalar(node, "timeout", "a duration like 30s");
    const std::optional<std::int64_t> ms = ParseDurationMs(text);
    if (const std::optional<std::string> over = DurationOverLimit(text)) {
      FailAt(node.pos, "timeout " + *over);
    }
    if (!ms) {
      FailAt(node.pos, "bad duration '" + text +
                           "' for timeout: expected a number with a unit, like 500ms, 30s, 10m "
                           "or 2h");
    }
    return *ms;
  }

  int ParseRetries(const LocatedNode& node) const {
    const std::string expected = "an integer from 0 to " + std::to_string(kMaxRetries);
    const std::int64_t retries = in_.Integer(node, "retries", expected);
    if (retries < 0 || retries > kMaxRetries) {
      FailAt(node.pos,
             "retries " + std::to_string(retries) + " is out of range; expected " + expected);
    }
    return static_cast<int>(retries);
  }

  YamlReader in_;
  std::string base_dir_;
  std::string default_shell_;
};

// Where the first two documents of `text` start (fewer when it has fewer). yaml-cpp 0.7's LoadAll
// never returns on some malformed input: a lone ',' makes it add null documents, none of which
// consumes the ',', until memory runs out (fixed upstream after 0.7). So the manifest is loaded
// with YAML::Load, which reads one document, and documents are counted here, with a parser told
// to stop at the second.
std::vector<YAML::Mark> DocumentStarts(const std::string& text) {
  class Starts final : public YAML::EventHandler {
   public:
    std::vector<YAML::Mark> marks;
    void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  Starts starts;
  while (starts.marks.size() < 2 && parser.HandleNextDocument(starts)) {
  }
  return starts.marks;
}

}  // namespace

ManifestError::ManifestError(const SourcePos& pos, const std::string& message)
    : std::runtime_error(FormatError(pos, message)), pos_(pos), message_(message) {}

std::uint64_t MatrixAxis::size() const {
  if (!is_range) return values.size();
  const bool up = step > 0;
  if (step == 0 || (up ? start >= stop : start <= stop)) return 0;
  // Unsigned magnitudes: stop - start overflows int64 for ranges wider than half its span.
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  const std::uint64_t distance = up ? u(stop) - u(start) : u(start) - u(stop);
  const std::uint64_t stride = up ? u(step) : 0 - u(step);
  return (distance - 1) / stride + 1;
}

std::string MatrixAxis::ValueAt(std::uint64_t i) const {
  if (!is_range) return values[i];
  // Wrapping unsigned arithmetic: the true value lies between start and stop, so it fits.
  const std::uint64_t value =
      static_cast<std::uint64_t>(start) + i * static_cast<std::uint64_t>(step);
  return std::to_string(static_cast<std::int64_t>(value));
}

bool Manifest::HasPythonTasks() const {
  return std::any_of(entries.begin(), entries.end(),
                     [](const TaskEntry& entry) { return entry.kind == kPythonKind; });
}

std::size_t TaskEntry::ZipStart() const {
  std::size_t k = matrix.size();
  while (k > 0 && matrix[k - 1].zipped) --k;
  return k;
}

std::uint64_t TaskEntry::size() const {
  if (list != nullptr) return list->size();
  std::uint64_t product = 1;
  const std::size_t zip = ZipStart();
  for (std::size_t k = 0; k <= zip && k < matrix.size(); ++k) {
    if (__builtin_mul_overflow(product, matrix[k].size(), &product)) {
      throw ManifestError(pos, "this task's matrix has more than 2^64 - 1 combinations");
    }
  }
  return product;
}

Manifest CommandListManifest(std::shared_ptr<const CommandList> list,
                             const ListDefaults& defaults) {
  Manifest manifest;
  manifest.path = list->name();
  manifest.is_command_list = true;
  TaskEntry entry;
  entry.pos = entry.id_pos = entry.list_pos = SourcePos{list->name(), 1, 0};
  entry.shell = true;
  entry.shell_program = defaults.shell_program;
  entry.timeout_ms = defaults.timeout_ms;
  entry.retries = defaults.retries;
  if (!defaults.cwd.empty()) entry.cwd = Template::Literal(defaults.cwd);
  for (const auto& [name, value] : defaults.env)
    entry.env.emplace_back(name, Template::Literal(value));
  entry.list = std::move(list);
  manifest.entries.push_back(std::move(entry));
  return manifest;
}

Manifest ParseManifest(const std::string& yaml_text, const std::string& file_name,
                       const std::string& default_shell) {
  const YamlReader reader(file_name, yaml_text);
  YAML::Node document;
  std::vector<YAML::Mark> starts;
  try {
    starts = DocumentStarts(yaml_text);
    document = YAML::Load(yaml_text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    FailAt(reader.Pos(e.mark), "YAML nesting too deep (" + std::to_string(e.depth()) +
                                   " levels); a manifest needs only a few");
  } catch (const std::bad_alloc&) {
    // A YAML tree takes many times its text's size; under a tight memory limit even a file below
    // kMaxManifestBytes may not fit.
    FailAt({file_name, 0, 0}, "not enough memory to parse this " +
                                  std::to_string(yaml_text.size() >> 20) +
                                  " MiB manifest; describe many tasks with a matrix instead");
  } catch (const YAML::ParserException& e) {
    FailAt(reader.Pos(e.mark), "YAML syntax error: " + e.msg);
  }
  if (starts.size() > 1) {
    // A document that starts where the previous one did: the parser stopped at a token it could
    // not use, such as a ',' outside brackets.
    if (starts[1].pos == starts[0].pos) {
      FailAt(reader.Pos(starts[1]), std::string("YAML syntax error: unexpected '") +
                                        yaml_text[static_cast<std::size_t>(starts[1].pos)] + "'");
    }
    FailAt(reader.Pos(starts[1]), "a second YAML document; a manifest is a single document");
  }
  if (document.IsNull()) {
    FailAt({file_name, 1, 1}, "empty manifest; expected a map with version: 1 and tasks");
  }
  Manifest manifest;
  manifest.path = file_name;
  const std::string base_dir = std::filesystem::path(file_name).parent_path().string();
  Parser(file_name, yaml_text, base_dir, default_shell)
      .ParseRoot(reader.Locate(document), manifest);
  return manifest;
}

std::string ReadManifestFile(const std::string& path) {
  const auto fail = [&path](const std::string& why) {
    FailAt({path, 0, 0}, "cannot read manifest: " + why);
  };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) fail(std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, n);
    // The parsed tree takes several times the file's size; a matrix describes any number of
    // tasks in a few lines, so a file this large is a mistake, not a workload.
    if (text.size() > kMaxManifestBytes) {
      fail("it is larger than " + std::to_string(kMaxManifestBytes >> 20) +
           " MiB; describe many tasks with a matrix instead of listing each one");
    }
  }
  // fread reports a directory (EISDIR) or an I/O error only through ferror and errno.
  if (std::ferror(file.get())) fail(std::strerror(errno));
  return text;
}

Manifest LoadManifest(const std::string& path) {
  return ParseManifest(ReadManifestFile(path), path);
}

}  // namespace jobrunner
