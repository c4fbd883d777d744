#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace jobrunner {

// Keeps the nodes that a node-based map (std::unordered_map, std::map) gives up, so that the next
// insertion reuses one instead of allocating: maps keyed by task that gain and lose an entry for
// every attempt otherwise cost an allocation and a free per attempt, on the thread that can least
// afford them. A reused node keeps its value's memory too (a string's capacity, say). At most
// `max_spare` nodes are kept; a copy starts with none (they are only memory).
template <class Map>
class NodeRecycler {
 public:
  using Key = typename Map::key_type;
  using Value = typename Map::mapped_type;

  explicit NodeRecycler(std::size_t max_spare = 1 << 16) : max_spare_(max_spare) {}
  NodeRecycler(const NodeRecycler& other) : max_spare_(other.max_spare_) {}
  NodeRecycler& operator=(const NodeRecycler& other) {
    max_spare_ = other.max_spare_;
    spare_.clear();
    return *this;
  }
  NodeRecycler(NodeRecycler&&) noexcept = default;
  NodeRecycler& operator=(NodeRecycler&&) noexcept = default;

  // map[key], with a spare node when `key` is new: its value is then `Value{}` assigned to what
  // the node held.
  Value& operator()(Map& map, const Key& key) {
    if (spare_.empty()) return map[key];
    auto it = map.find(key);
    if (it != map.end()) return it->second;
    typename Map::node_type node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = key;
    node.mapped() = Value{};
    return map.insert(std::move(node)).position->second;
  }

  // map.erase(it), keeping the node (a value of its own then, until it is reused).
  void Erase(Map& map, typename Map::iterator it) {
    if (spare_.size() >= max_spare_) {
      map.erase(it);
      return;
    }
    spare_.push_back(map.extract(it));
  }

 private:
  std::size_t max_spare_;
  std::vector<typename Map::node_type> spare_;
};

}  // namespace jobrunner
