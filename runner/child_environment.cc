#include "child_environment.h"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace jobrunner {
namespace {

constexpr std::string_view kMpiPrefixes[] = {"OMPI_", "PMIX_", "OPAL_", "ORTE_"};

bool IsMpiVariable(std::string_view entry) {
  return std::any_of(std::begin(kMpiPrefixes), std::end(kMpiPrefixes),
                     [&](std::string_view prefix) { return entry.rfind(prefix, 0) == 0; });
}

bool HasKey(std::string_view entry, std::string_view key) {
  return entry.size() > key.size() && entry[key.size()] == '=' && entry.rfind(key, 0) == 0;
}

void PointAt(std::vector<std::string>& entries, std::vector<char*>& pointers) {
  pointers.clear();
  for (auto& entry : entries) pointers.push_back(entry.data());
  pointers.push_back(nullptr);
}

}  // namespace

ChildEnvironment::ChildEnvironment(char* const* parent) {
  for (; *parent != nullptr; ++parent) {
    if (!IsMpiVariable(*parent)) base_.emplace_back(*parent);
  }
  PointAt(base_, base_pointers_);
}

char* const* ChildEnvironment::With(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  if (overrides.empty()) return base_pointers_.data();
  merged_.clear();
  for (const auto& entry : base_) {
    const bool replaced = std::any_of(overrides.begin(), overrides.end(),
                                      [&](const auto& var) { return HasKey(entry, var.first); });
    if (!replaced) merged_.push_back(entry);
  }
  for (const auto& [key, value] : overrides) merged_.push_back(key + "=" + value);
  PointAt(merged_, merged_pointers_);
  return merged_pointers_.data();
}

}  // namespace jobrunner
