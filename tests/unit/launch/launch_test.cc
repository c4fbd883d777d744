// The pure parts of `jobrunner launch`: host lists, its command lines, and which hosts a launch
// that ended early has lost.
#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>

#include "launch/host_list.h"
#include "launch/launch_command.h"
#include "launch/lost_host.h"

using namespace jobrunner;

namespace {

std::vector<std::string> Names(const std::vector<Host>& hosts) {
  std::vector<std::string> names;
  for (const Host& host : hosts) names.push_back(host.name + ":" + std::to_string(host.workers));
  return names;
}

// Parses launch's words as `jobrunner launch ...` would; its usage error, or "".
std::string ParseArgs(std::vector<std::string> args, LaunchOptions& options) {
  CLI::App app;
  AddLaunchCommand(app, options);
  args.insert(args.begin(), "launch");
  return ParseCommandLine(app, args, options).message();
}

}  // namespace

TEST_CASE("A hostfile gives names and worker counts and skips comments and blank lines") {
  HostListResult r = ParseHostfile(
      "# cluster\nnode1 slots=2\n\n  node2   # spare\nnode3.example.org slots=4 max_slots=8\n",
      "hosts", 1);
  REQUIRE(r.error.empty());
  CHECK(Names(r.hosts) == std::vector<std::string>{"node1:2", "node2:1", "node3.example.org:4"});
  CHECK(Names(ParseHostfile("a\nb\n", "h", 3).hosts) == std::vector<std::string>{"a:3", "b:3"});
}

TEST_CASE("A bad hostfile is refused with its line") {
  CHECK(ParseHostfile("a\nb slots=0\n", "h", 1).error ==
        "h:2: slots: expected a worker count "
        "from 1 to 1024, got '0'");
  CHECK(ParseHostfile("a cpus=2\n", "h", 1).error ==
        "h:1: unknown 'cpus=2'; expected NAME [slots=N]");
  CHECK(ParseHostfile("a\na\n", "h", 1).error == "h:2: host a is listed twice");
  CHECK(ParseHostfile("a slots=x\n", "h", 1).error.find("h:1: slots") == 0);
  CHECK(ParseHostfile("a;rm\n", "h", 1).error == "h:1: 'a;rm' is not a host name");
  CHECK(ParseHostfile("# nothing\n\n", "h", 1).error == "h: names no host");
}

TEST_CASE("The hosts option takes NAME[:N] separated by commas") {
  HostListResult r = ParseHostsOption("node1:2,node2,node3:1", 1);
  REQUIRE(r.error.empty());
  CHECK(Names(r.hosts) == std::vector<std::string>{"node1:2", "node2:1", "node3:1"});
  CHECK(ParseHostsOption("a,,b", 1).error == "--hosts: '' is not a host name");
  CHECK(ParseHostsOption("a:0", 1).error.find("--hosts: a: expected a worker count") == 0);
  CHECK(ParseHostsOption("a,b,a", 1).error == "--hosts: host a is listed twice");
  CHECK_FALSE(ParseHostsOption("", 1).error.empty());
}

TEST_CASE("mpirun's hostfile gives the first host a slot more, for the coordinator") {
  std::vector<Host> hosts = {{"node1", 1}, {"node2", 2}, {"node3", 1}};
  CHECK(MpirunHostfile(hosts) == "node1 slots=2\nnode2 slots=2\nnode3 slots=1\n");
  CHECK(TotalRanks(hosts) == 5);
  CHECK(MpirunHostfile({{"b", 3}}) == "b slots=4\n");
}

TEST_CASE("mpirun's short host names are matched to fully qualified ones") {
  std::vector<Host> hosts = {{"node1.example.org", 1}, {"node2", 1}};
  CHECK(FindHost(hosts, "node1.example.org") == &hosts[0]);
  CHECK(FindHost(hosts, "node1") == &hosts[0]);
  CHECK(FindHost(hosts, "node2") == &hosts[1]);
  CHECK(FindHost(hosts, "node2.example.org") == nullptr);
  CHECK(FindHost(hosts, "vm") == nullptr);
}

TEST_CASE("Open MPI's failure reports name the host they blame") {
  CHECK(HostBlamedBy("  Remote daemon: [[23549,0],3] on node node3") == "node3");
  CHECK(HostBlamedBy("mpirun noticed that process rank 3 with PID 0 on node node2 exited on "
                     "signal 9 (Killed).") == "node2");
  CHECK(HostBlamedBy("  target node:  node4") == "node4");
  // The HNP line names mpirun's own host, which is not to blame; other lines name nobody.
  CHECK_FALSE(HostBlamedBy("  HNP daemon   : [[23549,0],0] on node vm"));
  CHECK_FALSE(HostBlamedBy("ORTE was unable to reliably start one or more daemons."));
  CHECK_FALSE(HostBlamedBy("  Local host: node1"));
  CHECK_FALSE(HostBlamedBy("[2026-11-23 20:32:33] jobrunner: running 300 of 300 tasks"));
}

