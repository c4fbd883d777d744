#pragma once

// Files through their fds: open, read, write, sync, truncate, lock. The rest of jobrunner reads
// and writes its own files (journal, results.jsonl, the run directory's lock) through these, so
// that system calls and their error numbers stay in posix/.
//
// A failure comes back as a Status whose message is the system's reason ("No space left on
// device") and whose code() is the errno: the caller says what it was doing, in its own words.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "posix/unique_fd.h"

namespace jobrunner {

// How OpenFile opens a file: open(2)'s flags by name, combined with |. kRead alone (or nothing)
// opens for reading, kWrite alone for writing, both for both. Every fd is close-on-exec.
enum class OpenFlags : unsigned {
  kRead = 1u << 0,
  kWrite = 1u << 1,
  kCreate = 1u << 2,     // create a missing file, with mode 0644 (less the umask)
  kExclusive = 1u << 3,  // with kCreate: fail when the file exists
  kTruncate = 1u << 4,
  kAppend = 1u << 5,     // every write goes to the end of the file
  kDirectory = 1u << 6,  // fail unless the path is a directory (opened to SyncFile it)
};
constexpr OpenFlags operator|(OpenFlags a, OpenFlags b) {
  return static_cast<OpenFlags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}

// The standard streams, for the few writes that go straight to them.
constexpr int kStandardError = 2;

StatusOr<UniqueFd> OpenFile(const std::string& path, OpenFlags flags);

// A stdio stream over `fd`, which then owns it (fclose closes it): for code that reads and
// writes through stdio, such as a command list. On failure `fd` is closed.
StatusOr<std::FILE*> OpenStream(UniqueFd fd, const char* mode);

// The size of the open file.
StatusOr<std::uint64_t> FileSize(int fd);
// The size of the file at `path` when it is a regular file (symlinks followed); nullopt when it
// is missing, not a regular file, or cannot be looked at.
std::optional<std::uint64_t> RegularFileSize(const std::string& path);

// The last `max_bytes` of the open file `fd` (all of it when shorter); nullopt when it cannot be
// read.
std::optional<std::string> ReadFileTail(int fd, std::size_t max_bytes);

// Reads up to `size` bytes at `offset` without moving the file position; fewer only at end of
// file (0 there). Interrupted reads are retried.
StatusOr<std::size_t> ReadAt(int fd, char* data, std::size_t size, std::uint64_t offset);
// Reads the open file from `offset` to its end, or up to `limit` bytes: fewer only at its end.
StatusOr<std::string> ReadRest(int fd, std::uint64_t offset, std::size_t limit);
// Calls `on_line` with each line of the open file, without its newline (and with a last line that
// has none), reading a chunk at a time from the start: a file of any size, in little memory.
Status ForEachLine(int fd, const std::function<void(std::string_view)>& on_line);
// Writes all of `data`, however many write(2) calls that takes; interrupted writes are retried.
Status WriteAll(int fd, std::string_view data);

// Waits until the file's data is on disk (fdatasync): what a crash must not lose.
Status SyncData(int fd);
// The same for all of the file's state (fsync): for a directory, the names in it.
Status SyncFile(int fd);
Status Truncate(int fd, std::uint64_t size);

// Takes an exclusive lock on the open file (flock), without waiting: an error when another open
// file description holds it. The lock goes with the last fd of this open file description.
Status TryLockFile(int fd);

// Creates a new directory `prefix` + six random characters, readable only by this user; returns
// its path.
StatusOr<std::string> MakeTempDirectory(const std::string& prefix);

// Whether `status` failed because a disk or a quota is full (ENOSPC, EDQUOT): a failure that
// freeing space and resuming repairs.
bool IsDiskFull(const Status& status);

}  // namespace jobrunner
