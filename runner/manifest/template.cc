#include "manifest/template.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace jobrunner {
namespace {

constexpr bool IsIdentifierStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
constexpr bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || (c >= '0' && c <= '9'); }

// Length of the identifier at the start of `text`, 0 if there is none.
std::size_t IdentifierLength(std::string_view text) {
  if (text.empty() || !IsIdentifierStart(text[0])) return 0;
  std::size_t n = 1;
  while (n < text.size() && IsIdentifierChar(text[n])) ++n;
  return n;
}

// A byte the shell takes literally outside quotes. A table: every word of every task's command
// line is looked at byte by byte, and a search of the punctuation for each byte cost a library
// call each.
constexpr std::array<bool, 256> kShellSafe = [] {
  std::array<bool, 256> safe{};
  for (int c = 0; c < 256; ++c) safe[c] = IsIdentifierChar(static_cast<char>(c));
  for (const char c : std::string_view("@%+=:,./-")) safe[static_cast<unsigned char>(c)] = true;
  return safe;
}();

bool IsShellSafe(char c) { return kShellSafe[static_cast<unsigned char>(c)]; }

}  // namespace

Template Template::Parse(std::string_view text) {
  Template result;
  auto append_literal = [&result](std::string_view literal) {
    if (result.parts_.empty() || result.parts_.back().is_placeholder) {
      result.parts_.push_back(Part{false, {}, {}});
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
      const std::size_t after = i + 1 + length;
      if (length > 0 && after < text.size() && text[after] == '}') {
        result.parts_.push_back(Part{true, std::string(text.substr(i + 1, length)), {}});
        i += length + 2;
        continue;
      }
      const std::size_t close = length > 0 && after < text.size() && text[after] == ':'
                                    ? text.find_first_of("{}", after)
                                    : std::string_view::npos;
      if (close != std::string_view::npos && text[close] == '}') {
        const std::string_view name = text.substr(i + 1, length);
        const std::string_view format = text.substr(after + 1, close - after - 1);
        try {
          result.parts_.push_back(Part{true, std::string(name), FormatSpec::Parse(format)});
        } catch (const std::invalid_argument& e) {
          throw TemplateError("bad format in {" + std::string(name) + ":" + std::string(format) +
                              "}: " + e.what() + " (write {{ and }} for literal braces)");
        }
        i = close + 1;
        continue;
      }
    }
    append_literal(text.substr(i, 1));
    ++i;
  }
  return result;
}

Template Template::Literal(std::string_view text) {
  Template result;
  if (!text.empty()) result.parts_.push_back(Part{false, std::string(text), {}});
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
      continue;
    }
    const std::string_view value = lookup(part.text);
    if (!part.format) {
      if (shell_quote) {
        AppendShellQuoted(value, out);
      } else {
        out += value;
      }
      continue;
    }
    const StatusOr<std::string> formatted = part.format->Apply(value);
    const std::string_view text = formatted.ok() ? std::string_view(*formatted) : value;
    if (shell_quote) {
      AppendShellQuoted(text, out);
    } else {
      out += text;
    }
  }
  return out;
}

std::string TemplateText(const Template& t) {
  std::string text;
  for (const Template::Part& part : t.parts()) {
    if (part.is_placeholder) {
      text += "{" + part.text + (part.format ? ":" + part.format->text() : "") + "}";
      continue;
    }
    for (char c : part.text) text += c == '{' ? "{{" : c == '}' ? "}}" : std::string(1, c);
  }
  return text;
}

void AppendShellQuoted(std::string_view value, std::string& out) {
  if (!value.empty() && std::all_of(value.begin(), value.end(), IsShellSafe)) {
    out += value;
    return;
  }
  out += '\'';
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
}

std::string ShellQuote(std::string_view value) {
  std::string quoted;
  AppendShellQuoted(value, quoted);
  return quoted;
}

}  // namespace jobrunner
