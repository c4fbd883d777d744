// The parts of include/jobrunner/task_kind.h that are not templates: argument reading and JSON
// quoting. Plugins call them from the jobrunner binary, which exports its symbols.
#include <jobrunner/task_kind.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "manifest/units.h"

namespace jobrunner {

const std::string* KindArgs::Find(const std::string& name) const {
  asked_.insert(name);
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool KindArgs::Has(const std::string& name) const { return Find(name) != nullptr; }

std::string KindArgs::String(const std::string& name) const {
  const std::string* value = Find(name);
  if (value == nullptr) throw KindArgError(name, "missing argument '" + name + "'");
  return *value;
}

std::string KindArgs::String(const std::string& name, const std::string& fallback) const {
  const std::string* value = Find(name);
  return value == nullptr ? fallback : *value;
}

std::int64_t KindArgs::Integer(const std::string& name) const {
  const std::string text = String(name);
  std::int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw KindArgError(name, "argument '" + name + "' is '" + text + "'; expected an integer");
  }
  return number;
}

std::int64_t KindArgs::Integer(const std::string& name, std::int64_t fallback) const {
  return Has(name) ? Integer(name) : fallback;
}

bool KindArgs::Bool(const std::string& name, bool fallback) const {
  if (!Has(name)) return fallback;
  const std::string text = String(name);
  if (text == "true") return true;
  if (text == "false") return false;
  throw KindArgError(name, "argument '" + name + "' is '" + text + "'; expected true or false");
}

std::int64_t KindArgs::DurationMs(const std::string& name) const {
  const std::string text = String(name);
  if (std::optional<std::int64_t> ms = ParseDurationMs(text)) return *ms;
  if (std::optional<std::string> over = DurationOverLimit(text)) {
    throw KindArgError(name, "argument '" + name + "': " + *over);
  }
  throw KindArgError(name, "argument '" + name + "' is '" + text +
                               "'; expected a duration such as 500ms, 30s, 10m or 2h");
}

std::int64_t KindArgs::DurationMs(const std::string& name, std::int64_t fallback) const {
  return Has(name) ? DurationMs(name) : fallback;
}

std::vector<std::string> KindArgs::Unused() const {
  std::vector<std::string> unused;
  for (const auto& [name, value] : values_) {
    if (asked_.count(name) == 0) unused.push_back(name);
  }
  return unused;
}

std::string JsonQuote(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace jobrunner
