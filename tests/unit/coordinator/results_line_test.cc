// The results.jsonl line of an attempt, written field by field without a json tree: every text
// field must come out as the JSON string of its value, whatever bytes it holds and wherever they
// fall (the check for bytes that need escaping looks at sixteen at a time), and a line longer than
// the room first made for it must come out whole.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "coordinator/results.h"
#include "temp_dir.h"

namespace jobrunner {
namespace {

using nlohmann::json;
using testing::ReadFile;
using testing::TempDir;

// The lines of results.jsonl after `write` has formatted attempts into `results`.
template <class Write>
std::vector<std::string> LinesAfter(Write write) {
  TempDir dir;
  {
    ResultsWriter results(dir.str(), /*append=*/false);
    write(results);
    results.Flush();
  }
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(dir / "results.jsonl"));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// An attempt whose text fields all hold `text`.
AttemptResult AttemptWithText(const std::string& text) {
  AttemptResult r;
  r.index = 7;
  r.attempt = 2;
  r.outcome = Outcome::kFailed;
  r.exit_code = 3;
  r.start_ms = 1'700'000'000'000;
  r.end_ms = 1'700'000'001'234;
  r.stdout_path = "/elsewhere/" + text;
  r.stderr_path = "/elsewhere/" + text + ".err";
  r.error = text;
  return r;
}

// The texts a line must carry exactly: every length around the sixteen-byte steps, with the one
// byte that needs escaping (or is not ASCII) first, last, and at each place in between.
std::vector<std::string> Texts() {
  std::vector<std::string> texts = {"", "plain", std::string(300, 'x')};
  for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f', '\xc3'}) {
    for (std::size_t size : {1, 2, 15, 16, 17, 31, 32, 33, 47}) {
      for (std::size_t at = 0; at < size; ++at) {
        std::string text(size, 'a');
        text[at] = special;
        texts.push_back(text);
      }
    }
  }
  texts.push_back("caf\xc3\xa9 \xe2\x82\xac and a long tail of plain bytes after them");
  return texts;
}

TEST_CASE("Every text field of an attempt's line is the JSON string of its value") {
  const std::vector<std::string> texts = Texts();
  const std::vector<std::string> lines = LinesAfter([&](ResultsWriter& results) {
    for (const std::string& text : texts) {
      results.Attempt(text, AttemptWithText(text), 4, "host-" + text, /*will_retry=*/true,
                      /*result_json=*/"", "run " + text);
    }
  });
  REQUIRE(lines.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    INFO("text " << json(text).dump(-1, ' ', false, json::error_handler_t::replace));
    // Exactly what nlohmann writes for the value (it replaces invalid UTF-8, as the line does).
    const auto quoted = [](const std::string& value) {
      return json(value).dump(-1, ' ', false, json::error_handler_t::replace);
    };
    CHECK(lines[i].find("\"task\":" + quoted(text) + ",") != std::string::npos);
    CHECK(lines[i].find("\"host\":" + quoted("host-" + text) + ",") != std::string::npos);
    if (!text.empty()) {  // an empty error is left out
      CHECK(lines[i].find("\"error\":" + quoted(text)) != std::string::npos);
    }
    CHECK(lines[i].find("\"command\":" + quoted("run " + text)) != std::string::npos);
    const json line = json::parse(lines[i], nullptr, /*allow_exceptions=*/false);
    REQUIRE(line.is_object());
    CHECK(line["index"] == 7);
    CHECK(line["attempt"] == 2);
    CHECK(line["worker"] == 4);
    CHECK(line["exit_code"] == 3);
    CHECK(line["duration_s"] == 1.234);
    CHECK(line["start"] == "2023-11-14T22:13:20.000Z");
    CHECK(line["end"] == "2023-11-14T22:13:21.234Z");
    CHECK(line["retry"] == true);
  }
}

TEST_CASE("A line far longer than the room first made for it is written whole") {
  const std::string huge(100'000, 'q');
  const std::string escaped(20'000, '"');  // each takes two bytes in the line
  const std::vector<std::string> lines = LinesAfter([&](ResultsWriter& results) {
    results.Attempt("t-1", AttemptWithText(huge), 1, "h", false, "", "");
    results.Attempt("t-2", AttemptWithText(escaped), 1, "h", false, "", "");
    results.Attempt("t-3", AttemptWithText("after"), 1, "h", false, "", "");
  });
  REQUIRE(lines.size() == 3);
  CHECK(json::parse(lines[0])["error"] == huge);
  CHECK(json::parse(lines[1])["error"] == escaped);
  CHECK(json::parse(lines[2])["error"] == "after");
}

TEST_CASE("Every number of an attempt's line is written in full, whatever its digits") {
  const std::vector<std::uint64_t> values = {0,
                                             1,
                                             9,
                                             10,
                                             99,
                                             100,
                                             101,
                                             12345,
                                             1000000,
                                             987654321,
                                             1u << 31,
                                             ~std::uint64_t{0},
                                             10000000000000000000u};
  const std::vector<std::string> lines = LinesAfter([&](ResultsWriter& results) {
    for (const std::uint64_t value : values) {
      AttemptResult r = AttemptWithText("t");
      r.index = value;
      r.stdout_bytes = value;
      r.end_ms = r.start_ms + static_cast<std::int64_t>(value % 100'000'000);
      results.Attempt("t", r, 1, "h", false, "", "");
    }
  });
  REQUIRE(lines.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO(lines[i]);
    const json line = json::parse(lines[i]);
    CHECK(line["index"].get<std::uint64_t>() == values[i]);
    CHECK(line["stdout_bytes"].get<std::uint64_t>() == values[i]);
    const std::uint64_t ms = values[i] % 100'000'000;
    CHECK(lines[i].find("\"duration_s\":" + std::to_string(ms / 1000) + "." +
                        std::string(3 - std::to_string(ms % 1000).size(), '0') +
                        std::to_string(ms % 1000) + ",") != std::string::npos);
  }
}

}  // namespace
}  // namespace jobrunner
