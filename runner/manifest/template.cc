#include "manifest/template.h"

#include <algorithm>

namespace jobrunner {
namespace {

bool IsIdentifierStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || (c >= '0' && c <= '9'); }

// Length of the identifier at the start of `text`, 0 if there is none.
std::size_t IdentifierLength(std::string_view text) {
  if (text.empty() || !IsIdentifierStart(text[0])) return 0;
  std::size_t n = 1;
  while (n < text.size() && IsIdentifierChar(text[n])) ++n;
  return n;
}

bool IsShellSafe(char c) {
  return IsIdentifierChar(c) || std::string_view("@%+=:,./-").find(c) != std::string_view::npos;
}

}  // namespace

Template Template::Parse(std::string_view text) {
  Template result;
  auto append_literal = [&result](std::string_view literal) {
    if (result.parts_.empty() || result.parts_.back().is_placeholder) {
      result.parts_.push_back(Part{false, {}});
    }
    result.parts_.back().text += literal;
  };

  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const bool doubled = i + 1 < text.size() && text[i + 1] == c;
    if ((c == '{' || c == '}') && doubled) {
      append_literal(text.substr(i, 1));
      i += 2;
      continue;
    }
    if (c == '{' && !(i > 0 && text[i - 1] == '$')) {
      const std::size_t length = IdentifierLength(text.substr(i + 1));
      if (length > 0 && i + 1 + length < text.size() && text[i + 1 + length] == '}') {
        result.parts_.push_back(Part{true, std::string(text.substr(i + 1, length))});
        i += length + 2;
        continue;
      }
    }
    append_literal(text.substr(i, 1));
    ++i;
  }
  return result;
}

std::vector<std::string> Template::Names() const {
  std::vector<std::string> names;
  for (const Part& part : parts_) {
    if (part.is_placeholder && std::find(names.begin(), names.end(), part.text) == names.end()) {
      names.push_back(part.text);
    }
  }
  return names;
}

bool Template::IsLiteral() const {
  return std::none_of(parts_.begin(), parts_.end(),
                      [](const Part& part) { return part.is_placeholder; });
}

std::string Template::Render(const std::function<std::string_view(std::string_view)>& lookup,
                             bool shell_quote) const {
  std::string out;
  for (const Part& part : parts_) {
    if (!part.is_placeholder) {
      out += part.text;
    } else if (shell_quote) {
      out += ShellQuote(lookup(part.text));
    } else {
      out += lookup(part.text);
    }
  }
  return out;
}

std::string ShellQuote(std::string_view value) {
  if (!value.empty() && std::all_of(value.begin(), value.end(), IsShellSafe)) {
    return std::string(value);
  }
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

}  // namespace jobrunner
