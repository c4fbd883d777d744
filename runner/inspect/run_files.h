#pragma once

// Finding a run directory and reading what its run leaves there, for the commands that look at a
// run (`jobrunner status`, `logs`, `failed`, `report`): none of them takes the run's lock or
// writes into the directory.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "inspect/run_history.h"
#include "journal/journal.h"

namespace jobrunner {

// `given` made absolute; when empty, the run jobrunner-out/latest points at, or else the newest
// directory under jobrunner-out/ (in the working directory) that holds a journal or
// results.jsonl. An error when there is no such run.
StatusOr<std::string> FindRunDir(const std::string& given);

// Whether the run in `run_dir` is still going.
enum class Liveness {
  kLive,     // its lock is held: a jobrunner runs it now
  kEnded,    // its last run recorded its end (RunEnded)
  kStopped,  // neither: killed or crashed (resumable), or running on a host whose lock is not
             // visible from here (see posix/lock_probe.h)
};
std::string_view LivenessName(Liveness liveness);  // "live", "ended", "stopped"
// `locked` is RunIsLive() asked BEFORE the journal was read: asked after, a run that ends in
// between would be read as not ended and found unlocked, and so called stopped.
Liveness LivenessOf(bool locked, const RunHistory& history);
// Whether a jobrunner holds the run's lock (kLive), without reading its journal.
bool RunIsLive(const std::string& run_dir);

// The run's journal replayed, and what the journal says of itself. A torn last record is
// normal while a run writes, and is left out without a word. Throws JournalError when there is
// no journal or it is damaged.
struct JournalReplay {
  JournalInfo info;
  RunHistory history{0};
};
JournalReplay ReplayJournal(const std::string& run_dir);

// The last `count` lines of the file at `path` (from its last 64 KiB at most); empty when it is
// missing. A trailing newline ends the last line rather than starting an empty one.
std::vector<std::string> LastLines(const std::string& path, std::size_t count);

// `text` with control characters (tabs, newlines, escapes) shown as spaces: safe for one line of
// a terminal or of tab-separated output.
std::string OneLine(std::string_view text);

}  // namespace jobrunner
