#include "coordinator/node_commands.h"

#include <utility>

namespace jobrunner {

NodeCommands::NodeCommands(std::optional<TaskSpec> setup, std::optional<TaskSpec> teardown,
                           std::uint32_t run_number)
    : setup_(std::move(setup)), teardown_(std::move(teardown)), run_number_(run_number) {}

bool NodeCommands::AddToWelcome(const std::string& host, Welcome& welcome) {
  const bool first = node_ranks_.emplace(host, static_cast<int>(node_ranks_.size())).second;
  if (!first) return false;
  if (setup_) welcome.node_setup = {For(/*setup=*/true, host)};
  if (teardown_) welcome.node_teardown = {For(/*setup=*/false, host)};
  return true;
}

TaskSpec NodeCommands::For(bool setup, const std::string& host) const {
  TaskSpec spec = setup ? *setup_ : *teardown_;
  spec.id += "." + host;
  spec.attempt = static_cast<int>(run_number_);
  spec.env.emplace_back("JOBRUNNER_NODE_RANK", std::to_string(node_ranks_.at(host)));
  spec.env.emplace_back("JOBRUNNER_NODE_HOST", host);
  return spec;
}

void NodeCommands::Wait(const std::string& host, Waiting waiting) {
  waiting_[host].push_back(std::move(waiting));
}

std::vector<NodeCommands::Waiting> NodeCommands::TakeWaiting(const std::string& host) {
  const auto it = waiting_.find(host);
  if (it == waiting_.end()) return {};
  std::vector<Waiting> workers = std::move(it->second);
  waiting_.erase(it);
  return workers;
}

}  // namespace jobrunner