TEST_CASE("A host that does not answer or that mpirun blamed is lost and the others are kept") {
  LostHosts none = DecideLostHosts({{"a", true, false}, {"b", true, false}});
  CHECK(none.hosts.empty());
  CHECK(none.reasons.empty());

  LostHosts lost = DecideLostHosts(
      {{"a", true, false}, {"b", false, false}, {"c", true, true}, {"d", false, true}});
  CHECK(lost.hosts == std::vector<std::string>{"b", "c", "d"});
  REQUIRE(lost.reasons.size() == 3);
  CHECK(lost.reasons[0] == "b: does not answer through the rsh agent");
  CHECK(lost.reasons[1] == "c: mpirun reported its daemon or ranks lost");
  CHECK(lost.reasons[2] ==
        "d: does not answer through the rsh agent, and mpirun reported its daemon or ranks lost");

  // Every host lost: all are reported; the launch then has none left and stops.
  CHECK(DecideLostHosts({{"a", false, false}}).hosts == std::vector<std::string>{"a"});
}

TEST_CASE("launch's options come before --, the manifest and jobrunner's flags after it") {
  LaunchOptions o;
  REQUIRE(ParseArgs({"--hostfile",
                     "h",
                     "--ranks-per-host=2",
                     "--rsh-agent",
                     "ssh -x",
                     "--interface",
                     "eth1",
                     "--probe-timeout",
                     "500ms",
                     "--max-launches",
                     "3",
                     "--mca",
                     "btl",
                     "tcp,self",
                     "--mpirun-arg",
                     "--display-map",
                     "--",
                     "m.yaml",
                     "--slots",
                     "4"},
                    o) == "");
  CHECK(o.hostfile == "h");
  CHECK(o.ranks_per_host == 2);
  CHECK(o.rsh_agent == "ssh -x");
  CHECK(o.interface == "eth1");
  CHECK(o.probe_timeout_ms == 500);
  CHECK(o.max_launches == 3);
  CHECK(o.mca == std::vector<std::pair<std::string, std::string>>{{"btl", "tcp,self"}});
  CHECK(o.mpirun_args == std::vector<std::string>{"--display-map"});
  CHECK(o.manifest == "m.yaml");
  CHECK(o.run_flags == std::vector<std::string>{"--slots", "4"});
}

TEST_CASE("launch's repeatable options keep every value in order, and others the last one") {
  LaunchOptions o;
  REQUIRE(ParseArgs({"--hosts=a", "--mca", "btl", "tcp,self", "--mca", "oob", "tcp", "--mpirun-arg",
                     "-x", "--mpirun-arg=--display-map", "--max-launches", "2", "--max-launches=4",
                     "--", "m.yaml", "--", "--slots"},
                    o) == "");
  CHECK(o.hosts == "a");
  CHECK(o.mca ==
        std::vector<std::pair<std::string, std::string>>{{"btl", "tcp,self"}, {"oob", "tcp"}});
  CHECK(o.mpirun_args == std::vector<std::string>{"-x", "--display-map"});
  CHECK(o.max_launches == 4);
  CHECK(o.manifest == "m.yaml");
  CHECK(o.run_flags == std::vector<std::string>{"--", "--slots"});
}

TEST_CASE("Bad launch options are refused with a message") {
  auto error = [](std::vector<std::string> args) {
    LaunchOptions o;
    return ParseArgs(std::move(args), o);
  };
  CHECK(error({"--", "m.yaml"}) == "give the hosts with either --hostfile or --hosts");
  CHECK(error({"--hosts", "a", "--hostfile", "h", "--", "m"}) ==
        "give the hosts with either --hostfile or --hosts");
  CHECK(error({"--hosts", "a"}) == "no manifest: expected -- MANIFEST [JOBRUNNER FLAGS]");
  CHECK(error({"--hosts", "a", "m.yaml"}).find("unknown option 'm.yaml'") == 0);
  CHECK(error({"--hosts", "a", "--slots", "2", "--", "m"}).find("unknown option '--slots'") == 0);
  CHECK(error({"--hosts", "a", "--probe-timeout", "5", "--", "m"}).find("--probe-timeout:") == 0);
  CHECK_THAT(error({"--hosts", "a", "--probe-timeout", "2562048h", "--", "m"}),
             Catch::Contains("2562048h is longer than 8760h (365 days)"));
  CHECK(error({"--hosts", "a", "--max-launches", "0", "--", "m"}).find("--max-launches:") == 0);
  CHECK(error({"--hosts", "a", "--ranks-per-host", "-1", "--", "m"}).find("--ranks-per-host") == 0);
  CHECK(error({"--hosts"}) == "--hosts needs a value");
  CHECK(error({"--hosts", "a", "--mca", "btl"}) == "--mca needs a KEY and a VALUE");
  CHECK(error({"--hosts", "a", "--rsh-agent", " ", "--", "m"}) == "--rsh-agent is empty");
}

