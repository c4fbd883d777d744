#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace jobrunner {

// jobrunner --help: the commands (launch, status, ...) one a line right after the usage lines,
// before the fifty options of a run, where a first reader would not scroll to them. The
// commands' own --help keeps CLI11's layout.
class CommandsFirstFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
};

}  // namespace jobrunner
