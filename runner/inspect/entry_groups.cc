#include "inspect/entry_groups.h"

#include <fmt/format.h>

#include <algorithm>

#include "manifest/manifest.h"

namespace jobrunner {
namespace {

EntryGroups OneGroup() { return EntryGroups{{"all tasks"}, {0}}; }

// The entry's id as written: "sim-{n}".
std::string IdPattern(const TaskEntry& entry) {
  std::string id;
  for (const Template::Part& part : entry.id.parts()) {
    id += part.is_placeholder ? "{" + part.text + "}" : part.text;
  }
  return id;
}

}  // namespace

std::size_t EntryGroups::Of(std::uint64_t index) const {
  const auto after = std::upper_bound(first_index.begin(), first_index.end(), index);
  return after == first_index.begin() ? 0
                                      : static_cast<std::size_t>(after - first_index.begin() - 1);
}

EntryGroups ReadEntryGroups(const std::string& run_dir, std::uint64_t task_count) {
  Manifest manifest;
  try {
    const std::string path = run_dir + "/manifest.yaml";
    manifest = ParseManifest(ReadManifestFile(path), path);
  } catch (const std::exception&) {
    return OneGroup();  // a command list, or a manifest that reads only where it was written
  }
  EntryGroups groups;
  std::uint64_t next = 0;
  for (const TaskEntry& entry : manifest.entries) {
    if (entry.size() == 0) continue;
    groups.first_index.push_back(next);
    groups.labels.push_back(fmt::format("{} (line {}, {} task{})", IdPattern(entry), entry.pos.line,
                                        entry.size(), entry.size() == 1 ? "" : "s"));
    next += entry.size();
  }
  if (groups.labels.empty() || (task_count != 0 && next != task_count)) return OneGroup();
  return groups;
}

}  // namespace jobrunner
