#include "app/help_formatter.h"

#include <sstream>

namespace jobrunner {

std::string CommandsFirstFormatter::make_help(const CLI::App* app, std::string name,
                                              CLI::AppFormatMode mode) const {
  if (mode != CLI::AppFormatMode::Normal || app->get_parent() != nullptr) {
    return CLI::Formatter::make_help(app, std::move(name), mode);
  }
  // Command names are short: a narrow first column keeps each command on one short line.
  CLI::Formatter commands(*this);
  commands.column_width(12);
  std::ostringstream out;
  out << make_description(app) << commands.make_subcommands(app, mode) << "\n"
      << make_usage(app, name) << make_positionals(app) << make_groups(app, mode) << "\n"
      << make_footer(app);
  return out.str();
}

}  // namespace jobrunner
