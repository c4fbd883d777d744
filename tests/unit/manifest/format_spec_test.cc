#include "manifest/format_spec.h"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

using jobrunner::FormatSpec;

namespace {

// `value` formatted by `spec`, or "error: <why>".
std::string Format(const std::string& spec, const std::string& value) {
  const auto formatted = FormatSpec::Parse(spec).Apply(value);
  return formatted.ok() ? *formatted : "error: " + formatted.status().message();
}

}  // namespace

TEST_CASE("Integers are zero-padded, aligned and signed as Python formats them") {
  CHECK(Format("06d", "42") == "000042");
  CHECK(Format("06d", "-42") == "-00042");
  CHECK(Format("06", "7") == "000007");
  CHECK(Format("03d", "12345") == "12345");
  CHECK(Format(">5", "42") == "   42");
  CHECK(Format("<5d", "42") == "42   ");
  CHECK(Format("^6", "42") == "  42  ");
  CHECK(Format("*>6", "42") == "****42");
  CHECK(Format("+d", "5") == "+5");
  CHECK(Format(" d", "5") == " 5");
  CHECK(Format("=+6", "5") == "+    5");
  CHECK(Format("x", "255") == "ff");
  CHECK(Format("X", "255") == "FF");
  CHECK(Format("08b", "5") == "00000101");
  CHECK(Format("o", "8") == "10");
  CHECK(Format("d", "-9223372036854775808") == "-9223372036854775808");
}

TEST_CASE("Numbers take f, e and g with Python's default precision of six") {
  CHECK(Format(".3f", "3.14159") == "3.142");
  CHECK(Format("f", "2") == "2.000000");
  CHECK(Format("08.2f", "-1.5") == "-0001.50");
  CHECK(Format(".2e", "12345") == "1.23e+04");
  CHECK(Format("g", "0.0001") == "0.0001");
}

TEST_CASE("Text is aligned left by default and cut by a precision") {
  CHECK(Format(">8", "abc") == "     abc");
  CHECK(Format("8", "abc") == "abc     ");
  CHECK(Format(".2", "abcdef") == "ab");
  CHECK(Format("s", "42") == "42");
  CHECK(Format("_^7s", "ab") == "__ab___");
  // Characters, not bytes: a two-byte é counts once.
  CHECK(Format(">4", "\xc3\xa9") == "   \xc3\xa9");
}

TEST_CASE("A value that does not suit the type says why") {
  CHECK(Format("d", "abc") == "error: 'abc' is not an integer");
  CHECK(Format("06d", "1.5") == "error: '1.5' is not an integer");
  CHECK(Format(".2f", "x") == "error: 'x' is not a number");
  CHECK(Format("+", "abc") == "error: 'abc' is not a number, which a sign needs");
  CHECK(Format(".2", "12") == "error: a precision does not go with an integer");
}

TEST_CASE("A spec outside the subset is refused when it is read") {
  CHECK_THROWS_WITH(FormatSpec::Parse("06q"), Catch::Contains("unexpected 'q'"));
  CHECK_THROWS_WITH(FormatSpec::Parse(".f"), Catch::Contains("followed by a precision"));
  CHECK_THROWS_WITH(FormatSpec::Parse(".2d"), Catch::Contains("precision does not go"));
  CHECK_THROWS_WITH(FormatSpec::Parse(",d"), Catch::Contains("unexpected ',d'"));
  CHECK_THROWS_WITH(FormatSpec::Parse("+s"), Catch::Contains("a sign needs a number"));
  CHECK_THROWS_WITH(FormatSpec::Parse("99999"), Catch::Contains("a width larger than 1000"));
  CHECK_NOTHROW(FormatSpec::Parse(""));
}
