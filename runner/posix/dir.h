#pragma once

// A directory held open by its fd, and the files in it reached relative to that fd without ever
// following a symbolic link: how jobrunner opens everything inside a run directory.
//
// A name is one path component (no '/'). Whatever sits at a name, a link (dangling or not), a
// fifo or a directory where a file is expected, is refused, never followed: a task or another
// user cannot make jobrunner create, truncate or overwrite a file elsewhere by planting a link in
// the run directory. The directory itself is reached by path once, when it is opened, so the run
// directory may be reached through links in its own path; and a Dir keeps working on the same
// directory if its name is later moved or replaced.
//
// Failures come back as a Status whose message is the reason in words ("File exists", "it is a
// symbolic link, and links inside the run directory are not followed") and whose code() is the
// errno; the caller names the file (PathOf) and says what it was doing.

#include <cstdint>
#include <string>

#include "base/status.h"
#include "posix/unique_fd.h"

namespace jobrunner {

class Dir {
 public:
  // Why a link was refused, in the words every refusal uses.
  static constexpr const char* kLinkRefused =
      "it is a symbolic link (jobrunner does not follow links inside a run directory)";

  // What is at a name, without following a link.
  enum class Kind { kMissing, kFile, kDirectory, kLink, kOther };
  struct Entry {
    Kind kind = Kind::kMissing;
    std::uint64_t size = 0;  // of a regular file
  };

  // The directory at `path`, links in `path` followed.
  static StatusOr<Dir> Open(const std::string& path);

  Dir(Dir&&) noexcept = default;
  Dir& operator=(Dir&&) noexcept = default;
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;

  // The path it was opened by (for a subdirectory, its parent's path and its name): for messages
  // and for the paths results.jsonl names.
  const std::string& path() const { return path_; }
  std::string PathOf(const std::string& name) const { return path_ + "/" + name; }
  int fd() const { return fd_.get(); }

  // The subdirectory `name`; with `create`, made first (mode 0777 less the umask) if missing.
  // A link at `name` is refused, even one to a directory.
  StatusOr<Dir> OpenSubdirectory(const std::string& name, bool create) const;

  // A new file (mode 0644 less the umask), open for writing, or for reading too with
  // `readable`: fails with EEXIST when anything is at `name`, even a dangling link.
  StatusOr<UniqueFd> CreateFile(const std::string& name, bool readable = false) const;
  // The regular file at `name`, created if missing, open for reading and writing (a lock file).
  StatusOr<UniqueFd> OpenOrCreateFile(const std::string& name) const;
  // The regular file at `name`, open for appending, and for reading it back.
  StatusOr<UniqueFd> OpenForAppend(const std::string& name) const;
  StatusOr<UniqueFd> OpenForRead(const std::string& name) const;

  // What is at `name`; an error only when that cannot be looked at (permissions, I/O).
  StatusOr<Entry> Look(const std::string& name) const;
  // Whether `name` can be created here (the directory is writable and searchable).
  Status CheckWritable() const;

  // Renames `from` to `to` within this directory, failing with EEXIST when `to` exists: what
  // makes a file that must be whole when it appears (the journal's header) appear at once.
  Status RenameNoReplace(const std::string& from, const std::string& to) const;
  // Renames `from` to `to`, replacing what is at `to` (a link there is replaced, not followed).
  Status Rename(const std::string& from, const std::string& to) const;
  // Removes the file or link `name` (never what a link points to). A missing name is not an error.
  Status Remove(const std::string& name) const;
  // Makes the directory's entries durable (fsync): a new name survives a crash only after this.
  Status Sync() const;

 private:
  Dir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
};

}  // namespace jobrunner
