#pragma once

// The hosts `jobrunner launch` runs on: read from a hostfile or a --hosts list, and written back
// as the hostfile mpirun is given for each launch.

#include <string>
#include <vector>

namespace jobrunner {

struct Host {
  std::string name;
  int workers = 1;  // worker ranks on this host
};

// A parsed host list, or what is wrong with it (`error` non-empty, naming the line or entry).
struct HostListResult {
  std::vector<Host> hosts;
  std::string error;
};

// An Open MPI style hostfile: one host per line, `NAME [slots=N]`, where N is the host's worker
// ranks (default `default_workers`); `#` starts a comment, blank lines are skipped. `origin` names
// the file in messages. Duplicate names, other keywords and N outside 1..1024 are errors.
HostListResult ParseHostfile(const std::string& text, const std::string& origin,
                             int default_workers);

// A comma-separated list `NAME[:N],...` with the same meaning.
HostListResult ParseHostsOption(const std::string& list, int default_workers);

// The hostfile for mpirun: the first host gets one slot more than its workers, for rank 0 (the
// coordinator), which Open MPI places on the first slot of the first host.
std::string MpirunHostfile(const std::vector<Host>& hosts);

// Ranks of one launch: the coordinator plus every host's workers.
int TotalRanks(const std::vector<Host>& hosts);

// The host of `hosts` that mpirun means by `name`: the same name, or (Open MPI strips domains
// from host names unless told otherwise) the host whose name up to its first dot is `name`.
// Returns nullptr when there is none.
const Host* FindHost(const std::vector<Host>& hosts, const std::string& name);

}  // namespace jobrunner
