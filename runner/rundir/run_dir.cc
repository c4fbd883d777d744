#include "rundir/run_dir.h"

#include <ctime>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <system_error>

#include "posix/file.h"
#include "posix/this_process.h"

namespace jobrunner {
namespace fs = std::filesystem;

namespace {

std::string DefaultName(const std::string& manifest_path) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
  return fs::path(manifest_path).stem().string() + "-" + stamp;
}

// Points jobrunner-out/latest at `dir`, which lies in `base`: a new link under a temporary name,
// renamed over the old one, so that a reader never finds no link or a half-made one. A link
// that cannot be made (a run named "latest" holds the name, say) is not worth failing the run.
void LinkLatest(const fs::path& base, const fs::path& dir) {
  std::random_device random;
  const fs::path temporary = base / (".latest-" + std::to_string(random()));
  std::error_code error;
  fs::create_symlink(dir.filename(), temporary, error);
  if (error) return;
  fs::rename(temporary, base / kLatestRunLink, error);
  if (error) fs::remove(temporary, error);
}

std::string WithoutTrailingSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

[[noreturn]] void Fail(const std::string& what, const std::string& path, const Status& why) {
  throw RunDirError(what + " " + path + ": " + why.message());
}

Dir OpenRunDir(const std::string& path) {
  StatusOr<Dir> dir = Dir::Open(path);
  if (!dir.ok()) Fail("cannot open run directory", path, dir.status());
  return std::move(*dir);
}

[[noreturn]] void InUse(const Dir& dir) {
  throw RunDirError("run directory " + dir.path() +
                    " is in use by another jobrunner; wait for that run to end");
}

UniqueFd TakeLock(const Dir& dir) {
  StatusOr<UniqueFd> file = dir.OpenOrCreateFile(kLockFile);
  if (!file.ok()) Fail("cannot open", dir.PathOf(kLockFile), file.status());
  if (!TryLockFile(file->get()).ok()) InUse(dir);
  return std::move(*file);
}

// logs/ and data/ made if missing; refused when a link stands in for one.
void CheckSubdirectories(const Dir& dir) {
  for (const char* name : {kLogsDir, kDataDir}) {
    StatusOr<Dir> sub = dir.OpenSubdirectory(name, /*create=*/true);
    if (!sub.ok()) Fail("cannot use", dir.PathOf(name), sub.status());
  }
}

Dir::Entry Look(const Dir& dir, const std::string& name) {
  StatusOr<Dir::Entry> entry = dir.Look(name);
  if (!entry.ok()) Fail("cannot look at", dir.PathOf(name), entry.status());
  return *entry;
}

[[noreturn]] void NoJournal(const Dir& dir) {
  throw RunDirError(dir.path() +
                    " has no journal: it is not a run directory, its run was started with "
                    "--no-journal, or its start was cut short before the journal was written "
                    "(then start it again with --out " +
                    dir.path() + ")");
}

}  // namespace

std::string CreateRunDir(const std::string& out, const std::string& name,
                         const std::string& manifest_path) {
  std::error_code error;
  if (!out.empty()) {
    const fs::path dir = fs::absolute(out).lexically_normal();
    fs::create_directories(dir, error);
    if (error || !fs::is_directory(dir)) {
      throw RunDirError("cannot create output directory " + dir.string() + ": " +
                        (error ? error.message() : "a file is in the way"));
    }
    return WithoutTrailingSlash(dir.string());
  }
  const fs::path base = fs::absolute("jobrunner-out");
  fs::create_directories(base, error);
  const std::string stem = name.empty() ? DefaultName(manifest_path) : name;
  for (int n = 1;; ++n) {
    const fs::path dir = base / (n == 1 ? stem : stem + "-" + std::to_string(n));
    // create_directory is false, without an error, when something is there already.
    if (fs::create_directory(dir, error)) {
      LinkLatest(base, dir);
      return dir.string();
    }
    if (error) {
      throw RunDirError("cannot create output directory " + dir.string() + ": " + error.message());
    }
  }
}

bool HoldsRun(const std::string& path) {
  StatusOr<Dir> dir = Dir::Open(path);
  if (!dir.ok()) return false;
  for (const char* name : {kJournalFile, kResultsFile}) {
    StatusOr<Dir::Entry> entry = dir->Look(name);
    if (!entry.ok() || entry->kind != Dir::Kind::kMissing) return true;
  }
  return false;
}

