#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifest/command_list.h"
#include "manifest/json_template.h"
#include "manifest/template.h"
#include "manifest/units.h"
#include "schedule/resources.h"

namespace jobrunner {

// A place in a manifest file, 1-based as editors show it.
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

// Any problem with a manifest. what() reads "file:line:column: message", the form editors and
// compilers use ("file:line: message" without a column, as in a command list), and says what was
// expected.
class ManifestError : public std::runtime_error {
 public:
  ManifestError(const SourcePos& pos, const std::string& message);
  const SourcePos& pos() const { return pos_; }
  const std::string& message() const { return message_; }

 private:
  SourcePos pos_;
  std::string message_;
};

// The placeholders every task has besides its matrix names. An id may not use them: it names the
// task before it runs, and the same task for all its attempts.
inline constexpr std::string_view kTaskIdPlaceholder = "task_id";
inline constexpr std::string_view kAttemptPlaceholder = "attempt";

// One key of a matrix: either an integer range [start, stop) with a step, or a list of values
// (written out, or read from a file or a glob). Keys of `zip:` are axes too, marked `zipped`:
// they come after the matrix's own and advance together, as one more key of the product.
struct MatrixAxis {
  std::string name;
  SourcePos pos;
  bool zipped = false;
  bool is_range = false;
  std::int64_t start = 0, stop = 0, step = 1;  // when is_range
  std::vector<std::string> values;             // otherwise
  // Per value, its JSON when it was written as a plain YAML number or boolean, else empty: what
  // a `kind: python` argument that is just this placeholder becomes (see JsonTemplate).
  std::vector<std::string> json_values;

  std::uint64_t size() const;
  std::string ValueAt(std::uint64_t i) const;
};

// What to make of a whole entry's outputs once every task of it has succeeded (see gather.h).
enum class Gather { kNone, kConcat, kSum };

// One `name: value` of a task's `args:`, for a `kind:`.
struct KindArgument {
  std::string name;
  Template value;
  SourcePos name_pos;
  SourcePos pos;  // of the value
};

// The task kind that calls a Python function in the workers' warm interpreters.
inline constexpr std::string_view kPythonKind = "python";

// A `kind: python` entry's `args:`: the function to call and what to pass it.
struct PythonArgs {
  Template function;  // "module:function", or "package.module:Class.method"
  SourcePos function_pos;
  // Renders the call as the helper takes it: ["module:function", [args...], {kwargs...}].
  JsonTemplate call;
  SourcePos arguments_pos;  // of `kwargs:` (or `args:`): where a signature mismatch is blamed
};

// The manifest's `python:`: how workers start their interpreters.
struct PythonSettings {
  std::vector<std::string> path;  // sys.path entries as written, relative to the manifest
  SourcePos pos;                  // of `python:`, or of `path:` when given
  std::string setup;              // "module:function" called once per interpreter; empty: none
  SourcePos setup_pos;
  std::string executable;  // empty: /usr/bin/python3
  SourcePos executable_pos;
  bool path_given = false;  // without it, sys.path gets the manifest's directory
};

// An element of `depends_on:` or `after:` written `{entry: name}`: every task of the entry whose
// id is `name` as written there (`prep-{n}`), or whose id without placeholders is (`prep`).
struct EntryDependency {
  std::string entry;
  SourcePos pos;
  bool after = false;  // `after:`: whatever their outcome; `depends_on:`: once all succeeded
};

// One element of `tasks:`, with defaults already applied. It stands for size() tasks: the
// cartesian product of its matrix axes (the first axis varies slowest), one task without one, or
// with `tasks_from`, one task per task of a command list.
struct TaskEntry {
  SourcePos pos;     // the entry itself
  SourcePos id_pos;  // its `id:` value
  Template id;
  bool shell = false;  // command given as a string: run under a shell with -c
  SourcePos command_pos;
  std::string kind;  // `kind:` instead of `command:`: an in-process task kind (jobs/)
  SourcePos kind_pos;
  std::vector<KindArgument> args;  // a kind's `args:`
  PythonArgs python;               // `kind: python`'s `args:` instead
  bool isolate = false;            // run the kind in a helper process
  Gather gather = Gather::kNone;
  std::vector<Template> argv;  // when !shell
  Template script;             // when shell
  std::vector<MatrixAxis> matrix;
  std::optional<Template> cwd;
  std::vector<std::pair<std::string, Template>> env;  // defaults' env, then the entry's
  std::int64_t timeout_ms = 0;                        // 0: no time limit
  int retries = 0;
  // `depends_on:` elements, each a task id templated with this entry's matrix names, or the id of
  // another entry as written there (`prep-{n}`), which stands for every task of that entry.
  // Resolved into task indices by BuildTaskGraph (task_graph_builder.h), which needs expansion.
  std::vector<std::pair<Template, SourcePos>> depends_on;
  // `after:` elements, read as depends_on's, for tasks that wait for others to end, whatever
  // their outcome.
  std::vector<std::pair<Template, SourcePos>> after;
  // `{entry: name}` elements of depends_on and after: the whole entry waits for a whole entry.
  std::vector<EntryDependency> entry_dependencies;
  // `shell:` (or defaults', or --shell): the program that runs a string command (or a command
  // list's lines) with -c; empty: /bin/bash where the worker has it, else /bin/sh.
  std::string shell_program;
  // `tasks_from:`: a command list whose tasks this entry stands for, each run by the shell with
  // the entry's other fields; its ids are `<id>-<line>` (`<id>-<line>-<n>` for the n-th task of
  // a REPEAT line), or `<line>` for a plain command list (no id).
  std::shared_ptr<const CommandList> list;
  SourcePos list_pos;
  int priority = 0;  // among ready tasks, higher first
  // `cores:`, `gpus:`, `memory:`, `node:` and `tags:`: where the scheduler may place each task.
  ResourceNeeds needs;

