#include "launch/host_list.h"

#include <cctype>
#include <set>
#include <sstream>

namespace jobrunner {
namespace {

constexpr int kMaxWorkersPerHost = 1024;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.front() == '-') return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// A positive count no larger than kMaxWorkersPerHost, or -1.
int ParseCount(const std::string& text) {
  if (text.empty() || text.size() > 4) return -1;
  int value = 0;
  for (unsigned char c : text) {
    if (!std::isdigit(c)) return -1;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= kMaxWorkersPerHost ? value : -1;
}

// Appends `name` with `workers`, or returns what is wrong with it.
std::string Add(HostListResult& result, std::set<std::string>& seen, const std::string& name,
                int workers) {
  if (!ValidName(name)) return "'" + name + "' is not a host name";
  if (!seen.insert(name).second) return "host " + name + " is listed twice";
  result.hosts.push_back({name, workers});
  return "";
}

std::string CountError(const std::string& text) {
  return "expected a worker count from 1 to " + std::to_string(kMaxWorkersPerHost) + ", got '" +
         text + "'";
}

}  // namespace

HostListResult ParseHostfile(const std::string& text, const std::string& origin,
                             int default_workers) {
  HostListResult result;
  std::set<std::string> seen;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    std::string where = origin + ":" + std::to_string(number) + ": ";
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string name;
    if (!(words >> name)) continue;
    int workers = default_workers;
    for (std::string word; words >> word;) {
      std::string::size_type eq = word.find('=');
      std::string key = word.substr(0, eq);
      if (eq == std::string::npos || (key != "slots" && key != "max_slots")) {
        result.error = where + "unknown '" + word + "'; expected NAME [slots=N]";
        return result;
      }
      if (key == "max_slots") continue;  // Open MPI's cap; the launch sets its own slots
      workers = ParseCount(word.substr(eq + 1));
      if (workers < 0) {
        result.error = where + "slots: " + CountError(word.substr(eq + 1));
        return result;
      }
    }
    if (std::string error = Add(result, seen, name, workers); !error.empty()) {
      result.error = where + error;
      return result;
    }
  }
  if (result.hosts.empty()) result.error = origin + ": names no host";
  return result;
}

HostListResult ParseHostsOption(const std::string& list, int default_workers) {
  HostListResult result;
  std::set<std::string> seen;
  std::string::size_type start = 0;
  while (true) {
    std::string::size_type comma = list.find(',', start);
    std::string entry = list.substr(start, comma == std::string::npos ? comma : comma - start);
    std::string::size_type colon = entry.find(':');
    std::string name = entry.substr(0, colon);
    int workers = default_workers;
    if (colon != std::string::npos) {
      workers = ParseCount(entry.substr(colon + 1));
      if (workers < 0) {
        result.error = "--hosts: " + name + ": " + CountError(entry.substr(colon + 1));
        return result;
      }
    }
    if (std::string error = Add(result, seen, name, workers); !error.empty()) {
      result.error = "--hosts: " + error;
      return result;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return result;
}

std::string MpirunHostfile(const std::vector<Host>& hosts) {
  std::string text;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    int slots = hosts[i].workers + (i == 0 ? 1 : 0);
    text += hosts[i].name + " slots=" + std::to_string(slots) + "\n";
  }
  return text;
}

int TotalRanks(const std::vector<Host>& hosts) {
  int total = 1;
  for (const Host& host : hosts) total += host.workers;
  return total;
}

const Host* FindHost(const std::vector<Host>& hosts, const std::string& name) {
  for (const Host& host : hosts) {
    if (host.name == name) return &host;
  }
  if (name.find('.') != std::string::npos) return nullptr;
  for (const Host& host : hosts) {
    if (host.name.substr(0, host.name.find('.')) == name) return &host;
  }
  return nullptr;
}

}  // namespace jobrunner