std::string AttemptLogName(const std::string& task_id, int attempt, const char* stream) {
  return task_id + "." + std::to_string(attempt) + "." + stream;
}

std::string LogCopyName(const std::string& name, int copy) {
  return copy <= 1 ? name : name + "." + std::to_string(copy);
}

std::optional<AttemptLogFile> FindAttemptLog(const Dir& logs, const std::string& name) {
  std::optional<Dir::Entry> last;
  int copy = 1;
  for (; copy <= kMaxLogCopies; ++copy) {
    StatusOr<Dir::Entry> entry = logs.Look(LogCopyName(name, copy));
    if (!entry.ok() || entry->kind == Dir::Kind::kMissing) break;
    last = *entry;
  }
  if (!last || last->kind != Dir::Kind::kFile) return std::nullopt;
  return AttemptLogFile{LogCopyName(name, copy - 1), last->size};
}

std::string AttemptLogPath(const std::string& run_dir, const std::string& task_id, int attempt,
                           const char* stream) {
  return run_dir + "/" + kLogsDir + "/" + AttemptLogName(task_id, attempt, stream);
}

RunDir RunDir::ForNewRun(const std::string& path, const std::string& manifest_text) {
  Dir dir = OpenRunDir(path);
  UniqueFd lock = TakeLock(dir);
  TestCrashPoint("run-dir-locked");
  for (const char* name : {kJournalFile, kResultsFile}) {
    if (Look(dir, name).kind != Dir::Kind::kMissing) {
      throw RunDirError("output directory " + dir.path() + " already holds a run (" + name +
                        "); continue it with --resume " + dir.path() + ", or choose another --out");
    }
  }
  const Dir::Entry manifest = Look(dir, kManifestCopyFile);
  if (manifest.kind == Dir::Kind::kLink) {
    Fail("cannot use", dir.PathOf(kManifestCopyFile), Status::Error(Dir::kLinkRefused));
  }
  if (manifest.kind != Dir::Kind::kMissing &&
      ReadRunFile(dir, kManifestCopyFile) != std::optional<std::string>(manifest_text)) {
    throw RunDirError("output directory " + dir.path() + " holds a " + kManifestCopyFile +
                      " that is not this run's manifest; jobrunner does not overwrite it: "
                      "choose another --out");
  }
  CheckSubdirectories(dir);
  return RunDir(std::move(dir), std::move(lock));
}

RunDir RunDir::ForResume(const std::string& path) {
  Dir dir = OpenRunDir(path);
  // Looked at before the lock is taken too, so that a directory that holds no run is refused
  // without a .lock left in it (unless a run holds it: one still starting, say); and again once
  // it is held, which is the answer that counts.
  if (Look(dir, kJournalFile).kind == Dir::Kind::kMissing) {
    StatusOr<UniqueFd> lock = dir.OpenForRead(kLockFile);
    if (lock.ok() && !TryLockFile(lock->get()).ok()) InUse(dir);
    NoJournal(dir);
  }
  UniqueFd lock = TakeLock(dir);
  const Dir::Entry journal = Look(dir, kJournalFile);
  if (journal.kind == Dir::Kind::kMissing) NoJournal(dir);
  if (journal.kind == Dir::Kind::kLink) {
    Fail("cannot resume from", dir.PathOf(kJournalFile), Status::Error(Dir::kLinkRefused));
  }
  CheckSubdirectories(dir);
  return RunDir(std::move(dir), std::move(lock));
}

void WriteManifestCopy(const Dir& run_dir, const std::string& manifest_text) {
  if (ReadRunFile(run_dir, kManifestCopyFile) == manifest_text) return;
  const std::string path = run_dir.PathOf(kManifestCopyFile);
  StatusOr<UniqueFd> file = run_dir.CreateFile(kManifestCopyFile);
  if (!file.ok()) Fail("cannot create", path, file.status());
  if (Status written = WriteAll(file->get(), manifest_text); !written.ok()) {
    Fail("cannot write", path, written);
  }
}

std::optional<std::string> ReadRunFile(const Dir& dir, const std::string& name) {
  // A manifest, not a data set: a larger file is not what a run wrote.
  constexpr std::size_t kLimit = 256u << 20;
  StatusOr<UniqueFd> file = dir.OpenForRead(name);
  if (!file.ok()) return std::nullopt;
  StatusOr<std::string> text = ReadRest(file->get(), 0, kLimit);
  if (!text.ok()) return std::nullopt;
  return std::move(*text);
}

}  // namespace jobrunner
