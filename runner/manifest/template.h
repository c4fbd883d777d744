#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/format_spec.h"

namespace jobrunner {

// A template that cannot be parsed: a placeholder with a format it does not understand.
class TemplateError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A string with `{name}` placeholders, parsed once and rendered many times.
// Placeholder syntax: `{` identifier `}` with identifier [A-Za-z_][A-Za-z0-9_]*, or
// `{` identifier `:` format `}` with a format as FormatSpec reads it (`{n:06d}`). Anything else in
// braces is literal text, so `awk '{print $1}'` needs no escaping; `${NAME}` (a `{` right after
// `$`) is literal too, so shell variables pass through; `{{` and `}}` stand for `{` and `}`.
class Template {
 public:
  struct Part {
    bool is_placeholder = false;
    std::string text;                  // the literal text, or the placeholder's name
    std::optional<FormatSpec> format;  // a placeholder's `:format`, if it has one
  };

  Template() = default;
  // Throws TemplateError for a placeholder whose format is not valid, naming it.
  static Template Parse(std::string_view text);
  // `text` as it is, with no placeholders: for values from the command line.
  static Template Literal(std::string_view text);

  const std::vector<Part>& parts() const { return parts_; }
  std::vector<std::string> Names() const;  // placeholder names, in order of appearance
  bool IsLiteral() const;                  // no placeholders at all

  // `lookup` returns the value of a name; every name has been validated before rendering, and
  // every value against its placeholder's format (a value that does not suit it is inserted as
  // it is). With `shell_quote`, each substituted value is quoted for /bin/sh (see ShellQuote).
  std::string Render(const std::function<std::string_view(std::string_view)>& lookup,
                     bool shell_quote) const;

 private:
  std::vector<Part> parts_;
};

// A template as a manifest would write it: placeholders with their formats, braces doubled.
std::string TemplateText(const Template& t);

// Quotes a value for /bin/sh: unchanged when it holds only [A-Za-z0-9_@%+=:,./-] and is not
// empty, otherwise wrapped in single quotes with each ' written as '\''.
std::string ShellQuote(std::string_view value);
// ShellQuote(value), appended to `out`.
void AppendShellQuoted(std::string_view value, std::string& out);

}  // namespace jobrunner
