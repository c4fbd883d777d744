#include "schedule/resources.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include "base/text.h"

namespace jobrunner {
namespace {

std::string Plural(long long n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "8G", "1.5G", "512M": one decimal, in the largest unit that keeps the number at least 1.
std::string FormatBytes(std::uint64_t bytes) {
  static const char* const kUnits[] = {"", "K", "M", "G", "T"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  if (value == static_cast<double>(static_cast<std::uint64_t>(value))) {
    std::snprintf(buffer, sizeof buffer, "%llu%s", static_cast<unsigned long long>(value),
                  kUnits[unit]);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f%s", value, kUnits[unit]);
  }
  return buffer;
}

bool HasTags(const WorkerCapacity& worker, const std::vector<std::string>& tags) {
  return std::all_of(tags.begin(), tags.end(), [&](const std::string& tag) {
    return std::find(worker.tags.begin(), worker.tags.end(), tag) != worker.tags.end();
  });
}

std::string Trim(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) parts.push_back(Trim(part));
  if (!text.empty() && text.back() == ',') parts.push_back("");
  return parts;
}

}  // namespace

std::string NodeTag(const std::string& host) { return "node:" + host; }

bool CouldHold(const WorkerCapacity& worker, const ResourceNeeds& needs) {
  return needs.Cores() <= worker.cores && needs.gpus <= worker.gpus &&
         needs.memory <= worker.memory && HasTags(worker, needs.tags);
}

std::string DescribeNeeds(const ResourceNeeds& needs) {
  std::string out = Plural(needs.Cores(), "core", "cores");
  if (needs.gpus > 0) out += ", " + Plural(needs.gpus, "GPU", "GPUs");
  if (needs.memory > 0) out += ", " + FormatBytes(needs.memory) + " memory";
  if (!needs.tags.empty()) out += ", tags " + Join(needs.tags, ", ");
  return out;
}

std::string DescribeCapacity(const WorkerCapacity& worker) {
  return Plural(worker.cores, "core (slot)", "cores (slots)") + ", " +
         Plural(worker.gpus, "GPU", "GPUs") + ", " + FormatBytes(worker.memory) + " memory" +
         (worker.tags.empty() ? "" : ", tags " + Join(worker.tags, ", "));
}

std::optional<std::string> WhyNoWorkerFits(const ResourceNeeds& needs,
                                           const std::vector<WorkerCapacity>& workers) {
  if (workers.empty()) return std::nullopt;  // nothing to judge by
  for (const WorkerCapacity& w : workers) {
    if (CouldHold(w, needs)) return std::nullopt;
  }
  const auto size = [](const WorkerCapacity& w) { return std::tie(w.cores, w.gpus, w.memory); };
  const WorkerCapacity& largest = *std::max_element(
      workers.begin(), workers.end(),
      [&](const WorkerCapacity& a, const WorkerCapacity& b) { return size(a) < size(b); });
  std::string why = "it asks for " + DescribeNeeds(needs) + ", which no worker has";
  std::vector<std::string> unknown;  // tags no worker has at all
  for (const std::string& tag : needs.tags) {
    const bool anywhere = std::any_of(workers.begin(), workers.end(),
                                      [&](const WorkerCapacity& w) { return HasTags(w, {tag}); });
    if (!anywhere) unknown.push_back(tag);
  }
  if (!unknown.empty()) {
    why += " (no worker has " + std::string(unknown.size() == 1 ? "tag " : "tags ") +
           Join(unknown, ", ") + "; see --worker-tags)";
  } else if (needs.gpus > 0 && std::none_of(workers.begin(), workers.end(),
                                            [](const WorkerCapacity& w) { return w.gpus > 0; })) {
    why += " (no worker has GPUs: see --gpus-per-worker)";
  }
  return why + "; the largest worker has " + DescribeCapacity(largest);
}

std::vector<std::vector<std::string>> GpusPerWorker(const std::vector<GpuReport>& reports) {
  std::vector<std::vector<std::string>> out(reports.size());
  std::map<std::string, int> next_id;  // per host, with --gpus-per-worker
  // Per host and list: the workers that see it, in order.
  std::map<std::pair<std::string, std::vector<std::string>>, std::vector<std::size_t>> sharers;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const GpuReport& r = reports[i];
    if (r.per_worker > 0) {
      int& next = next_id[r.host];
      for (int g = 0; g < r.per_worker; ++g) out[i].push_back(std::to_string(next++));
    } else if (!r.visible.empty()) {
      sharers[{r.host, r.visible}].push_back(i);
    }
  }
  for (const auto& [key, workers] : sharers) {
    const std::vector<std::string>& ids = key.second;
    const std::size_t n = workers.size();
    for (std::size_t k = 0; k < n; ++k) {
      // Part k of n: sizes differ by at most one, and a worker may get none.
      const std::size_t begin = ids.size() * k / n, end = ids.size() * (k + 1) / n;
      out[workers[k]].assign(ids.begin() + begin, ids.begin() + end);
    }
  }
  return out;
}

std::vector<std::string> ParseVisibleDevices(const std::string& value) {
  std::vector<std::string> ids;
  if (Trim(value) == "NoDevFiles") return ids;
  for (const std::string& id : SplitCommas(value)) {
    if (id.empty() || id[0] == '-') break;
    ids.push_back(id);
  }
  return ids;
}

std::optional<std::vector<std::string>> ParseTagList(const std::string& text, std::string& error) {
  std::vector<std::string> tags = SplitCommas(text);
  for (const std::string& tag : tags) {
    if (tag.empty()) {
      error = "empty tag in '" + text + "'; expected tags separated by commas, like gpu,fast";
      return std::nullopt;
    }
  }
  return tags;
}

}  // namespace jobrunner
