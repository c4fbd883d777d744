#pragma once

// Pipes between this process and its children, and waiting on one.

#include <chrono>
#include <cstddef>

#include "base/status.h"
#include "posix/unique_fd.h"

namespace jobrunner {

// Both ends close-on-exec: a child gets its end as one of SpawnRequest::fds, a copy of its own.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

// `nonblocking_read`: a read of the read end returns at once when the pipe is empty, so that a
// loop over many pipes never waits on one. The write end stays blocking, as a child expects.
// A failure's message is the system's reason.
StatusOr<Pipe> MakePipe(bool nonblocking_read);

// Waits up to `timeout` until a read of `fd` would not block (data, end of file, or an error to
// report); false when the time ran out or a signal came first.
bool WaitReadable(int fd, std::chrono::milliseconds timeout);

// One read(2) of up to `size` bytes: how many came, 0 at end of file. Interrupted reads are
// retried. A failure's message is the system's reason.
StatusOr<std::size_t> ReadSome(int fd, char* data, std::size_t size);

}  // namespace jobrunner
