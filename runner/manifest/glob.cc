#include "manifest/glob.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace jobrunner {
namespace {

namespace fs = std::filesystem;

bool HasPattern(std::string_view component) {
  return component.find_first_of("*?[") != std::string_view::npos;
}

// Whether `c` is in the set that starts after the `[` at pattern[i]; `end` receives the position
// after its `]`, or npos when the set is not closed (then `[` is an ordinary character).
bool InSet(std::string_view pattern, std::size_t i, char c, std::size_t& end) {
  std::size_t k = i + 1;
  const bool negated = k < pattern.size() && (pattern[k] == '!' || pattern[k] == '^');
  if (negated) ++k;
  bool found = false;
  for (bool first = true; k < pattern.size() && (first || pattern[k] != ']'); first = false) {
    if (k + 2 < pattern.size() && pattern[k + 1] == '-' && pattern[k + 2] != ']') {
      found = found || (pattern[k] <= c && c <= pattern[k + 2]);
      k += 3;
    } else {
      found = found || pattern[k] == c;
      ++k;
    }
  }
  if (k >= pattern.size()) {
    end = std::string_view::npos;
    return false;
  }
  end = k + 1;
  return found != negated;
}

bool Match(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
      continue;
    }
    if (p < pattern.size()) {
      if (pattern[p] == '?') {
        ++p;
        ++n;
        continue;
      }
      if (pattern[p] == '[') {
        std::size_t end = 0;
        const bool in = InSet(pattern, p, name[n], end);
        if (end != std::string_view::npos) {
          if (in) {
            p = end;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {
          ++p;
          ++n;
          continue;
        }
      } else if (pattern[p] == name[n]) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    n = ++resume;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool MatchesPattern(std::string_view pattern, std::string_view name) {
  if (!name.empty() && name[0] == '.' && (pattern.empty() || pattern[0] != '.')) return false;
  return Match(pattern, name);
}

std::vector<std::string> ExpandGlob(const std::string& pattern, const std::string& base_dir) {
  const fs::path written(pattern);
  // (path as it will be shown, path on disk) of what matched the components so far.
  std::vector<std::pair<fs::path, fs::path>> matches;
  fs::path shown = written.root_path();
  const fs::path root = written.is_absolute() ? shown : fs::path(base_dir);
  matches.emplace_back(shown, root);
  for (const fs::path& component : written.relative_path()) {
    const std::string text = component.string();
    std::vector<std::pair<fs::path, fs::path>> next;
    for (const auto& [as_shown, on_disk] : matches) {
      if (!HasPattern(text)) {
        std::error_code error;
        if (fs::exists(on_disk / component, error)) {
          next.emplace_back(as_shown / component, on_disk / component);
        }
        continue;
      }
      std::error_code error;
      for (fs::directory_iterator it(on_disk.empty() ? "." : on_disk, error), end;
           !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename().string();
        if (MatchesPattern(text, name)) next.emplace_back(as_shown / name, on_disk / name);
      }
    }
    matches = std::move(next);
  }
  std::vector<std::string> out;
  if (!written.has_relative_path()) return out;
  for (const auto& [as_shown, on_disk] : matches) out.push_back(as_shown.string());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace jobrunner
