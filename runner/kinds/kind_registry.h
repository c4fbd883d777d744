#pragma once

#include <jobrunner/task_kind.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace jobrunner {

// A plugin that cannot be loaded: missing file, not a jobrunner plugin, another API version, or
// a kind name it shares with a kind already known.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The task kinds a process knows by name: the built-in ones (jobs/) and those of the plugins it
// loaded. Every rank builds its own, from the same plugin list.
class KindRegistry {
 public:
  // The built-in kinds.
  KindRegistry();
  KindRegistry(KindRegistry&&) = default;
  KindRegistry& operator=(KindRegistry&&) = default;

  // Loads a plugin library (dlopen) and adds its kinds. Loading the same path twice is harmless.
  // Throws PluginError; on error, none of the plugin's kinds are added.
  void LoadPlugin(const std::string& path);

  // nullptr when unknown.
  const TaskKind* Find(const std::string& name) const;
  // Every kind, by name, with where it comes from ("built-in" or the plugin's path).
  std::vector<std::pair<const TaskKind*, std::string>> List() const;
  // "noop, sleep, ...": for messages about an unknown kind.
  std::string Names() const;
  const std::vector<std::string>& plugins() const { return plugins_; }

 private:
  struct Entry {
    std::unique_ptr<TaskKind> kind;
    std::string origin;
  };
  std::map<std::string, Entry> kinds_;
  std::vector<std::string> plugins_;  // paths loaded, in order
};

}  // namespace jobrunner
