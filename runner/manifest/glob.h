#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jobrunner {

// Whether `name` matches the shell pattern `pattern` (one path component): `*` any run of
// characters, `?` one character, `[abc]`, `[a-z]` and `[!abc]` a set; a leading `.` only by a `.`
// in the pattern, as shells do. An unclosed `[` is an ordinary character.
bool MatchesPattern(std::string_view pattern, std::string_view name);

// The paths `pattern` matches, sorted, in the form the pattern has: relative patterns are
// resolved against `base_dir` and give paths relative to it (`data/*.csv` gives `data/a.csv`).
// Each component may hold a pattern; `**` is no more than `*`. Unreadable directories match
// nothing.
std::vector<std::string> ExpandGlob(const std::string& pattern, const std::string& base_dir);

}  // namespace jobrunner
