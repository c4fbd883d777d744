#pragma once

// Whether another process holds a lock on a file, found out without taking the lock or changing
// anything about it: how `jobrunner status` tells a live run from one that was killed, while the
// run itself holds its directory's lock (an flock on <run_dir>/.lock).

#include <string>

#include "base/status.h"

namespace jobrunner {

// True when some process holds a lock on the file at `path`, as far as this host can tell:
// - an flock or fcntl lock taken on this host shows in /proc/locks, which names the file's device
//   and inode (read, never written);
// - a lock the file system keeps for all its clients (NFS, where Linux emulates flock with
//   byte-range locks) answers fcntl's F_OFD_GETLK, which asks without locking.
// A lock taken on another host of a file system that tells clients neither way (some cluster
// file systems keep flock local to each node) is not seen: false then means "not held here".
// An error when the file cannot be looked at (it is missing, say).
StatusOr<bool> IsFileLocked(const std::string& path);

}  // namespace jobrunner
