#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "posix/dir.h"
#include "posix/unique_fd.h"

namespace jobrunner {

// One stream of a child's output on its way into a file. The file is created on the first byte,
// so a silent child leaves no file: created new, in `dir`, never over an existing file and never
// through a link (O_EXCL), so that no attempt overwrites another's log or a file a link points
// to. At most `max_bytes` (0: no cap) reach the file; the rest is counted and dropped, because
// the reader must keep draining the pipe or the child would block. Finish closes the file and,
// if bytes were dropped, ends it with a marker line. The last kTailBytes of the stream are also
// kept in memory (past the cap too), so that why a task failed can be told without reading its
// file, which may be on another host.
class OutputCapture {
 public:
  static constexpr std::size_t kTailBytes = 512;

  OutputCapture() = default;  // discards everything, counts nothing
  // `name` in `dir`; `path` names it in messages.
  OutputCapture(std::shared_ptr<const Dir> dir, std::string name, std::string path,
                std::uint64_t max_bytes);
  // Writes into `file`, open already (`path` names it in messages): for tests, where /dev/full
  // stands for a full disk.
  static OutputCapture Adopt(UniqueFd file, std::string path, std::uint64_t max_bytes);

  void Append(const char* data, std::size_t size);
  void Finish();

  std::uint64_t bytes() const { return bytes_; }  // everything appended, written or not
  // The last kTailBytes appended (fewer when the stream was shorter), in order.
  std::string tail() const;
  bool truncated() const { return truncated_; }
  // Why the file could not be created or written ("cannot create output file PATH: ..."); once
  // set, further output is only counted.
  const std::string& error() const { return error_; }
  // Whether that error is a full disk or quota (ENOSPC, EDQUOT), which is the run's problem, not
  // the task's.
  bool disk_full() const { return disk_full_; }

 private:
  void Write(const char* data, std::size_t size);
  void KeepTail(const char* data, std::size_t size);

  std::shared_ptr<const Dir> dir_;
  std::string name_;
  std::string path_;
  std::uint64_t max_bytes_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t written_ = 0;  // bytes of output in the file, not counting the marker
  UniqueFd file_;
  bool truncated_ = false;
  std::string error_;
  bool disk_full_ = false;
  std::string tail_;  // a ring of up to kTailBytes; tail_start_ is its oldest byte
  std::size_t tail_start_ = 0;
};

// Added to the error about an output file that exists already: why it is not written.
std::string OutputFileExistsNote();

}  // namespace jobrunner
