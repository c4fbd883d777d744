#include "coordinator/node_commands.h"

#include <catch2/catch.hpp>

namespace jobrunner {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

TaskSpec Command(const std::string& id, std::vector<std::string> argv) {
  TaskSpec spec;
  spec.id = id;
  spec.argv = std::move(argv);
  return spec;
}

TEST_CASE("Each host's first worker gets the node commands, with the host's number and name") {
  NodeCommands commands(Command("node-setup", {"", "-c", "stage"}),
                        Command("node-teardown", {"rm", "x"}), /*run_number=*/2);
  Welcome first, second, other;
  CHECK(commands.AddToWelcome("n1", first));
  CHECK_FALSE(commands.AddToWelcome("n1", second));
  CHECK(commands.AddToWelcome("n2", other));
  REQUIRE(first.node_setup.size() == 1);
  CHECK(first.node_setup[0].id == "node-setup.n1");
  CHECK(first.node_setup[0].argv == std::vector<std::string>{"", "-c", "stage"});
  CHECK(first.node_setup[0].attempt == 2);  // logs/node-setup.n1.2.out: the second run's
  CHECK(first.node_setup[0].env ==
        Env{{"JOBRUNNER_NODE_RANK", "0"}, {"JOBRUNNER_NODE_HOST", "n1"}});
  REQUIRE(first.node_teardown.size() == 1);
  CHECK(first.node_teardown[0].id == "node-teardown.n1");
  CHECK(second.node_setup.empty());
  CHECK(second.node_teardown.empty());
  REQUIRE(other.node_setup.size() == 1);
  CHECK(other.node_setup[0].env ==
        Env{{"JOBRUNNER_NODE_RANK", "1"}, {"JOBRUNNER_NODE_HOST", "n2"}});
}

TEST_CASE("A teardown without a set-up still goes to each host's first worker, and alone") {
  NodeCommands commands(std::nullopt, Command("node-teardown", {"rm", "x"}), 1);
  CHECK_FALSE(commands.has_setup());
  CHECK(commands.has_teardown());
  Welcome first;
  CHECK(commands.AddToWelcome("n1", first));
  CHECK(first.node_setup.empty());
  CHECK(first.node_teardown.size() == 1);
}

TEST_CASE("The workers that wait for a host come back once, in the order they waited") {
  NodeCommands commands(Command("node-setup", {"true"}), std::nullopt, 1);
  CHECK_FALSE(commands.AnyWaiting());
  commands.Wait("n1", NodeCommands::Waiting{3, {}, {}, true});
  commands.Wait("n2", NodeCommands::Waiting{5, {}, {}, true});
  commands.Wait("n1", NodeCommands::Waiting{4, {}, {}, false});
  std::vector<NodeCommands::Waiting> n1 = commands.TakeWaiting("n1");
  REQUIRE(n1.size() == 2);
  CHECK(n1[0].from == 3);
  CHECK(n1[1].from == 4);
  CHECK(commands.TakeWaiting("n1").empty());
  CHECK(commands.AnyWaiting());
  CHECK(commands.TakeWaiting("n2").size() == 1);
  CHECK_FALSE(commands.AnyWaiting());
}

}  // namespace
}  // namespace jobrunner
