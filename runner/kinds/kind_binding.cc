#include "kinds/kind_binding.h"

#include <map>

#include "base/text.h"

namespace jobrunner {
namespace {

KindArgs Reader(const std::vector<std::pair<std::string, std::string>>& args) {
  return KindArgs(std::map<std::string, std::string>(args.begin(), args.end()));
}

// Throws KindArgError for an argument the kind never asked for: misspelt or misplaced.
void CheckNoneUnused(const TaskKind& kind, const KindArgs& reader) {
  for (const std::string& name : reader.Unused()) {
    throw KindArgError(
        name, "unknown argument '" + name + "' for kind '" + kind.Name() +
                  "'; it takes: " + (reader.Asked().empty() ? "none" : Join(reader.Asked(), ", ")));
  }
}

const KindArgument* FindArgument(const TaskEntry& entry, const std::string& name) {
  for (const KindArgument& arg : entry.args) {
    if (arg.name == name) return &arg;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> EncodeKindArgs(const KindRegistry& kinds, TaskSpec& task) {
  const TaskKind* kind = kinds.Find(task.kind);
  if (kind == nullptr) return "unknown task kind '" + task.kind + "'";
  try {
    KindArgs reader = Reader(task.args);
    task.kind_args = kind->EncodeArgs(reader);
    CheckNoneUnused(*kind, reader);
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
    // A Python function is checked by an interpreter (app/python_check.h).
    if (entry.kind.empty() || entry.kind == kPythonKind) continue;
    const TaskKind* kind = kinds.Find(entry.kind);
    if (kind == nullptr) {
      throw ManifestError(entry.kind_pos, "unknown task kind '" + entry.kind +
                                              "'; expected python or one of: " + kinds.Names() +
                                              " (or one from a plugin: --plugin or plugins:)");
    }
    const TaskSpec task = source.Render(index, 1);
    KindArgs reader = Reader(task.args);
    try {
      kind->EncodeArgs(reader);
    } catch (const KindArgError& e) {
      // A bad value is blamed on the value; a missing argument on the kind.
      const KindArgument* arg = FindArgument(entry, e.argument());
      throw ManifestError(
          arg != nullptr ? arg->pos : entry.kind_pos,
          std::string(e.what()) + " (kind " + entry.kind + ", task " + task.id + ")");
    } catch (const std::exception& e) {
      throw ManifestError(
          entry.kind_pos,
          "kind '" + entry.kind + "' rejects the arguments of task " + task.id + ": " + e.what());
    }
    try {
      CheckNoneUnused(*kind, reader);
    } catch (const KindArgError& e) {
      throw ManifestError(FindArgument(entry, e.argument())->name_pos, e.what());
    }
  }
}

}  // namespace jobrunner
