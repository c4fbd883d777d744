#include "coordinator/progress_line.h"

#include <catch2/catch.hpp>

namespace jobrunner {
namespace {

Progress Sample() {
  Progress p;
  p.total = 1000;
  p.succeeded = 405;
  p.failed = 3;
  p.skipped = 2;
  p.running = 4;
  p.elapsed_ms = 33'000;
  return p;
}

TEST_CASE("The progress line counts done, failed, skipped apart, running, rate, ETA and time") {
  CHECK(ProgressText(Sample(), 12.5) ==
        "410/1000 (41%): 3 failed, 2 skipped, 4 running, 12.5 tasks/s, ETA 47.2s, elapsed 33s");
}

TEST_CASE("Without a rate yet the ETA is unknown, and a finished run has none left") {
  Progress p = Sample();
  CHECK(ProgressText(p, std::nullopt).find("? tasks/s, ETA ?,") != std::string::npos);
  CHECK(ProgressText(p, 0.0).find("0.0 tasks/s, ETA ?,") != std::string::npos);
  p.succeeded = p.total - 5;
  CHECK(ProgressText(p, std::nullopt).find("1000/1000 (100%)") == 0);
  CHECK(ProgressText(p, std::nullopt).find("ETA 0s") != std::string::npos);
}

TEST_CASE("The percentage rounds down, so 100% means every task ended") {
  Progress p;
  p.total = 1000;
  p.succeeded = 999;
  CHECK(ProgressText(p, 1.0).find("999/1000 (99%): 0 failed, 0 running") == 0);
}

TEST_CASE("A resumed run counts what earlier runs did, and says how much that was") {
  Progress p = Sample();
  p.done_earlier = 200;
  p.retrying = 1;
  CHECK(ProgressText(p, 100.0).find(
            "410/1000 (41%) (200 done earlier): 3 failed, 2 skipped, 4 running, 1 awaiting "
            "retry, 100 tasks/s") == 0);
}

TEST_CASE("The bar fills in proportion to the tasks ended and says the same in fewer words") {
  Progress p = Sample();
  CHECK(ProgressBar(p, 12.5, 10) ==
        "[####......] 41% 410/1000 3 failed 2 skipped 4 running 12.5/s ETA 47.2s elapsed 33s");
  p.done_earlier = 200;
  CHECK(ProgressBar(p, std::nullopt, 10).find("41% 410/1000 (200 earlier) 3 failed") !=
        std::string::npos);
  p.succeeded = p.total - 5;
  CHECK(ProgressBar(p, 12.5, 10).find("[##########] 100% 1000/1000") == 0);
  p.total = 0;
  p.succeeded = p.failed = p.skipped = 0;
  CHECK(ProgressBar(p, std::nullopt, 4).find("[####] 100% 0/0") == 0);
}

TEST_CASE("A bar fits an 80-column terminal while counts stay below 10^4") {
  Progress p;
  p.total = 9999;
  p.succeeded = 4120;
  p.failed = 300;
  p.running = 160;
  p.elapsed_ms = 3'600'000;
  CHECK(ProgressBar(p, 1.5, 10).size() <= 80);
}

TEST_CASE("The rate is that of the recent window, not of the whole run") {
  RateWindow window(10'000);
  CHECK_FALSE(window.PerSecond());
  window.Add(0, 0);
  window.Add(500, 100);
  CHECK_FALSE(window.PerSecond());  // half a second says little
  // 100 tasks/s for 20 s, then 10 tasks/s for 10 s: the window sees only the slow part.
  for (std::int64_t t = 1000; t <= 20'000; t += 1000)
    window.Add(t, static_cast<std::uint64_t>(t / 10));
  CHECK(*window.PerSecond() == Approx(100));
  for (std::int64_t t = 21'000; t <= 30'000; t += 1000) {
    window.Add(t, 2000 + static_cast<std::uint64_t>((t - 20'000) / 100));
  }
  CHECK(*window.PerSecond() == Approx(10));
  CHECK(window.SpanMs() == 10'000);
}

TEST_CASE("Samples closer than a quarter second update the newest count") {
  RateWindow window(10'000);
  window.Add(0, 0);
  window.Add(1000, 10);
  window.Add(1100, 20);  // same sample, newer count
  CHECK(window.SpanMs() == 1000);
  CHECK(*window.PerSecond() == Approx(20));
}

}  // namespace
}  // namespace jobrunner
