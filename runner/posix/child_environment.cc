#include "posix/child_environment.h"

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
  // The parent's entries are pointed at, not copied: only the task's own are built per task.
  merged_pointers_.clear();
  for (auto& entry : base_) {
    const bool replaced = std::any_of(overrides.begin(), overrides.end(),
                                      [&](const auto& var) { return HasKey(entry, var.first); });
    if (!replaced) merged_pointers_.push_back(entry.data());
  }
  merged_.resize(overrides.size());
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    merged_[i].assign(overrides[i].first).append(1, '=').append(overrides[i].second);
    merged_pointers_.push_back(merged_[i].data());
  }
  merged_pointers_.push_back(nullptr);
  return merged_pointers_.data();
}

}  // namespace jobrunner
