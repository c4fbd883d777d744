#include "schedule/retry_queue.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

using jobrunner::Retry;
using jobrunner::RetryQueue;

TEST_CASE("Retries fall due in the order of their due time, ties in the order they came") {
  RetryQueue queue;
  queue.Add(Retry{1, 2, 1, 300, 1});
  queue.Add(Retry{2, 2, 1, 100, 1});
  queue.Add(Retry{3, 2, 1, 300, 1});
  queue.Add(Retry{4, 2, 1, 200, 1});
  CHECK(queue.size() == 4);
  CHECK(queue.NextDueAt() == 100);
  CHECK_FALSE(queue.FallsDueBy(99));
  CHECK(queue.Due(99).empty());
  std::vector<Retry>& due = queue.Due(200);
  REQUIRE(due.size() == 2);
  CHECK(due[0].index == 2);
  CHECK(due[1].index == 4);
  // Those left due stay first, and are still counted.
  due.erase(due.begin());
  CHECK(queue.NextDueAt() == 200);
  std::vector<std::uint64_t> order;
  for (const Retry& r : queue.TakeDue(1000)) order.push_back(r.index);
  CHECK(order == std::vector<std::uint64_t>{4, 1, 3});
  CHECK(queue.empty());
  CHECK_FALSE(queue.NextDueAt());
}
