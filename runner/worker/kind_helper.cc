#include "worker/kind_helper.h"

#include <jobrunner/task_kind.h>

#include <cstdio>

#include "base/exit_status.h"
#include "base/text.h"
#include "kinds/kind_context.h"
#include "kinds/kind_registry.h"
#include "posix/file.h"

namespace jobrunner {
namespace {

std::string ToHex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return hex;
}

std::optional<std::string> FromHex(const std::string& hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]), low = digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high * 16 + low);
  }
  return bytes;
}

// Written whole under a temporary name and renamed, so that the worker never reads half of it;
// both names in the run directory's logs/, neither reached through a link nor overwritten.
bool WriteOutput(const KindHelperOutput& output, const std::string& path) {
  StatusOr<Dir> dir = Dir::Open(DirectoryOf(path));
  if (!dir.ok()) return false;
  const std::string name = BaseNameOf(path);
  const std::string temp = name + ".partial";
  StatusOr<UniqueFd> file = dir->CreateFile(temp);
  if (!file.ok()) return false;
  if (!WriteAll(file->get(), EncodeValue(output)).ok() || !dir->RenameNoReplace(temp, name).ok()) {
    (void)dir->Remove(temp);
    return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> KindHelperArgv(const KindInvocation& invocation,
                                        const std::string& output_path) {
  return {"/proc/self/exe", "--run-kind", ToHex(EncodeValue(invocation)), output_path};
}

int RunKindHelper(const std::string& encoded_invocation, const std::string& output_path) {
  KindHelperOutput output;
  try {
    std::optional<std::string> bytes = FromHex(encoded_invocation);
    if (!bytes) throw std::runtime_error("--run-kind: the invocation is not hex");
    const KindInvocation invocation = DecodeValue<KindInvocation>(*bytes);
    KindRegistry kinds;
    for (const std::string& plugin : invocation.plugins) kinds.LoadPlugin(plugin);
    const TaskKind* kind = kinds.Find(invocation.kind);
    if (kind == nullptr) throw std::runtime_error("unknown task kind '" + invocation.kind + "'");
    // A timeout reaches the helper as SIGTERM, which ends it: it is never asked to stop.
    KindContext context(invocation.task_id, invocation.attempt, invocation.cwd, invocation.data_dir,
                        nullptr, output.data_path);
    output.result = kind->Run(invocation.args, context);
    output.ok = true;
  } catch (const DiskFullError& e) {
    output.error = e.what();
    output.disk_full = true;
    std::fprintf(stderr, "jobrunner: %s\n", e.what());
  } catch (const std::exception& e) {
    output.error = e.what();
    std::fprintf(stderr, "jobrunner: %s\n", e.what());
  }
  if (!WriteOutput(output, output_path)) {
    std::fprintf(stderr, "jobrunner: cannot write %s\n", output_path.c_str());
    return kExitTasksFailed;
  }
  return output.ok ? kExitSucceeded : kExitTasksFailed;
}

std::optional<KindHelperOutput> TakeKindHelperOutput(const Dir& dir, const std::string& name) {
  // An outcome, not a data set: anything larger is not what a helper wrote.
  constexpr std::size_t kLimit = 64u << 20;
  StatusOr<UniqueFd> file = dir.OpenForRead(name);
  (void)dir.Remove(name);
  if (!file.ok()) return std::nullopt;
  StatusOr<std::string> bytes = ReadRest(file->get(), 0, kLimit);
  if (!bytes.ok()) return std::nullopt;
  try {
    return DecodeValue<KindHelperOutput>(*bytes);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace jobrunner
