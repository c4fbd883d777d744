#include "manifest/template.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <string>

using jobrunner::ShellQuote;
using jobrunner::Template;

namespace {

// Renders `text` with the values in `values`.
std::string Render(std::string_view text, const std::map<std::string, std::string>& values,
                   bool shell_quote = false) {
  return Template::Parse(text).Render(
      [&values](std::string_view name) -> std::string_view { return values.at(std::string(name)); },
      shell_quote);
}

// What /bin/sh makes of `word`: the real test of quoting.
std::string ShellEcho(const std::string& word) {
  std::FILE* pipe = popen(("printf '%s' " + word).c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[256];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);
  return out;
}

}  // namespace

TEST_CASE("Text without braces is one literal part") {
  const Template t = Template::Parse("convert in.png out.jpg");
  CHECK(t.IsLiteral());
  REQUIRE(t.parts().size() == 1);
  CHECK(t.parts()[0].text == "convert in.png out.jpg");
  CHECK(t.Names().empty());
}

TEST_CASE("An empty template has no parts and renders empty") {
  const Template t = Template::Parse("");
  CHECK(t.IsLiteral());
  CHECK(t.parts().empty());
  CHECK(Render("", {}) == "");
}

TEST_CASE("A braced identifier is a placeholder between literal parts") {
  const Template t = Template::Parse("in/{n}.png");
  CHECK_FALSE(t.IsLiteral());
  REQUIRE(t.parts().size() == 3);
  CHECK_FALSE(t.parts()[0].is_placeholder);
  CHECK(t.parts()[0].text == "in/");
  CHECK(t.parts()[1].is_placeholder);
  CHECK(t.parts()[1].text == "n");
  CHECK(t.parts()[2].text == ".png");
}

TEST_CASE("Placeholder names are listed once each, in order of first appearance") {
  const Template t = Template::Parse("{b}-{a_1}-{b}{_x}{A9}");
  CHECK(t.Names() == std::vector<std::string>{"b", "a_1", "_x", "A9"});
}

TEST_CASE("Adjacent placeholders render next to each other") {
  CHECK(Render("{a}{b}", {{"a", "x"}, {"b", "y"}}) == "xy");
  CHECK(Render("{a}", {{"a", ""}}) == "");
}

TEST_CASE("Braces around anything but an identifier are literal text") {
  for (const char* text :
       {"{}", "{1}", "{1n}", "{ n }", "{n-m}", "{n.m}", "{", "}", "{n", "n}", "a{b c}d", "}{"}) {
    INFO(text);
    const Template t = Template::Parse(text);
    CHECK(t.IsLiteral());
    CHECK(Render(text, {}) == text);
  }
}

TEST_CASE("An awk program passes through unchanged") {
  const std::string awk =
      "awk '{print $1}' in.txt | sort -k2,2 | awk '{ s += $2 } END { print s }'";
  CHECK(Template::Parse(awk).IsLiteral());
  CHECK(Render(awk, {}) == awk);
}

TEST_CASE("A brace right after a dollar sign is a shell variable, not a placeholder") {
  CHECK(Template::Parse("echo ${HOME} ${n}").IsLiteral());
  CHECK(Render("echo ${HOME}/{n}", {{"n", "3"}}) == "echo ${HOME}/3");
  CHECK(Render("$n{n}", {{"n", "3"}}) == "$n3");
}

TEST_CASE("Doubled braces stand for single braces") {
  CHECK(Template::Parse("{{n}}").IsLiteral());
  CHECK(Render("{{n}}", {}) == "{n}");
  CHECK(Render("{{{n}}}", {{"n", "7"}}) == "{7}");
  CHECK(Render("a{{b", {}) == "a{b");
  CHECK(Render("a}}b", {}) == "a}b");
  CHECK(Render("{n}}}", {{"n", "7"}}) == "7}");
}

TEST_CASE("Rendering substitutes values as they are, without quoting") {
  CHECK(Render("out/{name}.txt", {{"name", "a b'c"}}) == "out/a b'c.txt");
}

TEST_CASE("Rendering for the shell quotes each substituted value but not the literal text") {
  CHECK(Render("grep {pattern} '{file}' > out", {{"pattern", "a b"}, {"file", "x"}}, true) ==
        "grep 'a b' 'x' > out");
  CHECK(Render("echo {n}", {{"n", "42"}}, true) == "echo 42");
}

TEST_CASE("Shell quoting leaves safe words alone") {
  for (const char* word : {"abc", "A-Z_09", "path/to/file.txt", "key=value", "user@host:22", "50%",
                           "a+b", "a,b", "-n"}) {
    CHECK(ShellQuote(word) == word);
  }
}

TEST_CASE("Shell quoting wraps anything else in single quotes") {
  CHECK(ShellQuote("") == "''");
  CHECK(ShellQuote("a b") == "'a b'");
  CHECK(ShellQuote("$HOME") == "'$HOME'");
  CHECK(ShellQuote("it's") == "'it'\\''s'");
  CHECK(ShellQuote("*") == "'*'");
  CHECK(ShellQuote("a\nb") == "'a\nb'");
}

TEST_CASE("Shell-quoted values reach the command intact through /bin/sh") {
  for (const char* value : {"", "plain", "two words", "it's", "\"double\"", "$HOME", "`id`",
                            "$(id)", "a;b|c&d", "*?[", "back\\slash", "'", "''", "a\nb", "~"}) {
    INFO(value);
    CHECK(ShellEcho(ShellQuote(value)) == value);
  }
}

TEST_CASE("A placeholder with a format renders its value formatted") {
  CHECK(Render("run-{n:04d}.log", {{"n", "7"}}) == "run-0007.log");
  CHECK(Render("{x:.2f} {name:>5}", {{"x", "0.5"}, {"name", "ab"}}) == "0.50    ab");
  const Template t = Template::Parse("{n:03d}");
  REQUIRE(t.parts().size() == 1);
  CHECK(t.parts()[0].text == "n");
  REQUIRE(t.parts()[0].format);
  CHECK(t.parts()[0].format->text() == "03d");
  CHECK(jobrunner::TemplateText(t) == "{n:03d}");
}

TEST_CASE("A formatted value is shell-quoted after formatting") {
  CHECK(Render("echo {name:>4}", {{"name", "a"}}, /*shell_quote=*/true) == "echo '   a'");
}

TEST_CASE("A placeholder with a format it does not understand is an error, not text") {
  CHECK_THROWS_AS(Template::Parse("{n:06q}"), jobrunner::TemplateError);
  CHECK_THROWS_WITH(Template::Parse("a {n:zz} b"),
                    Catch::StartsWith("bad format in {n:zz}: unexpected 'zz'"));
}

TEST_CASE("Braces that are not a named placeholder stay text, with or without a colon") {
  CHECK(Render("${x:-default} {a b:c} {{n:2}}", {}) == "${x:-default} {a b:c} {n:2}");
}
