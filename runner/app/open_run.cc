#include "app/open_run.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include "app/python_check.h"
#include "coordinator/resume.h"
#include "kinds/kind_binding.h"
#include "manifest/task_graph_builder.h"
#include "posix/this_process.h"

namespace jobrunner {
namespace {

namespace fs = std::filesystem;

// Stops this long before --time-limit beyond the drain grace: time to kill, record and exit.
constexpr std::int64_t kTimeLimitMarginMs = 10'000;

// What each manifest entry (a TaskGraph group) asks of the worker that runs it.
std::vector<ResourceNeeds> NeedsOf(const TaskSource& source) {
  std::vector<ResourceNeeds> needs;
  for (const TaskEntry& entry : source.manifest().entries) needs.push_back(entry.needs);
  return needs;
}

// The drain must fit before the limit however short it is: a grace of at most a quarter of the
// limit, and a margin for killing, recording and exiting of at most a fifth.
void FitDrainInTimeLimit(std::int64_t limit_ms, RunOptions& options) {
  options.drain_grace_ms = std::min(options.drain_grace_ms, limit_ms / 4);
  const std::int64_t margin = std::min(kTimeLimitMarginMs, limit_ms / 5);
  options.drain_at_ms = std::max<std::int64_t>(0, limit_ms - options.drain_grace_ms - margin);
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
  std::string text = ReadManifestFile(settings.manifest);
  TaskSource source(ParseManifest(text, settings.manifest), fs::current_path().string());
  source.CheckUniqueIds();
  RunOptions options = settings.options;
  KindRegistry kinds = LoadKinds(settings.plugins, source, options.plugins);
  if (source.manifest().HasPythonTasks()) {
    options.python = PythonSetupOf(source.manifest());
    CheckPythonTasks(source, options.python);
  }
  Scheduler scheduler(BuildTaskGraph(source), options.scheduler);
  scheduler.SetNeeds(NeedsOf(source));
  if (settings.time_limit_ms) FitDrainInTimeLimit(*settings.time_limit_ms, options);
  return RunPlan{std::move(text), std::move(source), std::move(kinds), std::move(scheduler),
                 std::move(options)};
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
  RunPlan plan = PlanRun(settings);
  const std::string text = std::move(plan.manifest_text);
  const std::string path = CreateRunDir(settings.out, settings.name, settings.manifest);
  TestCrashPoint("run-dir-made");
  RunDir dir = RunDir::ForNewRun(path, text);
  std::optional<JournalWriter> journal;
  if (settings.journal) {
    journal =
        JournalWriter::Create(dir.dir(), kJournalFile, ManifestHash(text), plan.source.size());
  }
  TestCrashPoint("journal-created");
  WriteManifestCopy(dir.dir(), text);
  TestCrashPoint("manifest-copied");
  ResultsWriter results(dir.dir(), /*append=*/false);
  TestCrashPoint("results-created");
  RunLedger ledger(plan.source.size());
  return std::make_unique<OpenRun>(std::move(plan), std::move(dir), std::move(ledger),
                                   std::move(journal), std::move(results));
}

std::unique_ptr<OpenRun> ResumeRun(const RunSettings& settings, Reporter& reporter) {
  RunPlan plan = PlanRun(settings);
  const std::string text = std::move(plan.manifest_text);
  // The lock is taken before anything of the run is read or repaired.
  RunDir dir = RunDir::ForResume(fs::absolute(settings.resume_dir).lexically_normal().string());
  ResultsWriter results(dir.dir(), /*append=*/true);
  RunLedger ledger(plan.source.size());
  std::optional<JournalWriter> journal =
      PrepareResume({text, settings.force}, dir.dir(), plan.source, ledger, results, reporter);
  auto run = std::make_unique<OpenRun>(std::move(plan), std::move(dir), std::move(ledger),
                                       std::move(journal), std::move(results));
  run->scheduler.Resume(run->ledger.ResumeState(settings.retry_failed));
  run->options.run_number = run->ledger.runs() + 1;
  return run;
}

}  // namespace jobrunner
