#include "manifest/json_template.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace jobrunner {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsDigit);
}

// Digits without leading zeros ("007" -> "7", "000" -> "0").
std::string_view TrimZeros(std::string_view digits) {
  const std::size_t first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? digits.substr(digits.size() - 1) : digits.substr(first);
}

// 0x1F and 0o17, as the YAML 1.2 core schema writes them; nullopt past 64 bits.
std::optional<std::string> RadixInteger(std::string_view text) {
  if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'o')) return std::nullopt;
  std::uint64_t value = 0;
  const std::string_view digits = text.substr(2);
  const auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value, text[1] == 'x' ? 16 : 8);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return std::to_string(value);
}

}  // namespace

void JsonTemplate::AppendJson(std::string_view json) {
  if (parts_.empty() || parts_.back().type != Part::Type::kJson) parts_.emplace_back();
  parts_.back().json += json;
}

void JsonTemplate::AppendString(const Template& text) {
  const auto& pieces = text.parts();
  if (text.IsLiteral()) {
    std::string literal;
    for (const auto& piece : pieces) literal += piece.text;
    AppendJson(JsonString(literal));
    return;
  }
  Part part;
  if (pieces.size() == 1) {
    part.type = Part::Type::kValue;
    part.name = pieces[0].text;
  } else {
    part.type = Part::Type::kString;
    part.text = text;
  }
  parts_.push_back(std::move(part));
}

std::string JsonTemplate::Render(const Lookup& lookup, const JsonLookup& json_lookup) const {
  std::string out;
  for (const Part& part : parts_) {
    switch (part.type) {
      case Part::Type::kJson:
        out += part.json;
        break;
      case Part::Type::kString:
        out += JsonString(part.text.Render(lookup, /*shell_quote=*/false));
        break;
      case Part::Type::kValue: {
        const std::string_view json = json_lookup(part.name);
        out += json.empty() ? JsonString(lookup(part.name)) : std::string(json);
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> JsonTemplate::Names() const {
  std::vector<std::string> names;
  auto add = [&names](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const Part& part : parts_) {
    if (part.type == Part::Type::kValue) add(part.name);
    if (part.type == Part::Type::kString) {
      for (const std::string& name : part.text.Names()) add(name);
    }
  }
  return names;
}

std::string JsonString(std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted += '"';
    quoted += text;
    quoted += '"';
    return quoted;
  }
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> JsonOfYamlNumberOrBool(std::string_view plain) {
  if (plain == "true" || plain == "True" || plain == "TRUE") return "true";
  if (plain == "false" || plain == "False" || plain == "FALSE") return "false";
  if (std::optional<std::string> integer = RadixInteger(plain)) return integer;
  std::string sign;
  std::string_view rest = plain;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    if (rest[0] == '-') sign = "-";
    rest.remove_prefix(1);
  }
  // Python's json reads these three words as floats, as YAML means them.
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") return sign + "Infinity";
  if (sign.empty() && plain.size() == rest.size() &&
      (rest == ".nan" || rest == ".NaN" || rest == ".NAN")) {
    return "NaN";
  }
  // [0-9]* ( . [0-9]* )? ( [eE] [-+]? [0-9]+ )?, with at least one digit before the exponent.
  const std::size_t exponent_at = rest.find_first_of("eE");
  std::string_view mantissa = rest.substr(0, exponent_at);
  std::string_view exponent =
      exponent_at == std::string_view::npos ? std::string_view() : rest.substr(exponent_at + 1);
  const std::size_t dot = mantissa.find('.');
  const std::string_view whole = mantissa.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
  if ((!whole.empty() && !AllDigits(whole)) || (!fraction.empty() && !AllDigits(fraction)) ||
      (whole.empty() && fraction.empty())) {
    return std::nullopt;
  }
  if (exponent_at != std::string_view::npos) {
    std::string_view digits = exponent;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    if (!AllDigits(digits)) return std::nullopt;
  }
  std::string json = sign + std::string(whole.empty() ? "0" : TrimZeros(whole));
  if (dot != std::string_view::npos) {
    json += "." + std::string(fraction.empty() ? "0" : fraction);
  }
  if (exponent_at != std::string_view::npos) json += "e" + std::string(exponent);
  return json;
}

}  // namespace jobrunner