TEST_CASE("The run directory flags are taken out of jobrunner's flags and rewritten") {
  RunDirFlags f;
  REQUIRE(SplitRunDirFlags({"--slots", "2", "--out=/r", "--retry-failed", "-v"}, f) == "");
  CHECK(f.out == "/r");
  CHECK(f.retry_failed);
  CHECK(f.rest == std::vector<std::string>{"--slots", "2", "-v"});
  CHECK(JobrunnerFlags(f, "/r", false, true) ==
        std::vector<std::string>{"--slots", "2", "-v", "--out", "/r", "--retry-failed"});
  // A relaunch resumes, without --retry-failed: tasks that failed there keep their verdict.
  CHECK(JobrunnerFlags(f, "/r", true, false) ==
        std::vector<std::string>{"--slots", "2", "-v", "--resume", "/r"});

  RunDirFlags g;
  REQUIRE(SplitRunDirFlags({"--resume", "/x", "--name", "n", "--no-journal"}, g) == "");
  CHECK(g.resume == "/x");
  CHECK(g.name == "n");
  CHECK(g.no_journal);
  RunDirFlags h;
  CHECK(SplitRunDirFlags({"--out"}, h) == "--out needs a value");
  CHECK(SplitRunDirFlags({"--name="}, h) == "--name needs a value");
  CHECK(SplitRunDirFlags({"--time-limit"}, h) == "--time-limit needs a value");
}

TEST_CASE("Each launch gets what is left of --time-limit, not the whole of it") {
  RunDirFlags f;
  REQUIRE(SplitRunDirFlags({"--time-limit", "1h", "--slots", "2"}, f) == "");
  CHECK(f.time_limit == "1h");
  CHECK(f.rest == std::vector<std::string>{"--slots", "2"});
  CHECK(JobrunnerFlags(f, "/r", true, false, 1'234'567) ==
        std::vector<std::string>{"--slots", "2", "--resume", "/r", "--time-limit", "1234567ms"});
  RunDirFlags g;
  REQUIRE(SplitRunDirFlags({"--time-limit=90s"}, g) == "");
  CHECK(g.time_limit == "90s");
  CHECK(JobrunnerFlags(g, "/r", false, true) == std::vector<std::string>{"--out", "/r"});
}

TEST_CASE("mpirun runs with keepalive, no tree spawn and the user's MCA settings winning") {
  LaunchOptions o;
  o.rsh_agent = "/abs/nsrsh";
  o.interface = "mpi0";
  o.mca = {{"oob_tcp_keepalive_time", "5"}};
  o.mpirun_args = {"--display-map"};
  o.manifest = "m.yaml";
  std::vector<std::string> argv =
      MpirunCommand(o, {{"n1", 1}, {"n2", 2}}, "/tmp/h", "/bin/jr", true, {"--resume", "/r"});
  std::vector<std::string> expected = {"mpirun",
                                       "--hostfile",
                                       "/tmp/h",
                                       "-n",
                                       "4",
                                       "--bind-to",
                                       "none",
                                       "--allow-run-as-root",
                                       "--mca",
                                       "plm_rsh_agent",
                                       "/abs/nsrsh",
                                       "--mca",
                                       "plm_rsh_no_tree_spawn",
                                       "1",
                                       "--mca",
                                       "oob_tcp_keepalive_intvl",
                                       "1",
                                       "--mca",
                                       "oob_tcp_keepalive_probes",
                                       "3",
                                       "--mca",
                                       "btl_tcp_if_include",
                                       "mpi0",
                                       "--mca",
                                       "oob_tcp_if_include",
                                       "mpi0",
                                       "--mca",
                                       "oob_tcp_keepalive_time",
                                       "5",
                                       "--display-map",
                                       "/bin/jr",
                                       "--resume",
                                       "/r",
                                       "m.yaml"};
  CHECK(argv == expected);
  std::vector<std::string> user = MpirunCommand(o, {{"n1", 1}}, "h", "jr", false, {});
  CHECK(std::find(user.begin(), user.end(), "--allow-run-as-root") == user.end());
}

TEST_CASE("A probe runs `true` through the agent, in batch mode for ssh") {
  CHECK(ProbeCommand("/abs/nsrsh", "node3", 3000) ==
        std::vector<std::string>{"/abs/nsrsh", "node3", "true"});
  CHECK(ProbeCommand("/usr/bin/ssh -x", "h", 2500) ==
        std::vector<std::string>{"/usr/bin/ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2",
                                 "-x", "h", "true"});
  CHECK(ProbeCommand("ssh", "h", 300)[4] == "ConnectTimeout=1");
  CHECK(SplitWords("  ssh   -q ") == std::vector<std::string>{"ssh", "-q"});
}
