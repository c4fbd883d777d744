#include "schedule/worker_set.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <vector>

using jobrunner::WorkerSet;

namespace {

std::vector<int> Members(const WorkerSet& set, int from = 0) {
  std::vector<int> out;
  for (int id = set.NextFrom(from); id >= 0; id = set.NextFrom(id + 1)) out.push_back(id);
  return out;
}

}  // namespace

TEST_CASE("An empty worker set has no member to find") {
  WorkerSet set;
  CHECK(set.empty());
  CHECK(set.NextFrom(0) == -1);
  CHECK_FALSE(set.Contains(0));
  CHECK_FALSE(set.Contains(-1));
  set.Erase(5);
  CHECK(set.empty());
}

TEST_CASE("A worker set walks its members in id order, across words and summary words") {
  WorkerSet set;
  for (int id : {70000, 3, 64, 63, 4095, 4096, 0, 200000}) set.Insert(id);
  set.Insert(64);  // twice: still one member
  CHECK(set.size() == 8);
  CHECK(Members(set) == std::vector<int>{0, 3, 63, 64, 4095, 4096, 70000, 200000});
  CHECK(Members(set, 65) == std::vector<int>{4095, 4096, 70000, 200000});
  CHECK(set.NextFrom(-7) == 0);
  CHECK(set.NextFrom(200001) == -1);
  set.Erase(4095);
  set.Erase(4096);
  set.Erase(64);
  CHECK(Members(set, 4) == std::vector<int>{63, 70000, 200000});
  CHECK(set.size() == 5);
}

TEST_CASE("A worker set answers as a std::set does under random inserts and erases") {
  std::mt19937 random(7);
  WorkerSet set;
  std::set<int> model;
  for (int step = 0; step < 20000; ++step) {
    const int id = std::uniform_int_distribution<int>(0, 9000)(random);
    const bool member = std::uniform_int_distribution<int>(0, 2)(random) != 0;
    set.Set(id, member);
    if (member) {
      model.insert(id);
    } else {
      model.erase(id);
    }
    const int from = std::uniform_int_distribution<int>(0, 9100)(random);
    auto next = model.lower_bound(from);
    REQUIRE(set.NextFrom(from) == (next == model.end() ? -1 : *next));
    REQUIRE(set.Contains(id) == member);
    REQUIRE(set.size() == model.size());
  }
  CHECK(Members(set) == std::vector<int>(model.begin(), model.end()));
}
