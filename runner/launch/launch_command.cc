#include "launch/launch_command.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "manifest/units.h"

namespace jobrunner {

const char* const kLaunchHelp =
    "jobrunner launch: run a manifest under mpirun on several hosts and keep going when one is "
    "lost.\n"
    "  jobrunner launch [OPTIONS] -- MANIFEST [JOBRUNNER FLAGS]\n"
    "When mpirun ends early, the hosts that do not answer through the rsh agent or that mpirun\n"
    "reported lost are left out and the run continues with --resume on the others.\n"
    "Options:\n"
    "  --hostfile FILE      hosts, one a line: NAME [slots=N] (N worker ranks; # comments)\n"
    "  --hosts LIST         hosts as NAME[:N],NAME[:N],... instead of --hostfile\n"
    "  --ranks-per-host N   worker ranks on a host that gives no N (default 1); the first\n"
    "                       host also runs rank 0, the coordinator\n"
    "  --rsh-agent CMD      how mpirun and the probes reach a host (default: ssh)\n"
    "  --interface IF       network (interface or CIDR) for MPI traffic: btl_tcp_if_include\n"
    "                       and oob_tcp_if_include\n"
    "  --probe-timeout DUR  how long a host may take to answer a probe (default 5s)\n"
    "  --max-launches N     launch mpirun at most N times (default 10)\n"
    "  --mca KEY VALUE      an MCA parameter for mpirun; overrides the launch's own (repeatable)\n"
    "  --mpirun-arg ARG     one more mpirun argument (repeatable)\n"
    "  --mpirun PATH        the mpirun to run (default: mpirun)\n"
    "  --jobrunner PATH     the jobrunner the ranks run, the same path on every host\n"
    "                       (default: this binary)\n"
    "Exit status: that of the last launch (see jobrunner --help); 2 for a usage error or when\n"
    "no host answers at the start.\n";

namespace {

std::optional<int> ParseInt(const std::string& text, int low, int high) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int value = std::stoi(text);
  if (value < low || value > high) return std::nullopt;
  return value;
}

}  // namespace

std::string ParseLaunchOptions(const std::vector<std::string>& args, LaunchOptions& options) {
  std::size_t i = 0;
  // The value of the option at args[i]: after '=' in the same word, or the next word.
  auto value = [&](const std::string& name, const std::string& word,
                   std::string& out) -> std::string {
    if (word.size() > name.size() && word[name.size()] == '=') {
      out = word.substr(name.size() + 1);
      return "";
    }
    if (i + 1 >= args.size() || args[i + 1] == "--") return name + " needs a value";
    out = args[++i];
    return "";
  };
  auto is = [](const std::string& word, const std::string& name) {
    return word == name || word.rfind(name + "=", 0) == 0;
  };
  bool separator = false;
  for (; i < args.size(); ++i) {
    const std::string& word = args[i];
    std::string text, error;
    if (word == "--") {
      separator = true;
      ++i;
      break;
    } else if (word == "-h" || word == "--help") {
      options.help = true;
      return "";
    } else if (is(word, "--hostfile")) {
      error = value("--hostfile", word, options.hostfile);
    } else if (is(word, "--hosts")) {
      error = value("--hosts", word, options.hosts);
    } else if (is(word, "--ranks-per-host")) {
      if ((error = value("--ranks-per-host", word, text)).empty()) {
        std::optional<int> n = ParseInt(text, 1, 1024);
        if (!n) error = "--ranks-per-host: expected a number from 1 to 1024, got '" + text + "'";
        options.ranks_per_host = n.value_or(1);
      }
    } else if (is(word, "--rsh-agent")) {
      error = value("--rsh-agent", word, options.rsh_agent);
      if (error.empty() && SplitWords(options.rsh_agent).empty()) error = "--rsh-agent is empty";
    } else if (is(word, "--interface")) {
      error = value("--interface", word, options.interface);
    } else if (is(word, "--probe-timeout")) {
      if ((error = value("--probe-timeout", word, text)).empty()) {
        std::optional<std::int64_t> ms = ParseDurationMs(text);
        if (!ms || *ms <= 0) {
          error = "--probe-timeout: expected a duration like 500ms or 5s, got '" + text + "'";
        }
        options.probe_timeout_ms = ms.value_or(0);
      }
    } else if (is(word, "--max-launches")) {
      if ((error = value("--max-launches", word, text)).empty()) {
        std::optional<int> n = ParseInt(text, 1, 1000);
        if (!n) error = "--max-launches: expected a number from 1 to 1000, got '" + text + "'";
        options.max_launches = n.value_or(1);
      }
    } else if (word == "--mca") {
      if (i + 2 >= args.size()) {
        error = "--mca needs a KEY and a VALUE";
      } else {
        options.mca.emplace_back(args[i + 1], args[i + 2]);
        i += 2;
      }
    } else if (is(word, "--mpirun-arg")) {
      if ((error = value("--mpirun-arg", word, text)).empty()) options.mpirun_args.push_back(text);
    } else if (is(word, "--mpirun")) {
      error = value("--mpirun", word, options.mpirun);
    } else if (is(word, "--jobrunner")) {
      error = value("--jobrunner", word, options.jobrunner);
    } else {
      error = "unknown option '" + word + "'; the manifest and jobrunner's flags go after --";
    }
    if (!error.empty()) return error;
  }
  if (options.hostfile.empty() == options.hosts.empty()) {
    return "give the hosts with either --hostfile or --hosts";
  }
  if (!separator || i >= args.size()) return "no manifest: expected -- MANIFEST [JOBRUNNER FLAGS]";
  options.manifest = args[i];
  options.run_flags.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  return "";
}

