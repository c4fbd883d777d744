#pragma once

// The subcommands that look at a run without touching it: `jobrunner status`, `logs`, `failed`
// and `report`. They need no MPI, never take the run's lock and write nothing into the run
// directory, except the report file `report` is told to write (by default <run_dir>/report.html).

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace jobrunner {

class InspectCommands {
 public:
  // Adds the subcommands and their options to jobrunner's command line `app`, which outlives
  // this object.
  explicit InspectCommands(CLI::App& app);

  // The exit status of the subcommand the parsed command line chose; nullopt when it chose none
  // of them.
  std::optional<int> RunChosen();

 private:
  int Status();
  int Logs();
  int Failed();
  int Report();

  CLI::App* status_ = nullptr;
  CLI::App* logs_ = nullptr;
  CLI::App* failed_ = nullptr;
  CLI::App* report_ = nullptr;

  std::string run_dir_;
  bool json_ = false;
  std::string watch_;  // seconds, or (given as `--watch RUN_DIR`) the run directory
  std::string task_;
  int attempt_ = 0;
  bool stderr_ = false;
  bool follow_ = false;
  std::string output_;
  std::string trace_;
};

}  // namespace jobrunner