  // Product of the axis sizes (a zip counting once); 1 without a matrix; a command list's tasks.
  std::uint64_t size() const;
  // The position in `matrix` of the first zipped axis; matrix.size() without a zip.
  std::size_t ZipStart() const;
};

// A `plugins:` element: a shared library of task kinds, as written (relative paths are relative
// to the manifest's directory).
struct PluginRef {
  std::string path;
  SourcePos pos;
};

// `node_setup:` or `node_teardown:`: a command each host runs once, before its first task or
// after its last (TaskSource::NodeCommand makes it a TaskSpec).
struct NodeCommand {
  // A string is {shell, "-c", text}, the shell empty where the manifest names none (as a task's);
  // a list is the arguments, run without a shell.
  std::vector<std::string> argv;
  std::int64_t timeout_ms = 0;  // defaults' timeout; 0: none
  SourcePos pos;
};

struct Manifest {
  std::string path;
  int version = 1;
  std::vector<PluginRef> plugins;
  PythonSettings python;
  std::vector<TaskEntry> entries;
  std::optional<NodeCommand> node_setup;
  std::optional<NodeCommand> node_teardown;
  // `max_failures:`, which --max-failures overrides.
  std::optional<FailureLimit> max_failures;
  // A plain command list given on the command line, not YAML: one entry, with `list`.
  bool is_command_list = false;

  bool HasPythonTasks() const;
};

// What a plain command list's tasks get from the command line, where a manifest has fields.
struct ListDefaults {
  std::int64_t timeout_ms = 0;                           // --timeout
  int retries = 0;                                       // --retries
  std::string cwd;                                       // --cwd, or empty
  std::vector<std::pair<std::string, std::string>> env;  // --env K=V
  std::string shell_program;                             // --shell
};

// A command list given in place of a manifest: one entry whose tasks are the list's.
Manifest CommandListManifest(std::shared_ptr<const CommandList> list, const ListDefaults& defaults);

// Reads and validates a manifest. Throws ManifestError for every problem: YAML syntax, unknown
// field, wrong type, bad duration, empty command, unknown `{name}` in a template, bad matrix.
// Duplicate ids are found later, by TaskSource::CheckUniqueIds, because they need expansion.
Manifest LoadManifest(const std::string& path);

// The manifest file's text, at most kMaxManifestBytes; ManifestError when it cannot be read.
inline constexpr std::size_t kMaxManifestBytes = std::size_t{32} << 20;
std::string ReadManifestFile(const std::string& path);
// Relative paths in the manifest (`tasks_from`, a matrix's `file` and `glob`) are relative to
// the directory of `file_name`. `default_shell`: --shell, for entries that name none.
Manifest ParseManifest(const std::string& yaml_text, const std::string& file_name,
                       const std::string& default_shell = "");

}  // namespace jobrunner
