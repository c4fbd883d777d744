#pragma once

// Simulated worker ranks for driving the real Coordinator without MPI and without processes, so
// that one process can show what a coordinator does with thousands of workers. The workers speak
// the real protocol (Hello, Welcome, TaskBatch, ResultBatch, Shutdown, serialized as over MPI;
// the simulation never drains) and keep a real worker's habits: `slots` tasks at once, the rest
// queued, results sent in batches of at most 512 once the queue runs dry or the oldest has waited 2
// ms. Their tasks take no CPU: each ends at a simulated time, so the coordinator is the only real
// cost.
//
// The workers run on a thread of their own (Run), as real workers run on other cores than rank
// 0's, or in the caller's thread, which then alternates Coordinator::Step and SimCluster::Step.
// Task times are real (steady clock) times, so a task that ended while the simulation was busy
// is reported with the time it ended, and the next queued task started then, as a worker
// running beside the coordinator would have done.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "transport/protocol.h"
#include "transport/transport.h"

namespace jobrunner::sim {

struct ClusterOptions {
  int workers = 1000;
  int workers_per_host = 64;  // hosts are named node-0, node-1, ...: results name each host
  // Mean simulated task duration; each task takes between 0.5 and 1.5 times it (fixed per task
  // index). 0: every task ends the moment it reaches its worker.
  double task_ms = 0;
  // Share of first attempts that fail (exit status 1), chosen by task index.
  double fail_fraction = 0;
  std::uint64_t stdout_bytes = 64;  // every attempt wrote this much to stdout (0: nothing)
};

struct ClusterStats {
  std::uint64_t task_batches = 0;    // TaskBatch messages received
  std::uint64_t tasks = 0;           // attempts received in them
  std::uint64_t result_batches = 0;  // ResultBatch messages sent
  std::uint64_t results = 0;         // attempts reported in them
  std::uint64_t results_taken = 0;   // results the coordinator has received
  std::uint64_t shutdowns = 0;
  // Attempts handed out whose results the coordinator has not yet received (queued or running
  // at a worker, or on their way back): what the coordinator holds as in flight.
  std::uint64_t peak_in_flight = 0;
  // Results sent and not yet taken by the coordinator (over MPI they would wait in rank 0's
  // memory too, as unexpected messages, when smaller than the eager limit).
  std::size_t peak_inbox_messages = 0;
  std::size_t peak_inbox_bytes = 0;
};

class SimCluster {
 public:
  explicit SimCluster(ClusterOptions options);
  ~SimCluster();
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  // The coordinator's end: rank 0 of a world of workers + 1 ranks. Every worker's Hello is
  // already waiting in it.
  Transport& coordinator_end();

  // Plays every worker's part up to now: takes what the coordinator sent, ends the tasks whose
  // time has come (starting queued ones in their slots), and sends the results that are due.
  void Step();

  // Steady-clock milliseconds until something is due in the workers (a task end or a result
  // batch); nullopt when nothing is pending there.
  std::optional<double> NextDueInMs() const;

  // Plays the workers' part on the calling thread until `stop` is set: Step, then sleep until
  // something is due or the coordinator sends something. Delivers what was sent last (the
  // Shutdowns) before it returns.
  void Run(const std::atomic<bool>& stop);
  // Wakes Run's sleep (after `stop` is set).
  void WakeUp();

  const ClusterStats& stats() const { return stats_; }
  bool AllShutDown() const { return stats_.shutdowns == static_cast<std::uint64_t>(workers_); }

 private:
  struct Queued {
    std::uint64_t index = 0;
    int attempt = 1;
    std::string id;
    std::string command;  // as a real worker reports it with the result
  };
  struct Ending {
    double end_ms = 0;
    double start_ms = 0;
    int worker = 0;
    std::uint64_t index = 0;
    int attempt = 1;
    std::string id;
    std::string command;
    bool operator>(const Ending& other) const { return end_ms > other.end_ms; }
  };
  struct Worker {
    int slots = 0;  // 0 until the Welcome
    int running = 0;
    std::deque<Queued> queue;
    std::vector<Ending> unsent;   // compact; made into AttemptResults when sent
    std::vector<Ending> started;  // since the last batch; those still running then go with it
    double oldest_unsent_ms = 0;
    bool listed = false;  // in results_due_
  };
  class Endpoint;

  void Deliver(const Envelope& message, double now_ms);
  void Start(int worker, Queued task, double start_ms);
  void End(Ending task);
  AttemptResult ResultOf(const Ending& task) const;
  void EndTasksUntil(double now_ms);
  void SendDueResults(double now_ms, bool force);
  double DurationMs(std::uint64_t index) const;
  bool Fails(std::uint64_t index) const;

  ClusterOptions options_;
  int workers_;
  std::string run_dir_;
  double unix_offset_ms_ = 0;  // steady ms + this = unix ms
  std::vector<Worker> state_;  // by rank; [0] unused
  std::priority_queue<Ending, std::vector<Ending>, std::greater<Ending>> ending_;
  std::vector<int> results_due_;  // workers with unsent results
  std::unique_ptr<Endpoint> endpoint_;
  std::vector<Envelope> delivering_;  // the messages a Step takes from the coordinator
  ClusterStats stats_;
};

}  // namespace jobrunner::sim
