#include "inspect/timeline.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <utility>

namespace jobrunner {
namespace {

using RowKey = std::pair<std::int32_t, std::string>;  // rank, host

class Rows {
 public:
  std::size_t Find(std::int32_t rank, const std::string& host) {
    auto it = index_.find({rank, host});
    if (it != index_.end()) return it->second;
    index_[{rank, host}] = rows_.size();
    TimelineRow row;
    row.rank = rank;
    row.host = host;
    rows_.push_back(row);
    return rows_.size() - 1;
  }
  // A line restored from the journal names no host: the only row of its rank, if there is one.
  std::size_t FindByRank(std::int32_t rank) {
    std::size_t found = rows_.size();
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      if (rows_[i].rank != rank) continue;
      if (found != rows_.size()) return Find(rank, "");  // ambiguous
      found = i;
    }
    return found != rows_.size() ? found : Find(rank, "");
  }
  std::vector<TimelineRow>& rows() { return rows_; }

 private:
  std::map<RowKey, std::size_t> index_;
  std::vector<TimelineRow> rows_;
};

// Puts each bar of a row in the lowest lane free at its start; returns the lanes used.
int AssignLanes(std::vector<TimelineBar*>& bars) {
  std::sort(bars.begin(), bars.end(), [](const TimelineBar* a, const TimelineBar* b) {
    return a->start_ms != b->start_ms ? a->start_ms < b->start_ms : a->end_ms < b->end_ms;
  });
  using Busy = std::pair<std::int64_t, int>;  // until, lane
  std::priority_queue<Busy, std::vector<Busy>, std::greater<Busy>> busy;
  std::set<int> free;
  int lanes = 0;
  for (TimelineBar* bar : bars) {
    while (!busy.empty() && busy.top().first <= bar->start_ms) {
      free.insert(busy.top().second);
      busy.pop();
    }
    if (free.empty()) free.insert(lanes++);
    bar->lane = *free.begin();
    free.erase(free.begin());
    busy.push({bar->end_ms, bar->lane});
  }
  return lanes;
}

}  // namespace

Timeline BuildTimeline(const ResultsFile& results, const RunHistory* history, Liveness liveness,
                       std::int64_t now_ms) {
  Rows rows;
  Timeline timeline;
  if (history != nullptr) {
    for (const WorkerEntry& w : history->workers()) {
      TimelineRow& row = rows.rows()[rows.Find(w.rank, w.host)];
      row.pid = w.pid;
      row.slots = std::max(row.slots, w.slots);
      row.runs.push_back(w.run);
      if (!w.retired.empty()) row.retired = w.retired;
    }
  }
  for (const AttemptLine& a : results.attempts) {
    if (a.attempt == 0 || a.start_ms == 0 || a.end_ms < a.start_ms) continue;
    const std::int32_t rank = a.worker.value_or(0);
    const std::size_t row = a.host.empty() ? rows.FindByRank(rank) : rows.Find(rank, a.host);
    timeline.bars.push_back(
        TimelineBar{row, 0, a.start_ms, a.end_ms, a.outcome, a.task, a.index, a.attempt});
  }
  if (history != nullptr) {
    // Attempts running now, or running when the run stopped and never given a results line.
    const bool live = liveness == Liveness::kLive;
    const std::int64_t until = live ? now_ms : history->last_event_ms();
    for (const OpenAttempt& open : history->Open()) {
      if (open.start_ms == 0) continue;
      const WorkerEntry* w = history->FindWorker(open.run, open.rank);
      const std::size_t row = rows.Find(open.rank, w != nullptr ? w->host : "");
      // Never ending before it starts: `now_ms` was read before the journal, and a task may have
      // started in between (or on a host whose clock is ahead).
      timeline.bars.push_back(TimelineBar{row, 0, open.start_ms, std::max(until, open.start_ms),
                                          live ? "running" : "interrupted", open.task_id,
                                          open.index, open.attempt});
    }
  }
  // Rows by rank, then host; bars by row, lanes within each.
  std::vector<std::size_t> order(rows.rows().size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const TimelineRow& x = rows.rows()[a];
    const TimelineRow& y = rows.rows()[b];
    return x.rank != y.rank ? x.rank < y.rank : x.host < y.host;
  });
  std::vector<std::size_t> position(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    position[order[i]] = i;
    timeline.rows.push_back(std::move(rows.rows()[order[i]]));
  }
  std::vector<std::vector<TimelineBar*>> by_row(timeline.rows.size());
  for (TimelineBar& bar : timeline.bars) {
    bar.row = position[bar.row];
    by_row[bar.row].push_back(&bar);
  }
  for (std::size_t r = 0; r < by_row.size(); ++r) {
    timeline.rows[r].lanes = std::max(1, AssignLanes(by_row[r]));
  }
  std::sort(timeline.bars.begin(), timeline.bars.end(),
            [](const TimelineBar& a, const TimelineBar& b) {
              if (a.row != b.row) return a.row < b.row;
              return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.lane < b.lane;
            });
  bool first = true;
  for (const TimelineBar& bar : timeline.bars) {
    timeline.start_ms = first ? bar.start_ms : std::min(timeline.start_ms, bar.start_ms);
    timeline.end_ms = first ? bar.end_ms : std::max(timeline.end_ms, bar.end_ms);
    first = false;
  }
  if (history != nullptr && !history->runs().empty()) {
    const std::int64_t run_start = history->runs().front().start_ms;
    timeline.start_ms = first ? run_start : std::min(timeline.start_ms, run_start);
    if (first) timeline.end_ms = std::max(run_start, history->last_event_ms());
  }
  return timeline;
}

}  // namespace jobrunner
