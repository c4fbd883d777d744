#include "base/text.h"

#include <catch2/catch.hpp>
#include <string>

namespace jobrunner {
namespace {

TEST_CASE("Well-formed UTF-8 is told from byte strings that are not") {
  for (const char* good : {"", "plain ascii", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                           "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    CAPTURE(good);
    CHECK(IsValidUtf8(good));
  }
  for (const char* bad : {"\xff", "\x80", "caf\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe6\x97", "a\xc3(b"}) {
    CAPTURE(bad);
    CHECK_FALSE(IsValidUtf8(bad));
  }
}

TEST_CASE("A path's directory and base name are split at its last slash") {
  CHECK(DirectoryOf("/run/logs/a.1.out") == "/run/logs");
  CHECK(BaseNameOf("/run/logs/a.1.out") == "a.1.out");
  CHECK(DirectoryOf("journal") == ".");
  CHECK(BaseNameOf("journal") == "journal");
  CHECK(DirectoryOf("/journal") == "/");
  CHECK(BaseNameOf("/journal") == "journal");
}

}  // namespace
}  // namespace jobrunner
