#include "manifest/json_template.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

using jobrunner::JsonOfYamlNumberOrBool;
using jobrunner::JsonString;
using jobrunner::JsonTemplate;
using jobrunner::Template;

namespace {

// Renders with the text values `text` and, for the names in `json`, those JSON values.
std::string Render(const JsonTemplate& t, const std::map<std::string, std::string>& text,
                   const std::map<std::string, std::string>& json = {}) {
  return t.Render(
      [&](std::string_view name) -> std::string_view { return text.at(std::string(name)); },
      [&](std::string_view name) -> std::string_view {
        auto it = json.find(std::string(name));
        return it == json.end() ? std::string_view() : std::string_view(it->second);
      });
}

}  // namespace

TEST_CASE("Plain YAML numbers become JSON numbers, every digit kept") {
  CHECK(JsonOfYamlNumberOrBool("42") == "42");
  CHECK(JsonOfYamlNumberOrBool("-7") == "-7");
  CHECK(JsonOfYamlNumberOrBool("+5") == "5");
  CHECK(JsonOfYamlNumberOrBool("007") == "7");
  CHECK(JsonOfYamlNumberOrBool("0") == "0");
  CHECK(JsonOfYamlNumberOrBool("123456789012345678901234567890") ==
        "123456789012345678901234567890");
  CHECK(JsonOfYamlNumberOrBool("0.1") == "0.1");
  CHECK(JsonOfYamlNumberOrBool("1.0") == "1.0");
  CHECK(JsonOfYamlNumberOrBool(".5") == "0.5");
  CHECK(JsonOfYamlNumberOrBool("1.") == "1.0");
  CHECK(JsonOfYamlNumberOrBool("1e3") == "1e3");
  CHECK(JsonOfYamlNumberOrBool("-2.5E-3") == "-2.5e-3");
  CHECK(JsonOfYamlNumberOrBool("0x1F") == "31");
  CHECK(JsonOfYamlNumberOrBool("0o17") == "15");
}

TEST_CASE("Infinity and NaN are written as Python's json reads them") {
  CHECK(JsonOfYamlNumberOrBool(".inf") == "Infinity");
  CHECK(JsonOfYamlNumberOrBool("-.Inf") == "-Infinity");
  CHECK(JsonOfYamlNumberOrBool(".nan") == "NaN");
}

TEST_CASE("Booleans are YAML 1.2's only: yes, no, on and off stay strings") {
  CHECK(JsonOfYamlNumberOrBool("true") == "true");
  CHECK(JsonOfYamlNumberOrBool("False") == "false");
  CHECK_FALSE(JsonOfYamlNumberOrBool("yes"));
  CHECK_FALSE(JsonOfYamlNumberOrBool("off"));
}

TEST_CASE("Text that only looks like a number stays text") {
  for (const char* text : {"", ".", "-", "1.2.3", "1e", "e5", "1_000", "0x", "0xZZ", "12abc", "1 2",
                           "+.inf.", "nan", "inf", "--1"}) {
    INFO(text);
    CHECK_FALSE(JsonOfYamlNumberOrBool(text));
  }
}

TEST_CASE("A string that is one placeholder takes its value's JSON type when it has one") {
  JsonTemplate t;
  t.AppendJson("[");
  t.AppendString(Template::Parse("{alpha}"));
  t.AppendJson(",");
  t.AppendString(Template::Parse("{name}"));
  t.AppendJson("]");
  CHECK(Render(t, {{"alpha", "0.10"}, {"name", "7"}}, {{"alpha", "0.10"}}) == "[0.10,\"7\"]");
  CHECK(t.Names() == std::vector<std::string>{"alpha", "name"});
}

TEST_CASE("A placeholder inside a longer string is text, escaped as JSON") {
  JsonTemplate t;
  t.AppendString(Template::Parse("run-{n}: \"{q}\""));
  CHECK(Render(t, {{"n", "3"}, {"q", "a\\b\nc"}}, {{"n", "3"}}) == R"("run-3: \"a\\b\nc\"")");
}

TEST_CASE("Literal strings are quoted once, when the template is built") {
  JsonTemplate t;
  t.AppendString(Template::Parse("plain {{braces}}"));
  CHECK(Render(t, {}) == "\"plain {braces}\"");
  CHECK(t.Names().empty());
}

TEST_CASE("JSON strings replace invalid UTF-8 rather than break the document") {
  CHECK(JsonString("ok") == "\"ok\"");
  CHECK(JsonString("tab\there") == "\"tab\\there\"");
  CHECK(JsonString("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(JsonString("bad \xff byte") == "\"bad \xef\xbf\xbd byte\"");
}
