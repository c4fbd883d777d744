#include "inspect/trace.h"

#include <fmt/format.h>

#include "inspect/results_file.h"

namespace jobrunner {

nlohmann::json ChromeTrace(const Timeline& timeline) {
  using nlohmann::json;
  json events = json::array();
  for (std::size_t r = 0; r < timeline.rows.size(); ++r) {
    const TimelineRow& row = timeline.rows[r];
    const int pid = static_cast<int>(r) + 1;
    const std::string name = row.host.empty() ? fmt::format("rank {}", row.rank)
                                              : fmt::format("rank {} on {}", row.rank, row.host);
    events.push_back(
        {{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"args", {{"name", name}}}});
    events.push_back(
        {{"ph", "M"}, {"name", "process_sort_index"}, {"pid", pid}, {"args", {{"sort_index", r}}}});
    for (int lane = 0; lane < row.lanes; ++lane) {
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", pid},
                        {"tid", lane + 1},
                        {"args", {{"name", fmt::format("slot {}", lane + 1)}}}});
    }
  }
  for (const TimelineBar& bar : timeline.bars) {
    events.push_back(
        {{"ph", "X"},
         {"name", bar.task},
         {"cat", bar.outcome},
         {"pid", static_cast<int>(bar.row) + 1},
         {"tid", bar.lane + 1},
         {"ts", (bar.start_ms - timeline.start_ms) * 1000},
         {"dur", (bar.end_ms - bar.start_ms) * 1000},
         {"args", {{"attempt", bar.attempt}, {"outcome", bar.outcome}, {"index", bar.index}}}});
  }
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ms"},
          {"otherData", {{"start", FormatIsoTime(timeline.start_ms)}}}};
}

}  // namespace jobrunner
