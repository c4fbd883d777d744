#pragma once

// Which hosts a launch lost: the pure half of `jobrunner launch`'s decision after mpirun ends
// early. Open MPI 4.1 ends the whole job when one host fails, so the launch has to find the host
// to leave out before it resumes on the others.

#include <optional>
#include <string>
#include <vector>

#include "launch/host_list.h"

namespace jobrunner {

// The host a line of mpirun's stderr blames, if it is one of Open MPI's failure reports:
//   "  Remote daemon: [[3363,0],3] on node node3"     (a daemon lost: host crash or dead link)
//   "... noticed that process rank 3 with PID 0 on node node3 exited on signal 9 (Killed)."
//   "  target node:  node3"                            (a daemon that cannot be reached)
std::optional<std::string> HostBlamedBy(const std::string& line);

// What is known about each host after a launch ended early.
struct HostEvidence {
  std::string host;
  bool answered = true;  // it answered the probe through the rsh agent in time
  bool blamed = false;   // mpirun named it in a failure report
};

struct LostHosts {
  std::vector<std::string> hosts;    // to leave out of the next launch, in host-list order
  std::vector<std::string> reasons;  // one line per host, for the log
};

// A host is lost when it does not answer, or when mpirun blamed it (its daemon or ranks died
// though the machine still answers: killed processes, an OOM kill, a link that came back).
// Hosts that answered and were not blamed are kept: mpirun ending early without blaming anyone
// (a drain, a usage error) is not a reason to shrink the run. Empty when nothing is lost.
LostHosts DecideLostHosts(const std::vector<HostEvidence>& evidence);

}  // namespace jobrunner
