#include "launch/lost_host.h"

#include <regex>

namespace jobrunner {

std::optional<std::string> HostBlamedBy(const std::string& line) {
  // Open MPI's help texts (help-errmgr-base.txt, help-orterun.txt), as 4.1 prints them.
  static const std::regex kPatterns[] = {
      std::regex(R"(Remote daemon:\s*\S+ on node (\S+))"),
      std::regex(R"(noticed that process rank \d+ with PID \d+ on node (\S+) exited)"),
      std::regex(R"(target node:\s*(\S+))"),
  };
  std::smatch match;
  for (const std::regex& pattern : kPatterns) {
    if (std::regex_search(line, match, pattern)) return match[1].str();
  }
  return std::nullopt;
}

LostHosts DecideLostHosts(const std::vector<HostEvidence>& evidence) {
  LostHosts lost;
  for (const HostEvidence& host : evidence) {
    if (host.answered && !host.blamed) continue;
    lost.hosts.push_back(host.host);
    std::string why;
    if (!host.answered) why = "does not answer through the rsh agent";
    if (host.blamed) {
      why +=
          (why.empty() ? "" : ", and ") + std::string("mpirun reported its daemon or ranks lost");
    }
    lost.reasons.push_back(host.host + ": " + why);
  }
  return lost;
}

}  // namespace jobrunner
