#include <jobrunner/task_kind.h>

#include <catch2/catch.hpp>

using jobrunner::KindArgError;
using jobrunner::KindArgs;

TEST_CASE("A kind's duration argument longer than a year is refused, saying so") {
  const KindArgs args({{"long", "2562048h"}, {"year", "8760h"}, {"bad", "soon"}});
  CHECK(args.DurationMs("year") == std::int64_t{8760} * 3'600'000);
  CHECK_THROWS_MATCHES(args.DurationMs("long"), KindArgError,
                       Catch::Message("argument 'long': 2562048h is longer than 8760h (365 days), "
                                      "the longest duration accepted"));
  CHECK_THROWS_MATCHES(args.DurationMs("bad"), KindArgError,
                       Catch::Message("argument 'bad' is 'soon'; expected a duration such as "
                                      "500ms, 30s, 10m or 2h"));
}
