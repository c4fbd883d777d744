#include "posix/lock_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace jobrunner {
namespace {

// A line of /proc/locks: "1: FLOCK  ADVISORY  WRITE 12219 fe:00:10952790 0 EOF", where the
// device is major:minor in hex and the inode in decimal. Blocked requests ("1: -> FLOCK ...")
// name the same file as the lock they wait for.
bool ProcLocksName(dev_t device, ino_t inode) {
  std::ifstream locks("/proc/locks");
  char wanted[64];
  std::snprintf(wanted, sizeof wanted, "%02x:%02x:%" PRIuMAX, major(device), minor(device),
                static_cast<std::uintmax_t>(inode));
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      if (word == wanted) return true;
    }
  }
  return false;
}

// Asks the file system whether a write lock on the whole file would conflict with one held by
// another open file description; F_OFD_GETLK only reports, it never takes or waits.
bool ConflictingRangeLock(int fd) {
  struct flock query {};
  query.l_type = F_WRLCK;
  query.l_whence = SEEK_SET;
  query.l_start = 0;
  query.l_len = 0;  // to the end, however long
  return ::fcntl(fd, F_OFD_GETLK, &query) == 0 && query.l_type != F_UNLCK;
}

}  // namespace

StatusOr<bool> IsFileLocked(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) return Status::Error(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return Status::Error(path + ": " + std::strerror(error));
  }
  const bool held = ProcLocksName(st.st_dev, st.st_ino) || ConflictingRangeLock(fd);
  ::close(fd);
  return held;
}

}  // namespace jobrunner
