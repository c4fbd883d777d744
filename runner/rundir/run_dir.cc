#include "rundir/run_dir.h"

#include <ctime>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <system_error>

#include "posix/file.h"

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

void Create(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir / "logs", error);
  if (error) {
    throw std::runtime_error("cannot create output directory " + dir.string() + ": " +
                             error.message());
  }
}

}  // namespace

std::string CreateRunDir(const std::string& out, const std::string& name,
                         const std::string& manifest_path) {
  fs::path dir;
  if (!out.empty()) {
    dir = fs::absolute(out).lexically_normal();
    if (fs::exists(dir / "results.jsonl")) {
      throw std::runtime_error("output directory " + dir.string() +
                               " already holds a run (results.jsonl); choose another --out");
    }
    Create(dir);
  } else {
    fs::path base = fs::absolute("jobrunner-out");
    std::string stem = name.empty() ? DefaultName(manifest_path) : name;
    dir = base / stem;
    for (int n = 2; fs::exists(dir); ++n) dir = base / (stem + "-" + std::to_string(n));
    Create(dir);
    LinkLatest(base, dir);
  }
  std::string text = dir.string();
  if (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

std::string AttemptLogPath(const std::string& run_dir, const std::string& task_id, int attempt,
                           const char* stream) {
  return run_dir + "/logs/" + task_id + "." + std::to_string(attempt) + "." + stream;
}

RunDirLock::RunDirLock(const std::string& run_dir) {
  std::string path = run_dir + "/.lock";
  StatusOr<UniqueFd> file =
      OpenFile(path, OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kCreate);
  if (!file.ok())
    throw std::runtime_error("cannot create " + path + ": " + file.status().message());
  if (!TryLockFile(file->get()).ok()) {
    throw std::runtime_error("run directory " + run_dir +
                             " is in use by another jobrunner; wait for that run to end");
  }
  file_ = std::move(*file);
}

}  // namespace jobrunner
