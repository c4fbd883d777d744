#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/template.h"

namespace jobrunner {

// A JSON value whose strings may hold `{name}` placeholders: built once from the manifest's YAML
// (a `kind: python` task's arguments) and rendered into JSON text for each task. Rendering only
// appends text, so it costs about what rendering the templates alone does.
//
// A string that is one placeholder and nothing else ("{alpha}") takes the value's own JSON type
// when the value has one: a matrix value written as a plain YAML number (or boolean) stays a
// number, as does {attempt}; anything else becomes a JSON string.
class JsonTemplate {
 public:
  // The text of a placeholder's value, as in Template::Render.
  using Lookup = std::function<std::string_view(std::string_view)>;
  // A placeholder's value as a JSON literal (a number, true or false), or empty when it is text.
  using JsonLookup = std::function<std::string_view(std::string_view)>;

  // Appends JSON text as it is (punctuation, numbers, literals).
  void AppendJson(std::string_view json);
  // Appends a string value, rendered from `text` per task.
  void AppendString(const Template& text);

  std::string Render(const Lookup& lookup, const JsonLookup& json_lookup) const;
  // Placeholder names, in order of appearance, each once.
  std::vector<std::string> Names() const;

 private:
  struct Part {
    enum class Type { kJson, kString, kValue } type = Type::kJson;
    std::string json;  // kJson
    Template text;     // kString
    std::string name;  // kValue: the placeholder that is the whole string
  };
  std::vector<Part> parts_;
};

// `text` as a JSON string, quotes included; invalid UTF-8 is replaced, so the result always
// parses.
std::string JsonString(std::string_view text);

// The JSON value of a plain (unquoted) YAML scalar that the YAML 1.2 core schema reads as a
// number or a boolean: "0.1" -> 0.1, "+5" -> 5, "1." -> 1.0, "0x1F" -> 31, ".inf" -> Infinity,
// "True" -> true. nullopt for anything else (strings, and the YAML 1.1 words yes, no, on, off).
// Integers keep every digit: Python reads them exactly, however large.
std::optional<std::string> JsonOfYamlNumberOrBool(std::string_view plain);

}  // namespace jobrunner
