#include "manifest/format_spec.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

namespace jobrunner {
namespace {

// Wider than any file name; a typo like {n:0600000d} should not ask for megabytes per task.
constexpr int kMaxWidth = 1000;
constexpr int kMaxPrecision = 100;
constexpr std::string_view kTypes = "sdxXobfFeEgG";
constexpr std::string_view kIntegerTypes = "dxXob";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Characters as Python counts them: UTF-8 continuation bytes do not start one.
std::size_t CharCount(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The first `chars` characters of `text`.
std::string_view FirstChars(std::string_view text, std::size_t chars) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && seen++ == chars) break;
  }
  return text.substr(0, i);
}

std::optional<std::int64_t> ReadInteger(std::string_view text) {
  std::size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  for (std::size_t k = i; k < text.size(); ++k) {
    if (!IsDigit(text[k])) return std::nullopt;
  }
  errno = 0;
  const std::string copy(text);
  char* end = nullptr;
  const long long value = std::strtoll(copy.c_str(), &end, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

std::optional<double> ReadNumber(std::string_view text) {
  if (text.empty() || !(IsDigit(text[0]) || text[0] == '-' || text[0] == '+' || text[0] == '.')) {
    return std::nullopt;
  }
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

std::string Digits(std::uint64_t magnitude, char type) {
  const unsigned base = type == 'x' || type == 'X' ? 16 : type == 'o' ? 8 : type == 'b' ? 2 : 10;
  const char* symbols = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), symbols[magnitude % base]);
    magnitude /= base;
  } while (magnitude > 0);
  return digits;
}

}  // namespace

FormatSpec FormatSpec::Parse(std::string_view text) {
  FormatSpec spec;
  spec.text_ = std::string(text);
  const auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  std::size_t i = 0;
  if (text.size() >= 2 && is_align(text[1])) {
    spec.fill_ = text[0];
    spec.align_ = text[1];
    i = 2;
  } else if (!text.empty() && is_align(text[0])) {
    spec.align_ = text[0];
    i = 1;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-' || text[i] == ' '))
    spec.sign_ = text[i++];
  if (i < text.size() && text[i] == '0') {
    spec.zero_ = true;
    ++i;
  }
  const auto number = [&](const char* what, int most) {
    int value = 0;
    while (i < text.size() && IsDigit(text[i])) {
      value = value * 10 + (text[i++] - '0');
      if (value > most) {
        throw std::invalid_argument(std::string(what) + " larger than " + std::to_string(most));
      }
    }
    return value;
  };
  spec.width_ = number("a width", kMaxWidth);
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (i == text.size() || !IsDigit(text[i])) {
      throw std::invalid_argument("'.' must be followed by a precision, as in .3f");
    }
    spec.precision_ = number("a precision", kMaxPrecision);
  }
  if (i < text.size() && kTypes.find(text[i]) != std::string_view::npos) spec.type_ = text[i++];
  if (i < text.size()) {
    throw std::invalid_argument(
        "unexpected '" + std::string(text.substr(i)) +
        "'; expected [[fill]align][sign][0][width][.precision][type] with type one of " +
        std::string(kTypes));
  }
  if (spec.precision_ >= 0 && kIntegerTypes.find(spec.type_) != std::string_view::npos &&
      spec.type_ != 0) {
    throw std::invalid_argument("a precision does not go with the integer type " +
                                std::string(1, spec.type_));
  }
  if (spec.type_ == 's' && (spec.sign_ != '-' || spec.align_ == '=')) {
    throw std::invalid_argument(spec.align_ == '=' ? "'=' alignment needs a number, not type s"
                                                   : "a sign needs a number, not type s");
  }
  return spec;
}

StatusOr<std::string> FormatSpec::Apply(std::string_view value) const {
  const std::optional<std::int64_t> integer = ReadInteger(value);
  char type = type_;
  if (type == 0) type = integer ? 'd' : 's';

  std::string sign;
  std::string body;
  bool numeric = true;
  if (type == 's') {
    if (sign_ != '-' || align_ == '=') {
      return Status::Error("'" + std::string(value) + "' is not a number, which " +
                           (align_ == '=' ? "'=' alignment" : "a sign") + " needs");
    }
    numeric = false;
    body = precision_ >= 0 ? std::string(FirstChars(value, precision_)) : std::string(value);
  } else if (kIntegerTypes.find(type) != std::string_view::npos) {
    if (!integer) return Status::Error("'" + std::string(value) + "' is not an integer");
    if (precision_ >= 0) return Status::Error("a precision does not go with an integer");
    const bool negative = *integer < 0;
    const std::uint64_t magnitude =
        negative ? 0 - static_cast<std::uint64_t>(*integer) : static_cast<std::uint64_t>(*integer);
    body = Digits(magnitude, type);
    if (negative) sign = "-";
  } else {
    const std::optional<double> number = ReadNumber(value);
    if (!number) return Status::Error("'" + std::string(value) + "' is not a number");
    const char format[] = {'%', '.', '*', type, '\0'};
    const int precision = precision_ >= 0 ? precision_ : 6;
    const int size = std::snprintf(nullptr, 0, format, precision, *number);
    body.resize(static_cast<std::size_t>(size) + 1);
    std::snprintf(body.data(), body.size(), format, precision, *number);
    body.pop_back();
    if (!body.empty() && body[0] == '-') {
      sign = "-";
      body.erase(0, 1);
    }
  }
  if (numeric && sign.empty() && sign_ != '-') sign = std::string(1, sign_);

  char align = align_;
  char fill = fill_;
  if (zero_ && align == 0) {
    fill = '0';
    align = numeric ? '=' : '<';
  }
  if (align == 0) align = numeric ? '>' : '<';
  const std::size_t length = CharCount(sign) + CharCount(body);
  const std::size_t pad = static_cast<std::size_t>(width_) > length ? width_ - length : 0;
  const std::string fill_text(pad, fill);
  switch (align) {
    case '<':
      return sign + body + fill_text;
    case '^':
      return std::string(pad / 2, fill) + sign + body + std::string(pad - pad / 2, fill);
    case '=':
      return sign + fill_text + body;
    default:
      return fill_text + sign + body;
  }
}

}  // namespace jobrunner
