#include "launch/launch_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <sstream>

#include "manifest/units.h"

namespace jobrunner {

namespace {

constexpr const char* kDescription =
    "Run a manifest under mpirun on several hosts and keep going when one is lost";
constexpr const char* kFooter =
    "After the options: -- MANIFEST [JOBRUNNER FLAGS], passed on to every launch.\n"
    "When mpirun ends early, the hosts that do not answer through the rsh agent or that mpirun\n"
    "reported lost are left out and the run continues with --resume on the others.\n"
    "Exit status: that of the last launch (see jobrunner --help); 2 for a usage error or when\n"
    "no host answers at the start.";

std::optional<int> ParseInt(const std::string& text, int low, int high) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int value = std::stoi(text);
  if (value < low || value > high) return std::nullopt;
  return value;
}

// A whole number from `low` to `high` into `target`. CLI11 reports a refused one as
// "--flag: expected a number from 1 to 1024, got 'x'".
void AddCount(CLI::App& command, const char* name, int& target, int low, int high,
              const char* description) {
  command
      .add_option_function<std::string>(
          name,
          [&target, low, high](const std::string& text) { target = *ParseInt(text, low, high); },
          description)
      ->type_name("N")
      ->check(CLI::Validator(
          [low, high](const std::string& text) -> std::string {
            if (ParseInt(text, low, high)) return "";
            return "expected a number from " + std::to_string(low) + " to " + std::to_string(high) +
                   ", got '" + text + "'";
          },
          ""));
}

// CLI11 reports an option that ran out of words as "--hosts: 1 required LIST missing".
std::string MissingValue(const CLI::App& command, const CLI::ArgumentMismatch& error) {
  std::string text = error.what();
  const std::string name = text.substr(0, text.find(':'));
  if (name == "--mca") return "--mca needs a KEY and a VALUE";
  if (command.get_option_no_throw(name) != nullptr) return name + " needs a value";
  return text;
}

// What parsing alone does not check.
Status CheckLaunchOptions(const CLI::App& command, std::vector<std::string> run_words,
                          LaunchOptions& options) {
  const std::vector<std::string> unknown = command.remaining();
  if (!unknown.empty()) {
    return Status::Error("unknown option '" + unknown.front() +
                         "'; the manifest and jobrunner's flags go after --");
  }
  if (SplitWords(options.rsh_agent).empty()) return Status::Error("--rsh-agent is empty");
  if (options.hostfile.empty() == options.hosts.empty()) {
    return Status::Error("give the hosts with either --hostfile or --hosts");
  }
  if (run_words.empty()) {
    return Status::Error("no manifest: expected -- MANIFEST [JOBRUNNER FLAGS]");
  }
  options.manifest = run_words.front();
  options.run_flags.assign(run_words.begin() + 1, run_words.end());
  return Status::Ok();
}

}  // namespace

CLI::App* AddLaunchCommand(CLI::App& app, LaunchOptions& options) {
  CLI::App* command = app.add_subcommand("launch", kDescription);
  command->footer(kFooter);
  // Words that are not launch's options are reported by ParseCommandLine, in launch's words.
  command->allow_extras();
  // As before CLI11 parsed them, an option given twice keeps its last value.
  command->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  command
      ->add_option("--hostfile", options.hostfile,
                   "Hosts, one a line: NAME [slots=N] (N worker ranks; # comments)")
      ->type_name("FILE");
  command
      ->add_option("--hosts", options.hosts, "Hosts as NAME[:N],NAME[:N],... instead of --hostfile")
      ->type_name("LIST");
  AddCount(*command, "--ranks-per-host", options.ranks_per_host, 1, 1024,
           "Worker ranks on a host that gives no N (default 1); the first host also runs rank "
           "0, the coordinator");
  command
      ->add_option("--rsh-agent", options.rsh_agent,
                   "How mpirun and the probes reach a host (default: ssh)")
      ->type_name("CMD");
  command
      ->add_option("--interface", options.interface,
                   "Network (interface or CIDR) for MPI traffic: btl_tcp_if_include and "
                   "oob_tcp_if_include")
      ->type_name("IF");
  command
      ->add_option_function<std::string>(
          "--probe-timeout",
          [&options](const std::string& text) {
            options.probe_timeout_ms = *ParseDurationMs(text);
          },
          "How long a host may take to answer a probe (default 5s)")
      ->type_name("DUR")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            const std::optional<std::int64_t> ms = ParseDurationMs(text);
            if (ms && *ms > 0) return "";
            if (const std::optional<std::string> over = DurationOverLimit(text)) return *over;
            return "expected a duration like 500ms or 5s, got '" + text + "'";
          },
          ""));
  AddCount(*command, "--max-launches", options.max_launches, 1, 1000,
           "Launch mpirun at most N times (default 10)");
  command
      ->add_option("--mca", options.mca,
                   "An MCA parameter for mpirun; overrides the launch's own (repeatable)")
      ->type_name("KEY VALUE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--mpirun-arg", options.mpirun_args, "One more mpirun argument (repeatable)")
      ->type_name("ARG")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--mpirun", options.mpirun, "The mpirun to run (default: mpirun)")
      ->type_name("PATH");
  command
      ->add_option("--jobrunner", options.jobrunner,
                   "The jobrunner the ranks run, the same path on every host (default: this "
                   "binary)")
      ->type_name("PATH");
  return command;
}

Status ParseCommandLine(CLI::App& app, std::vector<std::string> words, LaunchOptions& options) {
  CLI::App* command = app.get_subcommand("launch");
  std::vector<std::string> run_words;
  if (!words.empty() && words.front() == "launch") {
    auto separator = std::find(words.begin() + 1, words.end(), "--");
    if (separator != words.end()) {
      run_words.assign(separator + 1, words.end());
      words.erase(separator, words.end());
    }
  }
  std::reverse(words.begin(), words.end());  // CLI11 takes them last first
  try {
    app.parse(words);
  } catch (const CLI::ArgumentMismatch& e) {
    if (!command->parsed()) throw;
    return Status::Error(MissingValue(*command, e));
  } catch (const CLI::Success&) {
    throw;
  } catch (const CLI::ParseError& e) {
    if (!command->parsed()) throw;
    return Status::Error(e.what());
  }
  if (!command->parsed()) return Status::Ok();
  return CheckLaunchOptions(*command, std::move(run_words), options);
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
