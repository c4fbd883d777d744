#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jobrunner {

// What one task of a manifest entry asks for: `cores:`, `gpus:`, `memory:`, and the tags a
// worker must have (`tags:`, plus `node: HOST` as the tag "node:HOST").
//
// A worker's capacity in cores is its slots: a task asking `cores: 4` takes four of them, so a
// task without `cores:` takes one, as before. Memory is counted only for tasks that ask for some.
struct ResourceNeeds {
  int cores = 0;  // 0: not given; counts as 1, and the task's OMP_NUM_THREADS is left alone
  int gpus = 0;
  std::uint64_t memory = 0;       // bytes; 0: not counted
  std::vector<std::string> tags;  // every one must be among the worker's

  int Cores() const { return cores > 0 ? cores : 1; }
  // Takes one slot and nothing else, so it may wait in a worker's prefetch queue.
  bool Plain() const { return cores <= 1 && gpus == 0 && memory == 0; }
  // Asks for nothing at all: what every task of a manifest without resource fields asks.
  bool Default() const { return Plain() && tags.empty(); }
};

// What a worker rank offers, as the coordinator sees it after every Hello.
struct WorkerCapacity {
  int cores = 1;  // its slots
  int gpus = 0;
  std::uint64_t memory = 0;
  std::vector<std::string> tags;  // --worker-tags, and "node:" + its host name
};

// The tag by which `node: HOST` is matched.
std::string NodeTag(const std::string& host);

// The task could run on this worker once the worker is idle.
bool CouldHold(const WorkerCapacity& worker, const ResourceNeeds& needs);

// "4 cores, 1 GPU, 8G memory, tags a, node:n1"; "1 core" for a task that asks for nothing.
std::string DescribeNeeds(const ResourceNeeds& needs);
std::string DescribeCapacity(const WorkerCapacity& worker);

// When no worker could ever run the task: why, naming what it asks and the largest worker (most
// cores, then GPUs, then memory). nullopt when some worker could.
std::optional<std::string> WhyNoWorkerFits(const ResourceNeeds& needs,
                                           const std::vector<WorkerCapacity>& workers);

// The GPU ids a worker reported in its Hello.
struct GpuReport {
  std::string host;
  std::vector<std::string> visible;  // CUDA_VISIBLE_DEVICES of its node, as it sees it
  int per_worker = 0;                // --gpus-per-worker, 0 when not given
};

// The GPU ids each worker may hand to its tasks, in the order of `reports`. With
// --gpus-per-worker N, the workers of one host get distinct ids: 0..N-1, N..2N-1, ... Otherwise
// the workers of one host that see the same CUDA_VISIBLE_DEVICES share it out in contiguous
// parts (as they share the host's cores), so that no GPU is handed to two workers.
std::vector<std::vector<std::string>> GpusPerWorker(const std::vector<GpuReport>& reports);

// The ids of CUDA_VISIBLE_DEVICES ("0,1", "GPU-5f3e...,GPU-77a0..."): none for an empty value or
// Slurm's "NoDevFiles"; CUDA itself ignores everything from the first invalid id ("-1") on.
std::vector<std::string> ParseVisibleDevices(const std::string& value);

// "a,b" from --worker-tags: the tags, or nullopt after filling `error` when one is empty.
std::optional<std::vector<std::string>> ParseTagList(const std::string& text, std::string& error);

}  // namespace jobrunner
