// Every input committed under tests/fuzz/ (the seed corpus, and every input a fuzzer found a
// problem with) through its fuzz target, in every build: what was once fixed stays fixed.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz_targets.h"

namespace {

namespace fs = std::filesystem;

void ReplayAll(const std::string& target, void (*run)(std::string_view)) {
  int replayed = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(FUZZ_DIR) / kind / target;
    if (!fs::is_directory(dir)) continue;
    for (const fs::directory_entry& file : fs::directory_iterator(dir)) {
      std::ifstream in(file.path(), std::ios::binary);
      const std::string input((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      INFO(file.path().string());
      CHECK_NOTHROW(run(input));
      ++replayed;
    }
  }
  CHECK(replayed > 0);
}

}  // namespace

TEST_CASE("Every committed fuzz input of the manifest reader passes") {
  ReplayAll("manifest", jobrunner::fuzz::Manifest);
}

TEST_CASE("Every committed fuzz input of templates passes") {
  ReplayAll("template", jobrunner::fuzz::Template);
}

TEST_CASE("Every committed fuzz input of durations and sizes passes") {
  ReplayAll("units", jobrunner::fuzz::Units);
}

TEST_CASE("Every committed fuzz input of the journal reader passes") {
  ReplayAll("journal", jobrunner::fuzz::Journal);
}

TEST_CASE("Every committed fuzz input of the protocol decoder passes") {
  ReplayAll("protocol", jobrunner::fuzz::Protocol);
}
