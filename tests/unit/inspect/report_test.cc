// The report's data, its page and the Chrome trace, from run directories written here; the page's
// script itself is exercised in a browser by tests/e2e/test_inspect.py.
#include "inspect/report.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "inspect/timeline.h"
#include "inspect/trace.h"
#include "temp_dir.h"

using namespace jobrunner;

namespace {

AttemptLine Line(const std::string& task, int worker, const std::string& host, std::int64_t start,
                 std::int64_t end, const std::string& outcome = "succeeded") {
  AttemptLine a;
  a.task = task;
  a.attempt = 1;
  a.worker = worker;
  a.host = host;
  a.start_ms = start;
  a.end_ms = end;
  a.outcome = outcome;
  return a;
}

}  // namespace

TEST_CASE("A worker's attempts go into the first slot free at their start") {
  ResultsFile results;
  // Rank 1: a and b overlap, c starts the moment a ends, e overlaps b and c; rank 2: d alone.
  results.attempts = {Line("a", 1, "h", 100, 110), Line("b", 1, "h", 105, 130),
                      Line("c", 1, "h", 110, 120), Line("d", 2, "h", 103, 104),
                      Line("e", 1, "h", 112, 115)};
  const Timeline t = BuildTimeline(results, nullptr, Liveness::kEnded, 0);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0].rank == 1);
  CHECK(t.rows[0].lanes == 3);
  CHECK(t.rows[1].lanes == 1);
  std::map<std::string, int> lane;
  for (const TimelineBar& bar : t.bars) lane[bar.task] = bar.lane;
  CHECK(lane["a"] == 0);
  CHECK(lane["b"] == 1);
  CHECK(lane["c"] == 0);
  CHECK(lane["e"] == 2);
  CHECK(t.start_ms == 100);
  CHECK(t.end_ms == 130);
}

TEST_CASE("Every worker that joined has a row, and what runs now has a bar up to now") {
  RunHistory history(2);
  history.Apply(RunStartedRecord{1000, 1, 2});
  history.Apply(WorkerJoinedRecord{1, "a", 11, 2});
  history.Apply(WorkerJoinedRecord{2, "b", 12, 2});
  history.Apply(TaskDispatchedRecord{0, 1, 2});
  history.Apply(TaskStartedRecord{0, 1, 1500, "long"});
  ResultsFile results;
  const Timeline live = BuildTimeline(results, &history, Liveness::kLive, 9000);
  REQUIRE(live.rows.size() == 2);
  CHECK(live.rows[0].host == "a");
  CHECK(live.rows[0].slots == 2);
  REQUIRE(live.bars.size() == 1);
  CHECK(live.bars[0].row == 1);
  CHECK(live.bars[0].outcome == "running");
  CHECK(live.bars[0].end_ms == 9000);
  const Timeline stopped = BuildTimeline(results, &history, Liveness::kStopped, 9000);
  CHECK(stopped.bars[0].outcome == "interrupted");
  CHECK(stopped.bars[0].end_ms == 1500);  // the journal's last word
  // The time was read before the journal, in which the task then started: its bar is still drawn.
  const Timeline read_early = BuildTimeline(results, &history, Liveness::kLive, 1400);
  REQUIRE(read_early.bars.size() == 1);
  CHECK(read_early.bars[0].start_ms == 1500);
  CHECK(read_early.bars[0].end_ms == 1500);
}

TEST_CASE("The trace has a named process per worker, a thread per slot and a slice per attempt") {
  ResultsFile results;
  results.attempts = {Line("a", 1, "h", 1000, 1010), Line("b", 1, "h", 1005, 1030, "failed")};
  const nlohmann::json trace = ChromeTrace(BuildTimeline(results, nullptr, Liveness::kEnded, 0));
  int processes = 0, threads = 0;
  std::vector<nlohmann::json> slices;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") ++processes;
    if (e["ph"] == "M" && e["name"] == "thread_name") ++threads;
    if (e["ph"] == "X") slices.push_back(e);
  }
  CHECK(processes == 1);
  CHECK(threads == 2);
  REQUIRE(slices.size() == 2);
  CHECK(slices[1]["name"] == "b");
  CHECK(slices[1]["cat"] == "failed");
  CHECK(slices[1]["ts"] == 5000);
  CHECK(slices[1]["dur"] == 25000);
  CHECK(slices[1]["tid"] == 2);
}

TEST_CASE("The page holds its data where no text in it can end the script element") {
  const nlohmann::json data = {{"manifest", "echo '</script><!-- hi'"}};
  const std::string page = ReportPage(data);
  CHECK(page.find("@REPORT_DATA@") == std::string::npos);
  CHECK(page.find("</script><!--") == std::string::npos);
  CHECK(page.find("\\u003c/script>\\u003c!-- hi") != std::string::npos);
  // Nothing from the network: no remote script, style or font.
  CHECK(page.find("http://") == std::string::npos);
  CHECK(page.find("https://") == std::string::npos);
}

TEST_CASE("The report's data has one column entry per attempt and the entries of the manifest") {
  testing::TempDir dir;
  std::ofstream(dir / "manifest.yaml")
      << "version: 1\ntasks:\n  - id: a-{n}\n    command: [x]\n    matrix:\n"
         "      n: {range: [0, 2]}\n  - id: b\n    command: [y]\n";
  std::ofstream(dir / "results.jsonl")
      << R"({"task":"a-0","index":0,"attempt":1,"worker":1,"host":"h","start":"2023-11-14T22:13:20.000Z","end":"2023-11-14T22:13:21.000Z","outcome":"succeeded"})"
      << "\n"
      << R"({"task":"b","index":2,"attempt":1,"worker":1,"host":"h","start":"2023-11-14T22:13:20.500Z","end":"2023-11-14T22:13:22.000Z","outcome":"failed","exit_code":1,"retry":false})"
      << "\n";
  const nlohmann::json data = ReportData(dir.str(), 0);
  const nlohmann::json& a = data["attempts"];
  for (const char* column :
       {"row", "lane", "start", "duration", "outcome", "task", "attempt", "group"}) {
    INFO(column);
    CHECK(a[column].size() == 2);
  }
  CHECK(data["groups"].size() == 2);
  CHECK(a["group"] == nlohmann::json::array({0, 1}));
  CHECK(a["start"] == nlohmann::json::array({0, 500}));
  CHECK(a["duration"] == nlohmann::json::array({1000, 1500}));
  CHECK(data["ids"] == nlohmann::json::array({"a-0", "b"}));
  CHECK(data["rows"].size() == 1);
  REQUIRE(data["failures"].size() == 1);
  CHECK(data["failures"][0]["task"] == "b");
  CHECK(data["manifest"].get<std::string>().rfind("version: 1", 0) == 0);
}
