#include "app/open_run.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "app/python_check.h"
#include "coordinator/resume.h"
#include "kinds/kind_binding.h"
#include "manifest/task_graph_builder.h"
#include "manifest/task_input.h"
#include "posix/background_copy.h"
#include "posix/file.h"
#include "posix/this_process.h"

namespace jobrunner {
namespace {

namespace fs = std::filesystem;

// Stops this long before --time-limit beyond the drain grace: time to kill, record and exit.
constexpr std::int64_t kTimeLimitMarginMs = 10'000;
// Tasks that earlier runs left failed which a resumed run's summary names one by one.
constexpr std::size_t kEarlierFailuresNamed = 20;

// The run directory's copy of a command list given in place of a manifest (or on stdin).
constexpr const char* kListCopy = "tasks.txt";

// What the tasks of each TaskGraph group (a manifest entry, or part of one) ask of the worker
// that runs them.
std::vector<ResourceNeeds> NeedsOf(const TaskSource& source) {
  std::vector<ResourceNeeds> needs;
  for (const TaskGroup& group : source.groups()) {
    needs.push_back(source.manifest().entries[group.entry].needs);
  }
  return needs;
}

// The name under which the run directory keeps a command list: tasks.txt for a list given
// alone, tasks-<entry id>.txt for a manifest's tasks_from.
std::string ListCopyName(const Manifest& manifest, const TaskEntry& entry) {
  if (manifest.is_command_list) return kListCopy;
  std::string id;
  for (const Template::Part& part : entry.id.parts()) id += part.text;
  return "tasks-" + id + ".txt";
}

// A command list's copy is written under its name with this suffix, and takes its name only once
// it holds every byte the run indexed: a run killed while it copies (a list of 10^7 lines takes a
// second or so) leaves no file by that name, so that a resume never mistakes part of the list
// for the list it started with.
constexpr const char* kPartialSuffix = ".partial";

// Copies the command list `list` into the run directory as `name` (a new file: never over one,
// never through a link), and has the run read its tasks from that copy once it is whole, so that
// editing the original during the run changes nothing and a resume can tell what changed. The
// copy is made on a thread of its own while the first tasks are read from the original: a list
// of 10^7 lines (300 MB) would otherwise hold the first task back by the time it takes. A copy
// that does not hold the bytes the list was read from (the original changed meanwhile) keeps its
// partial name and ends the run, as interrupted, at the next task looked up. Throws
// RunDirError.
void CopyListIntoRunDir(const Dir& run_dir, const std::string& name, const CommandList& list) {
  const std::string partial = name + kPartialSuffix;
  StatusOr<UniqueFd> file = run_dir.CreateFile(partial, /*readable=*/true);
  if (!file.ok()) {
    throw RunDirError("cannot create " + run_dir.PathOf(partial) + ": " + file.status().message());
  }
  struct Copy {
    CommandList::ContentHash hash;
    std::unique_ptr<BackgroundCopy> copier;
  };
  auto copy = std::make_shared<Copy>();
  const std::string path = run_dir.PathOf(name);
  copy->copier = std::make_unique<BackgroundCopy>(
      list.stream(), std::move(*file),
      [hash = &copy->hash, first_block = true](const char* data, std::size_t n) mutable {
        hash->Update(data, n);
        if (std::exchange(first_block, false)) TestCrashPoint("list-partly-copied");
      },
      // Renamed through a Dir of its own: the run's `run_dir` moves on with the run.
      [hash = &copy->hash, dir_path = run_dir.path(), partial, name, size = list.file_size(),
       content = list.content_hash()](std::uint64_t bytes) {
        if (bytes != size || hash->Final() != content) return Status::Ok();  // said at look-up
        StatusOr<Dir> dir = Dir::Open(dir_path);
        return dir.ok() ? dir->RenameNoReplace(partial, name) : dir.status();
      });
  list.ReadFromWhenReady(
      [copy, &list, path]() -> std::FILE* {
        if (!copy->copier->done()) return nullptr;
        const SourcePos where{list.name(), 0, 0};
        if (!copy->copier->status().ok()) {
          throw ManifestError(where, "cannot copy the command list to " + path + ": " +
                                         copy->copier->status().message());
        }
        if (copy->copier->bytes() != list.file_size() ||
            copy->hash.Final() != list.content_hash()) {
          throw ManifestError(where, "the command list changed while the run copied it to " + path +
                                         " (its tasks so far read it as it was)");
        }
        StatusOr<std::FILE*> stream = OpenStream(copy->copier->TakeCopy(), "rb");
        if (!stream.ok()) {
          throw ManifestError(where, "cannot read the run's copy of the command list " + path +
                                         ": " + stream.status().message());
        }
        return *stream;
      },
      path);
}

// Copies each command list into the run directory of a new run (see CopyListIntoRunDir).
void CopyListsIntoRunDir(const Dir& run_dir, const Manifest& manifest) {
  for (const TaskEntry& entry : manifest.entries) {
    if (entry.list == nullptr) continue;
    CopyListIntoRunDir(run_dir, ListCopyName(manifest, entry), *entry.list);
  }
}

// For a resume that goes on with `manifest`'s lists: copies again each list whose copy never
// became whole (the run was killed while it copied), from the list given now, which the journal
// has shown to be the one the run started with (or --force said to take), over what part of it
// was copied.
void CopyMissingListsIntoRunDir(const Dir& run_dir, const Manifest& manifest) {
  for (const TaskEntry& entry : manifest.entries) {
    if (entry.list == nullptr) continue;
    const std::string name = ListCopyName(manifest, entry);
    StatusOr<Dir::Entry> copy = run_dir.Look(name);
    if (!copy.ok()) {
      throw RunDirError("cannot look at " + run_dir.PathOf(name) + ": " + copy.status().message());
    }
    if (copy->kind != Dir::Kind::kMissing) continue;
    if (Status removed = run_dir.Remove(name + kPartialSuffix); !removed.ok()) {
      throw RunDirError("cannot remove " + run_dir.PathOf(name + kPartialSuffix) + ": " +
                        removed.message());
    }
    CopyListIntoRunDir(run_dir, name, *entry.list);
  }
}

// A resume given the run directory's own copy of a list read from stdin (as the README says to)
// when that copy never became whole: the list is not there to be read, and only the one who gave
// it can give it again. Throws ResumeError naming the ways on.
void RefuseUnfinishedStdinCopy(const RunSettings& settings) {
  if (settings.manifest == "-") return;
  const fs::path given = fs::absolute(settings.manifest).lexically_normal();
  const fs::path dir = fs::absolute(settings.resume_dir).lexically_normal();
  const fs::path partial = dir / (std::string(kListCopy) + kPartialSuffix);
  std::error_code error;
  if (given != dir / kListCopy || fs::exists(given, error) || !fs::exists(partial, error)) return;
  throw ResumeError(given.string() +
                    " was never whole: the run stopped while it copied its command list there "
                    "(" +
                    partial.string() +
                    " holds what was copied). Resume with the list the run started "
                    "from: `jobrunner --resume " +
                    dir.string() +
                    " LIST`, or, for a list given on stdin, give "
                    "it again: `... | jobrunner --resume " +
                    dir.string() + " -`");
}

// What changed since the run in `run_dir` started, for a resume that finds its input changed:
// the task counts, and the first changed line of the manifest or of a command list.
std::string DescribeInputChange(const Dir& run_dir, const std::string& yaml_text,
                                const Manifest& manifest, std::uint64_t tasks_before,
                                std::uint64_t tasks_now) {
  if (!manifest.is_command_list) {
    std::string yaml = DescribeManifestChange(ReadRunFile(run_dir, kManifestCopyFile).value_or(""),
                                              yaml_text, tasks_before, tasks_now);
    if (yaml.find("; line ") != std::string::npos) return yaml;
  }
  std::string change =
      tasks_before == tasks_now
          ? "the same " + std::to_string(tasks_now) + " tasks"
          : std::to_string(tasks_before) + " tasks before, " + std::to_string(tasks_now) + " now";
  for (const TaskEntry& entry : manifest.entries) {
    if (entry.list == nullptr || entry.list->path().empty()) continue;
    const std::string line = DescribeListChange(run_dir, ListCopyName(manifest, entry),
                                                entry.list->path(), entry.list->name());
    if (!line.empty()) return change + "; " + line;
  }
  return change;
}

// The drain must fit before the limit however short it is: a grace of at most a quarter of the
// limit, and a margin for killing, recording and exiting of at most a fifth.
void FitDrainInTimeLimit(std::int64_t limit_ms, RunOptions& options) {
  options.drain_grace_ms = std::min(options.drain_grace_ms, limit_ms / 4);
  const std::int64_t margin = std::min(kTimeLimitMarginMs, limit_ms / 5);
  options.drain_at_ms = std::max<std::int64_t>(0, limit_ms - options.drain_grace_ms - margin);
}

RunPlan PlanInput(const RunSettings& settings, LoadedInput input) {
  TaskSource source(std::move(input.manifest), fs::current_path().string());
  source.CheckUniqueIds();
  RunOptions options = settings.options;
  options.max_failures =
      settings.max_failures ? settings.max_failures : source.manifest().max_failures;
  KindRegistry kinds = LoadKinds(settings.plugins, source, options.plugins);
  if (source.manifest().HasPythonTasks()) {
    options.python = PythonSetupOf(source.manifest());
    CheckPythonTasks(source, options.python);
  }
  Scheduler scheduler(BuildTaskGraph(source), options.scheduler);
  scheduler.SetNeeds(NeedsOf(source));
  if (settings.time_limit_ms) FitDrainInTimeLimit(*settings.time_limit_ms, options);
  return RunPlan{std::move(input.yaml_text), std::move(source), std::move(kinds),
                 std::move(scheduler), std::move(options)};
}

}  // namespace

KindRegistry LoadKinds(const std::vector<std::string>& flag_plugins, const TaskSource& source,
                       std::vector<std::string>& plugins) {
  KindRegistry kinds;
  for (const std::string& path : flag_plugins) {
    kinds.LoadPlugin(fs::absolute(path).lexically_normal().string());
  }
  const fs::path manifest_dir = fs::absolute(source.manifest().path).parent_path();
  for (const PluginRef& plugin : source.manifest().plugins) {
    fs::path path = plugin.path;
    if (path.is_relative()) path = manifest_dir / path;
    try {
      kinds.LoadPlugin(path.lexically_normal().string());
    } catch (const PluginError& e) {
      throw ManifestError(plugin.pos, e.what());
    }
  }
  CheckKinds(source, kinds);
  plugins = kinds.plugins();
  return kinds;
}

RunPlan PlanRun(const RunSettings& settings) {
  return PlanInput(settings, LoadInput(settings.manifest, settings.input));
}

OpenRun::OpenRun(RunPlan&& plan, RunDir&& dir, RunLedger&& ledger,
                 std::optional<JournalWriter>&& journal, ResultsWriter&& results)
    : source(std::move(plan.source)),
      kinds(std::move(plan.kinds)),
      scheduler(std::move(plan.scheduler)),
      options(std::move(plan.options)),
      ledger(std::move(ledger)),
      dir(std::move(dir)),
      journal(std::move(journal)),
      results(std::move(results)) {
  options.run_dir = this->dir.path();
}

std::unique_ptr<OpenRun> OpenNewRun(const RunSettings& settings) {
  const bool from_stdin = settings.manifest == "-";
  RunPlan plan =
      from_stdin ? PlanInput(settings, LoadInput("-", settings.input, "stdin")) : PlanRun(settings);
  if (plan.source.size() == 0) return nullptr;
  const std::string text = std::move(plan.manifest_text);
  const std::string path =
      CreateRunDir(settings.out, settings.name, from_stdin ? "stdin" : settings.manifest);
  TestCrashPoint("run-dir-made");
  RunDir dir = RunDir::ForNewRun(path, text);
  std::optional<JournalWriter> journal;
  if (settings.journal) {
    journal = JournalWriter::Create(dir.dir(), kJournalFile,
                                    InputHash(text, plan.source.manifest()), plan.source.size());
  }
  TestCrashPoint("journal-created");
  if (!plan.source.manifest().is_command_list) WriteManifestCopy(dir.dir(), text);
  CopyListsIntoRunDir(dir.dir(), plan.source.manifest());
  TestCrashPoint("manifest-copied");
  ResultsWriter results(dir.dir(), /*append=*/false);
  TestCrashPoint("results-created");
  RunLedger ledger(plan.source.size());
  return std::make_unique<OpenRun>(std::move(plan), std::move(dir), std::move(ledger),
                                   std::move(journal), std::move(results));
}

std::unique_ptr<OpenRun> ResumeRun(const RunSettings& settings, Reporter& reporter) {
  RefuseUnfinishedStdinCopy(settings);
  RunPlan plan = PlanRun(settings);
  const std::string text = std::move(plan.manifest_text);
  // The lock is taken before anything of the run is read or repaired.
  RunDir dir = RunDir::ForResume(fs::absolute(settings.resume_dir).lexically_normal().string());
  ResultsWriter results(dir.dir(), /*append=*/true);
  RunLedger ledger(plan.source.size());
  const Manifest& manifest = plan.source.manifest();
  ResumeOptions resume{
      manifest.is_command_list ? "" : text, InputHash(text, manifest), {}, settings.force};
  resume.describe_change = [&](std::uint64_t tasks_before) {
    return DescribeInputChange(dir.dir(), text, manifest, tasks_before, plan.source.size());
  };
  std::optional<JournalWriter> journal =
      PrepareResume(resume, dir.dir(), plan.source, ledger, results, reporter);
  CopyMissingListsIntoRunDir(dir.dir(), manifest);
  auto run = std::make_unique<OpenRun>(std::move(plan), std::move(dir), std::move(ledger),
                                       std::move(journal), std::move(results));
  ResumePoint point = run->ledger.ResumeState(settings.retry_failed);
  // The summary names the first few of the failures earlier runs settled.
  std::vector<std::uint64_t> failed = point.failed;
  const std::size_t named = std::min(failed.size(), kEarlierFailuresNamed);
  std::partial_sort(failed.begin(), failed.begin() + named, failed.end());
  failed.resize(named);
  run->options.failed_earlier = std::move(failed);
  run->options.failed_earlier_total = point.failed.size();
  run->scheduler.Resume(std::move(point));
  run->options.run_number = run->ledger.runs() + 1;
  return run;
}

}  // namespace jobrunner
