#include "kinds/kind_registry.h"

#include <filesystem>

#include "manifest/manifest.h"
#include "posix/shared_library.h"

namespace jobrunner {
namespace {

using MakeKind = std::unique_ptr<TaskKind> (*)();

std::vector<MakeKind>& Builtins() {
  static std::vector<MakeKind> builtins;
  return builtins;
}

// Collects a plugin's kinds, so that none is added unless all are acceptable.
class Collector final : public KindRegistrar {
 public:
  void Add(std::unique_ptr<TaskKind> kind) override {
    if (kind) kinds.push_back(std::move(kind));
  }
  std::vector<std::unique_ptr<TaskKind>> kinds;
};

}  // namespace

namespace detail {
void AddBuiltinKind(MakeKind make) { Builtins().push_back(make); }
}  // namespace detail

KindRegistry::KindRegistry() {
  for (MakeKind make : Builtins()) {
    std::unique_ptr<TaskKind> kind = make();
    std::string name = kind->Name();
    kinds_[name] = Entry{std::move(kind), "built-in"};
  }
}

void KindRegistry::LoadPlugin(const std::string& path) {
  std::error_code error;
  std::string absolute = std::filesystem::weakly_canonical(path, error).string();
  if (error || absolute.empty()) absolute = path;
  for (const std::string& loaded : plugins_) {
    if (loaded == absolute) return;
  }
  const std::string where = "plugin " + path + ": ";
  if (!std::filesystem::exists(absolute, error)) throw PluginError(where + "no such file");
  StatusOr<SharedLibrary> library = SharedLibrary::Load(absolute);
  if (!library.ok()) throw PluginError(where + "cannot load: " + library.status().message());
  auto api = library->Function<int (*)()>("jobrunner_task_kind_api");
  auto add = library->Function<void (*)(KindRegistrar&)>("jobrunner_register_kinds");
  if (api == nullptr || add == nullptr) {
    throw PluginError(where +
                      "not a jobrunner plugin (no jobrunner_task_kind_api or "
                      "jobrunner_register_kinds; define them with JOBRUNNER_PLUGIN)");
  }
  if (const int version = api(); version != kTaskKindApi) {
    throw PluginError(where + "built for task kind API " + std::to_string(version) +
                      ", this jobrunner has API " + std::to_string(kTaskKindApi) +
                      ": rebuild it against this jobrunner's jobrunner/task_kind.h");
  }
  // From here on the library stays loaded for the life of the process: the kinds it adds, even
  // those refused below, have their code in it.
  library->Keep();
  Collector collector;
  add(collector);
  std::map<std::string, std::string> seen;
  for (const auto& kind : collector.kinds) {
    const std::string name = kind->Name();
    if (name.empty()) throw PluginError(where + "a kind has an empty name");
    if (!seen.emplace(name, path).second) {
      throw PluginError(where + "exposes kind '" + name + "' twice");
    }
    if (name == kPythonKind) {
      throw PluginError(where + "kind 'python' is already defined (built-in: Python functions)");
    }
    if (auto it = kinds_.find(name); it != kinds_.end()) {
      throw PluginError(where + "kind '" + name + "' is already defined (" + it->second.origin +
                        ")");
    }
  }
  if (collector.kinds.empty()) throw PluginError(where + "adds no task kinds");
  for (auto& kind : collector.kinds) {
    std::string name = kind->Name();
    kinds_[name] = Entry{std::move(kind), path};
  }
  plugins_.push_back(absolute);
}

const TaskKind* KindRegistry::Find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.kind.get();
}

std::vector<std::pair<const TaskKind*, std::string>> KindRegistry::List() const {
  std::vector<std::pair<const TaskKind*, std::string>> list;
  for (const auto& [name, entry] : kinds_) list.emplace_back(entry.kind.get(), entry.origin);
  return list;
}

std::string KindRegistry::Names() const {
  std::string names;
  for (const auto& [name, entry] : kinds_) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace jobrunner
