#include "app/resume_command.h"

#include <algorithm>
#include <filesystem>

namespace jobrunner {
namespace {

namespace fs = std::filesystem;

bool IsMpirun(const std::string& program) {
  const std::string name = fs::path(program).filename();
  return name == "mpirun" || name == "mpiexec" || name == "orterun";
}

std::string Quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:,+@%") == std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string Absolute(const std::string& path, const std::string& cwd) {
  if (path.empty() || path == "-" || fs::path(path).is_absolute()) return path;
  return (fs::path(cwd) / path).lexically_normal().string();
}

// mpirun's words before the program, when mpirun started this process directly: its command
// line then ends with this process's, word for word.
std::vector<std::string> MpirunPrefix(const ResumeCommandInput& input) {
  const std::vector<std::string>& parent = input.parent_command_line;
  const std::vector<std::string>& own = input.own_command_line;
  if (parent.empty() || own.empty() || !IsMpirun(parent[0]) || parent.size() <= own.size()) {
    return input.fallback_launcher;
  }
  const std::size_t program_at = parent.size() - own.size();
  if (!std::equal(own.begin(), own.end(), parent.begin() + program_at)) {
    return input.fallback_launcher;
  }
  return {parent.begin(), parent.begin() + program_at};
}

// This run's flags, without the manifest and the flags that name the run directory, which the
// resume gives itself.
std::vector<std::string> RunFlags(const ResumeCommandInput& input) {
  const std::vector<std::string>& own = input.own_command_line;
  std::vector<std::string> flags;
  // The manifest is the last word equal to it that is not a flag's value.
  std::size_t manifest_at = own.size();
  for (std::size_t i = own.size(); i-- > 1;) {
    if (own[i] == input.manifest) {
      manifest_at = i;
      break;
    }
  }
  for (std::size_t i = 1; i < own.size(); ++i) {
    const std::string& word = own[i];
    if (word == "--out" || word == "--name" || word == "--resume") {
      ++i;  // and its value
      continue;
    }
    if (word.rfind("--out=", 0) == 0 || word.rfind("--name=", 0) == 0 ||
        word.rfind("--resume=", 0) == 0) {
      continue;
    }
    if (i != manifest_at) flags.push_back(word);
  }
  return flags;
}

}  // namespace

std::string ResumeCommand(const ResumeCommandInput& input) {
  std::vector<std::string> words = MpirunPrefix(input);
  words.push_back(input.binary);
  words.push_back("--resume");
  words.push_back(Absolute(input.run_dir, input.cwd));
  words.push_back(Absolute(input.manifest, input.cwd));
  for (std::string& flag : RunFlags(input)) words.push_back(std::move(flag));
  std::string command = input.cwd.empty() ? "" : "cd " + Quote(input.cwd) + " && ";
  const char* separator = "";
  for (const std::string& word : words) {
    command += separator + Quote(word);
    separator = " ";
  }
  return command;
}

}  // namespace jobrunner