std::string SplitRunDirFlags(const std::vector<std::string>& flags, RunDirFlags& split) {
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const std::string& word = flags[i];
    std::string* target = nullptr;
    std::string name;
    for (auto [flag, field] :
         {std::pair{"--out", &split.out}, std::pair{"--resume", &split.resume},
          std::pair{"--name", &split.name}, std::pair{"--time-limit", &split.time_limit}}) {
      if (word == flag || word.rfind(std::string(flag) + "=", 0) == 0) {
        target = field;
        name = flag;
      }
    }
    if (target == nullptr) {
      if (word == "--no-journal") split.no_journal = true;
      if (word == "--retry-failed") {
        split.retry_failed = true;
        continue;
      }
      split.rest.push_back(word);
      continue;
    }
    if (word.size() > name.size()) {
      *target = word.substr(name.size() + 1);
    } else if (i + 1 < flags.size()) {
      *target = flags[++i];
    } else {
      return name + " needs a value";
    }
    if (target->empty()) return name + " needs a value";
  }
  return "";
}

std::vector<std::string> JobrunnerFlags(const RunDirFlags& flags, const std::string& run_dir,
                                        bool resume, bool first,
                                        std::optional<std::int64_t> time_left_ms) {
  std::vector<std::string> out = flags.rest;
  out.push_back(resume ? "--resume" : "--out");
  out.push_back(run_dir);
  if (flags.retry_failed && first) out.push_back("--retry-failed");
  if (time_left_ms) {
    out.push_back("--time-limit");
    out.push_back(std::to_string(*time_left_ms) + "ms");
  }
  return out;
}

std::vector<std::string> MpirunCommand(const LaunchOptions& options, const std::vector<Host>& hosts,
                                       const std::string& hostfile, const std::string& jobrunner,
                                       bool as_root,
                                       const std::vector<std::string>& jobrunner_flags) {
  std::vector<std::string> argv = {options.mpirun, "--hostfile", hostfile, "-n",
                                   std::to_string(TotalRanks(hosts)),
                                   // Tasks spread over the host's CPUs, not the rank's core.
                                   "--bind-to", "none"};
  if (as_root) argv.push_back("--allow-run-as-root");
  std::vector<std::pair<std::string, std::string>> ours = {
      {"plm_rsh_agent", options.rsh_agent},
      // mpirun starts every daemon itself, each one its direct peer: a daemon that dies is
      // reported by its host's name ("lost communication with a remote daemon").
      {"plm_rsh_no_tree_spawn", "1"},
      // A host that vanishes from the network is noticed in about 2 + 3 x 1 s instead of
      // Open MPI's 300 + 9 x 20 s, during which the whole job would hang.
      {"oob_tcp_keepalive_time", "2"},
      {"oob_tcp_keepalive_intvl", "1"},
      {"oob_tcp_keepalive_probes", "3"},
  };
  if (!options.interface.empty()) {
    ours.emplace_back("btl_tcp_if_include", options.interface);
    ours.emplace_back("oob_tcp_if_include", options.interface);
  }
  auto user_sets = [&](const std::string& key) {
    return std::any_of(options.mca.begin(), options.mca.end(),
                       [&](const auto& setting) { return setting.first == key; });
  };
  for (const auto& [key, value] : ours) {
    if (!user_sets(key)) argv.insert(argv.end(), {"--mca", key, value});
  }
  for (const auto& [key, value] : options.mca) argv.insert(argv.end(), {"--mca", key, value});
  argv.insert(argv.end(), options.mpirun_args.begin(), options.mpirun_args.end());
  argv.push_back(jobrunner);
  argv.insert(argv.end(), jobrunner_flags.begin(), jobrunner_flags.end());
  argv.push_back(options.manifest);
  return argv;
}

std::vector<std::string> ProbeCommand(const std::string& rsh_agent, const std::string& host,
                                      std::int64_t timeout_ms) {
  std::vector<std::string> argv = SplitWords(rsh_agent);
  std::string program = argv.empty() ? "" : argv[0].substr(argv[0].rfind('/') + 1);
  if (program == "ssh") {
    std::int64_t seconds = std::max<std::int64_t>(1, timeout_ms / 1000);
    argv.insert(argv.begin() + 1,
                {"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + std::to_string(seconds)});
  }
  argv.push_back(host);
  argv.push_back("true");
  return argv;
}

std::vector<std::string> SplitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

}  // namespace jobrunner
