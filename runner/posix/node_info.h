#pragma once

#include <cstdint>
#include <string>

namespace jobrunner {

// The host name as the results report it.
std::string HostName();

// CPUs this process's tasks may use: the node's CPU set as the batch system (cgroup cpuset)
// allows it, not the single core Open MPI may have bound this rank to.
int UsableCores();

// Memory this process's tasks may use, in bytes: the node's MemTotal, or the limit of its cgroup
// (v2 memory.max, v1 memory.limit_in_bytes) when that is lower. 0 when neither can be read.
std::uint64_t UsableMemory();

// Open MPI binds each rank to a core or socket by default, and children inherit the binding, so
// every task of a worker would share one core. Widens this process's CPU affinity back to the
// cgroup's CPU set so that children spread over the node; the worker itself mostly sleeps.
void ReleaseCpuBinding();

}  // namespace jobrunner
