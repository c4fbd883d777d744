#include "app/check.h"

#include <cstdio>
#include <filesystem>
#include <optional>

#include "app/open_run.h"
#include "app/python_check.h"
#include "base/exit_status.h"
#include "manifest/task_graph_builder.h"
#include "manifest/task_source.h"
#include "posix/default_shell.h"

namespace jobrunner {
namespace {

// What Check and DryRun share: the input read and checked as a run would, warnings printed.
struct Checked {
  std::optional<TaskSource> source;
  std::uint64_t warnings = 0;
};

void ReadAndCheck(const std::string& manifest, const InputOptions& options,
                  const std::vector<std::string>& flag_plugins, Checked& checked) {
  LoadedInput input = LoadInput(manifest, options);
  checked.source.emplace(std::move(input.manifest), std::filesystem::current_path().string());
  const TaskSource& source = *checked.source;
  source.CheckUniqueIds();
  std::vector<std::string> plugins;
  LoadKinds(flag_plugins, source, plugins);
  if (source.manifest().HasPythonTasks()) {
    CheckPythonTasks(source, PythonSetupOf(source.manifest()));
  }
  BuildTaskGraph(source);  // dependencies: unknown ids and cycles
  for (const TaskEntry& entry : source.manifest().entries) {
    if (entry.list == nullptr) continue;
    for (const CommandList::Warning& w : entry.list->warnings()) {
      std::fprintf(stderr, "jobrunner: %s:%llu: warning: %s\n", entry.list->name().c_str(),
                   static_cast<unsigned long long>(w.line), w.message.c_str());
    }
    const std::uint64_t more = entry.list->warning_count() - entry.list->warnings().size();
    if (more > 0) {
      std::fprintf(stderr, "jobrunner: %s: %llu more warnings\n", entry.list->name().c_str(),
                   static_cast<unsigned long long>(more));
    }
    checked.warnings += entry.list->warning_count();
  }
}

std::string CountLine(const std::string& manifest, const TaskSource& source) {
  const Manifest& m = source.manifest();
  std::string line = (manifest == "-" ? std::string("stdin") : manifest) + ": ok, " +
                     std::to_string(source.size()) + " tasks from ";
  if (m.is_command_list) {
    const CommandList& list = *m.entries[0].list;
    line += "a command list of " + std::to_string(list.lines()) + " lines";
    if (!list.barriers().empty())
      line += ", " + std::to_string(list.barriers().size()) + " barriers";
  } else {
    line += std::to_string(m.entries.size()) + " entries";
  }
  return line;
}

std::string Where(const TaskSource& source, std::uint64_t index) {
  if (std::optional<CommandList::Task> task = source.ListTask(index)) {
    return source.EntryOf(index).list->name() + ":" + std::to_string(task->line);
  }
  const SourcePos& pos = source.EntryOf(index).pos;
  return pos.file + ":" + std::to_string(pos.line);
}

void PrintTask(const TaskSource& source, std::uint64_t index) {
  TaskSpec task = source.Render(index, 1);
  const TaskEntry& entry = source.EntryOf(index);
  std::printf("task %s (%s)\n", task.id.c_str(), Where(source, index).c_str());
  if (!task.kind.empty()) {
    std::string args;
    for (const auto& [name, value] : task.args) args += " " + name + "=" + ShellQuote(value);
    std::printf("  kind:      %s%s%s\n", task.kind.c_str(), args.c_str(),
                task.isolate ? " (isolated)" : "");
  } else {
    std::printf("  command:   %s\n", CommandLine(task, DefaultShell()).c_str());
  }
  std::printf(
      "  cwd:       %s\n",
      task.cwd.empty()
          ? (std::filesystem::current_path().string() + " (jobrunner's working directory)").c_str()
          : task.cwd.c_str());
  std::string env;
  for (const auto& [name, value] : task.env) env += " " + name + "=" + ShellQuote(value);
  std::printf("  env:      %s\n", env.empty() ? " (none added)" : env.c_str());
  std::string limits =
      entry.timeout_ms > 0 ? "timeout " + std::to_string(entry.timeout_ms) + "ms" : "no timeout";
  limits += ", " + std::to_string(entry.retries) + " retries";
  std::printf("  needs:     %s; %s\n", DescribeNeeds(entry.needs).c_str(), limits.c_str());
}

}  // namespace

int Check(const std::string& manifest, const InputOptions& options,
          const std::vector<std::string>& plugins) {
  Checked checked;
  try {
    ReadAndCheck(manifest, options, plugins, checked);
  } catch (const std::exception& e) {  // ManifestError, PluginError
    std::fprintf(stderr, "jobrunner: %s\n", e.what());
    return kExitUsage;
  }
  std::printf("%s\n", CountLine(manifest, *checked.source).c_str());
  return kExitSucceeded;
}

int DryRun(const std::string& manifest, const InputOptions& options,
           const std::vector<std::string>& plugins, std::uint64_t shown) {
  Checked checked;
  try {
    ReadAndCheck(manifest, options, plugins, checked);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobrunner: %s\n", e.what());
    return kExitUsage;
  }
  const TaskSource& source = *checked.source;
  const std::uint64_t count = std::min<std::uint64_t>(shown, source.size());
  std::printf("%s; a dry run: nothing runs%s\n", CountLine(manifest, source).c_str(),
              count == 0 ? ""
              : count == source.size()
                  ? "; every task follows"
                  : ("; the first " + std::to_string(count) + " follow").c_str());
  for (bool start : {true, false}) {
    for (const TaskSpec& command : source.PerWorkerCommands(start)) {
      std::printf("per-worker %s (every worker, %s): %s\n", command.id.c_str(),
                  start ? "before its first task" : "once every task has ended",
                  CommandLine(command, DefaultShell()).c_str());
    }
  }
  std::size_t entry_seen = static_cast<std::size_t>(-1);
  std::size_t barrier = 0;
  for (std::uint64_t index = 0; index < count; ++index) {
    const TaskEntry& entry = source.EntryOf(index);
    const std::size_t e = static_cast<std::size_t>(&entry - source.manifest().entries.data());
    if (e != entry_seen) {
      entry_seen = e;
      barrier = 0;
    }
    if (entry.list != nullptr) {
      const std::vector<CommandList::Barrier>& barriers = entry.list->barriers();
      const std::uint64_t local = index - source.FirstIndexOf(e);
      for (; barrier < barriers.size() && barriers[barrier].before_task <= local; ++barrier) {
        const CommandList::Barrier& b = barriers[barrier];
        if (b.before_task == 0) continue;  // before every task: it waits for nothing
        std::printf(
            "barrier%s%s (%s:%llu): the tasks above end before those below start%s\n",
            b.check ? " check" : "", b.key.empty() ? "" : (" " + b.key).c_str(),
            entry.list->name().c_str(), static_cast<unsigned long long>(b.line),
            b.check ? "; if one of those since the barrier before failed, the run ends" : "");
      }
    }
    PrintTask(source, index);
  }
  return kExitSucceeded;
}

}  // namespace jobrunner
