#include "kind_binding.h"

#include <map>

namespace jobrunner {
namespace {

std::string Join(const std::set<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "none" : text;
}

// The kind's encoded arguments; throws KindArgError, including for arguments it never asked for.
std::string Encode(const TaskKind& kind,
                   const std::vector<std::pair<std::string, std::string>>& args) {
  KindArgs reader(std::map<std::string, std::string>(args.begin(), args.end()));
  std::string encoded = kind.EncodeArgs(reader);
  for (const std::string& name : reader.Unused()) {
    throw KindArgError(name, "unknown argument '" + name + "' for kind '" + kind.Name() +
                                 "'; it takes: " + Join(reader.Asked()));
  }
  return encoded;
}

}  // namespace

std::optional<std::string> EncodeKindArgs(const KindRegistry& kinds, TaskSpec& task) {
  const TaskKind* kind = kinds.Find(task.kind);
  if (kind == nullptr) return "unknown task kind '" + task.kind + "'";
  try {
    task.kind_args = Encode(*kind, task.args);
  } catch (const std::exception& e) {
    return std::string("bad arguments for kind '") + task.kind + "': " + e.what();
  }
  task.args.clear();
  return std::nullopt;
}

void CheckKinds(const TaskSource& source, const KindRegistry& kinds) {
  std::uint64_t first = 0;
  for (const TaskEntry& entry : source.manifest().entries) {
    const std::uint64_t index = first;
    first += entry.size();
    if (entry.kind.empty()) continue;
    const TaskKind* kind = kinds.Find(entry.kind);
    if (kind == nullptr) {
      throw ManifestError(entry.kind_pos, "unknown task kind '" + entry.kind +
                                              "'; expected one of: " + kinds.Names() +
                                              " (or one from a plugin: --plugin or plugins:)");
    }
    const TaskSpec task = source.Render(index, 1);
    try {
      Encode(*kind, task.args);
    } catch (const KindArgError& e) {
      SourcePos pos = entry.kind_pos;
      for (const KindArgument& arg : entry.args) {
        if (arg.name == e.argument()) pos = arg.pos;
      }
      throw ManifestError(
          pos, std::string(e.what()) + " (kind " + entry.kind + ", task " + task.id + ")");
    } catch (const std::exception& e) {
      throw ManifestError(
          entry.kind_pos,
          "kind '" + entry.kind + "' rejects the arguments of task " + task.id + ": " + e.what());
    }
  }
}

}  // namespace jobrunner
