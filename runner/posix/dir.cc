#include "posix/dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace jobrunner {
namespace {

Status SystemError(int error) { return Status::Error(std::strerror(error), error); }

// Names are single components, so that O_NOFOLLOW guards the whole way from the directory's fd
// to the file.
Status CheckName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Status::Error("'" + name + "' is not a file name", EINVAL);
  }
  return Status::Ok();
}

Status NotRegular() { return Status::Error("it is not a regular file", EINVAL); }

}  // namespace

StatusOr<Dir> Dir::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SystemError(errno);
  std::string clean = path;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  return Dir(UniqueFd(fd), std::move(clean));
}

StatusOr<Dir::Entry> Dir::Look(const std::string& name) const {
  if (Status bad = CheckName(name); !bad.ok()) return bad;
  struct stat st {};
  if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Entry{};
    return SystemError(errno);
  }
  Entry entry;
  if (S_ISLNK(st.st_mode)) {
    entry.kind = Kind::kLink;
  } else if (S_ISREG(st.st_mode)) {
    entry.kind = Kind::kFile;
    entry.size = static_cast<std::uint64_t>(st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    entry.kind = Kind::kDirectory;
  } else {
    entry.kind = Kind::kOther;
  }
  return entry;
}

namespace {

// Why opening `name` failed with `error`: a refused link said as such, whichever errno the
// kernel chose for it (ELOOP for O_NOFOLLOW, EEXIST for O_EXCL, ENOTDIR for O_DIRECTORY).
Status OpenError(const Dir& dir, const std::string& name, int error) {
  if (error == ELOOP || error == EEXIST || error == ENOTDIR) {
    StatusOr<Dir::Entry> entry = dir.Look(name);
    if (entry.ok() && entry->kind == Dir::Kind::kLink)
      return Status::Error(Dir::kLinkRefused, error);
  }
  return SystemError(error);
}

}  // namespace

StatusOr<Dir> Dir::OpenSubdirectory(const std::string& name, bool create) const {
  if (Status bad = CheckName(name); !bad.ok()) return bad;
  if (create && ::mkdirat(fd_.get(), name.c_str(), 0777) != 0 && errno != EEXIST) {
    return SystemError(errno);
  }
  const int fd = ::openat(fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return OpenError(*this, name, errno);
  return Dir(UniqueFd(fd), PathOf(name));
}

StatusOr<UniqueFd> Dir::CreateFile(const std::string& name, bool readable) const {
  if (Status bad = CheckName(name); !bad.ok()) return bad;
  const int mode = readable ? O_RDWR : O_WRONLY;
  const int fd =
      ::openat(fd_.get(), name.c_str(), mode | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return OpenError(*this, name, errno);
  return UniqueFd(fd);
}

namespace {

// Opens an existing (or, with O_CREAT, new) regular file. O_NONBLOCK keeps a fifo planted at
// `name` from blocking the open; it changes nothing for a regular file, the only kind accepted.
StatusOr<UniqueFd> OpenRegular(const Dir& dir, const std::string& name, int flags) {
  if (Status bad = CheckName(name); !bad.ok()) return bad;
  const int fd =
      ::openat(dir.fd(), name.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) return OpenError(dir, name, errno);
  UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return SystemError(errno);
  if (!S_ISREG(st.st_mode)) return NotRegular();
  return file;
}

}  // namespace

StatusOr<UniqueFd> Dir::OpenOrCreateFile(const std::string& name) const {
  return OpenRegular(*this, name, O_RDWR | O_CREAT);
}

StatusOr<UniqueFd> Dir::OpenForAppend(const std::string& name) const {
  return OpenRegular(*this, name, O_RDWR | O_APPEND);
}

StatusOr<UniqueFd> Dir::OpenForRead(const std::string& name) const {
  return OpenRegular(*this, name, O_RDONLY);
}

Status Dir::CheckWritable() const {
  return ::faccessat(fd_.get(), ".", W_OK | X_OK, 0) == 0 ? Status::Ok() : SystemError(errno);
}

Status Dir::RenameNoReplace(const std::string& from, const std::string& to) const {
  if (Status bad = CheckName(from); !bad.ok()) return bad;
  if (Status bad = CheckName(to); !bad.ok()) return bad;
  if (::renameat2(fd_.get(), from.c_str(), fd_.get(), to.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  if (errno != EINVAL && errno != ENOSYS) return OpenError(*this, to, errno);
  // A file system without RENAME_NOREPLACE (NFS): a hard link fails just the same when `to`
  // exists, and the old name then goes.
  if (::linkat(fd_.get(), from.c_str(), fd_.get(), to.c_str(), 0) != 0) {
    return OpenError(*this, to, errno);
  }
  return Remove(from);
}

Status Dir::Rename(const std::string& from, const std::string& to) const {
  if (Status bad = CheckName(from); !bad.ok()) return bad;
  if (Status bad = CheckName(to); !bad.ok()) return bad;
  return ::renameat(fd_.get(), from.c_str(), fd_.get(), to.c_str()) == 0 ? Status::Ok()
                                                                         : SystemError(errno);
}

Status Dir::Remove(const std::string& name) const {
  if (Status bad = CheckName(name); !bad.ok()) return bad;
  if (::unlinkat(fd_.get(), name.c_str(), 0) == 0 || errno == ENOENT) return Status::Ok();
  return SystemError(errno);
}

Status Dir::Sync() const { return ::fsync(fd_.get()) == 0 ? Status::Ok() : SystemError(errno); }

}  // namespace jobrunner
