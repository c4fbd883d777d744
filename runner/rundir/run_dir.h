#pragma once

// The run directory: where it is, what is in it, and how a run takes hold of it.
//
// Everything inside it is reached through a Dir (posix/dir.h): a symbolic link inside the run
// directory (at results.jsonl, a log file, logs/ itself, ...) is refused with an error naming
// it, never followed. The run directory's own path may go through links.
//
// Whether a directory holds a run: it does when it has a `journal`, or a `results.jsonl` (a
// --no-journal run). A new run takes the lock first and only then looks, so two runs given the
// same --out cannot both believe it free. It then creates the journal (written under a temporary
// name with its header synced, then renamed: see JournalWriter::Create), manifest.yaml and
// results.jsonl, in that order. A start cut short at any point therefore leaves a directory that
// either holds no run (at most .lock, logs/, data/ and the journal's temporary file: a new run
// with the same --out takes it over) or that --resume continues (creating what is missing).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "posix/dir.h"
#include "posix/unique_fd.h"

namespace jobrunner {

// The link in jobrunner-out/ to the run created there last.
inline constexpr const char* kLatestRunLink = "latest";

inline constexpr char kJournalFile[] = "journal";
inline constexpr char kResultsFile[] = "results.jsonl";
inline constexpr char kManifestCopyFile[] = "manifest.yaml";
inline constexpr char kLockFile[] = ".lock";
inline constexpr char kLogsDir[] = "logs";
inline constexpr char kDataDir[] = "data";
inline constexpr char kGatheredDir[] = "gathered";

// The run directory cannot be made, taken or continued. Nothing has run: exit 2.
class RunDirError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Makes the directory for a new run (and its parents) and returns its absolute path. With `out`
// empty: jobrunner-out/<name>/, where <name> defaults to the manifest's file name without
// extension plus the start time, and gets a -2, -3, ... suffix if taken (making the directory
// claims the name, so two runs started in the same second get different ones). Whether `out`
// already holds a run is RunDir::ForNewRun's to say, under the lock. Throws RunDirError.
std::string CreateRunDir(const std::string& out, const std::string& name,
                         const std::string& manifest_path);

// Whether the directory at `path` holds a run (a journal or a results.jsonl; links inside it not
// followed). An early answer for a caller that starts no run itself (`jobrunner launch`): the one
// that counts is RunDir::ForNewRun's, given under the lock.
bool HoldsRun(const std::string& path);

// The file in logs/ an attempt's output stream goes to: <id>.<attempt>.<stream>, with stream
// "out", "err" or (an isolated kind's helper) "kind". Ids are file-name safe (manifest checks).
std::string AttemptLogName(const std::string& task_id, int attempt, const char* stream);
// The same file's path: <run_dir>/logs/<name>.
std::string AttemptLogPath(const std::string& run_dir, const std::string& task_id, int attempt,
                           const char* stream);
// When something is already at an attempt's log name (the journal lost records, or something
// else put a file or link there), its output goes to the first free of <name>.2, <name>.3, ...
// up to <name>.<kMaxLogCopies>: nothing is overwritten or written through, and the results line
// names the file written. No such name is any attempt's own log name (those end in the stream).
inline constexpr int kMaxLogCopies = 100;
// <name> for copy 1, <name>.<copy> for the others.
std::string LogCopyName(const std::string& name, int copy);
// The file in `logs` an attempt whose usual log name is `name` wrote: the last of the names in
// use, name, name.2, ... (the others were there before it), and its size; nullopt when there is
// none, or it is not a regular file.
struct AttemptLogFile {
  std::string name;
  std::uint64_t size = 0;
};
std::optional<AttemptLogFile> FindAttemptLog(const Dir& logs, const std::string& name);

// A run directory held by this process: open, and locked (an flock on its .lock file) for as
// long as this lives, so that no other jobrunner starts or resumes a run in it meanwhile.
class RunDir {
 public:
  // For a new run in the directory `path` (CreateRunDir's): takes the lock, then checks that the
  // directory holds no run, and no manifest.yaml but one holding `manifest_text` (--out given
  // the manifest's own directory). Throws RunDirError: in use, already a run, a link refused.
  static RunDir ForNewRun(const std::string& path, const std::string& manifest_text);
  // For --resume: takes the lock and checks that the directory has a journal. Throws RunDirError.
  static RunDir ForResume(const std::string& path);

  RunDir(RunDir&&) noexcept = default;
  RunDir& operator=(RunDir&&) noexcept = default;

  const std::string& path() const { return dir_.path(); }
  const Dir& dir() const { return dir_; }

 private:
  RunDir(Dir dir, UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}

  Dir dir_;
  UniqueFd lock_;  // the lock goes with it
};

// Writes manifest.yaml, the copy of the manifest a run started with, unless one holding the same
// text is there already. Throws RunDirError when it cannot, or when another file is in the way.
void WriteManifestCopy(const Dir& run_dir, const std::string& manifest_text);

// Reads a regular file of the run directory whole (manifest.yaml, for a resume to tell what
// changed); nullopt when it is missing or cannot be read.
std::optional<std::string> ReadRunFile(const Dir& dir, const std::string& name);

}  // namespace jobrunner
