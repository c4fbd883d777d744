#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobrunner {

// A string with `{name}` placeholders, parsed once and rendered many times.
// Placeholder syntax: `{` identifier `}` with identifier [A-Za-z_][A-Za-z0-9_]*. Anything else in
// braces is literal text, so `awk '{print $1}'` needs no escaping; `${NAME}` (a `{` right after
// `$`) is literal too, so shell variables pass through; `{{` and `}}` stand for `{` and `}`.
class Template {
 public:
  struct Part {
    bool is_placeholder = false;
    std::string text;  // the literal text, or the placeholder's name
  };

  Template() = default;
  static Template Parse(std::string_view text);

  const std::vector<Part>& parts() const { return parts_; }
  std::vector<std::string> Names() const;  // placeholder names, in order of appearance
  bool IsLiteral() const;                  // no placeholders at all

  // `lookup` returns the value of a name; every name has been validated before rendering.
  // With `shell_quote`, each substituted value is quoted for /bin/sh (see ShellQuote).
  std::string Render(const std::function<std::string_view(std::string_view)>& lookup,
                     bool shell_quote) const;

 private:
  std::vector<Part> parts_;
};

// Quotes a value for /bin/sh: unchanged when it holds only [A-Za-z0-9_@%+=:,./-] and is not
// empty, otherwise wrapped in single quotes with each ' written as '\''.
std::string ShellQuote(std::string_view value);

}  // namespace jobrunner
