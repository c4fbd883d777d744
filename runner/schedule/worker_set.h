#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace jobrunner {

// A set of worker ids (small non-negative integers, as transport ranks are), walked in id order.
// The scheduler keeps the workers with room in such sets and updates them as work is given and
// results come back, so that handing out work visits only workers that can take some, however
// many others there are.
//
// A bitmap with a summary bitmap above it (a bit per word below that is not zero): Insert, Erase
// and Contains cost O(1), and NextFrom skips 4,096 ids per word of the summary it reads, so that
// even 10^6 workers cost at most 245 word reads to find the next member.
class WorkerSet {
 public:
  void Insert(int id) {
    const auto i = static_cast<std::size_t>(id);
    const std::size_t word = i / 64;
    if (word >= bits_.size()) {
      bits_.resize(word + 1, 0);
      summary_.resize(word / 64 + 1, 0);
    }
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    if ((bits_[word] & bit) != 0) return;
    bits_[word] |= bit;
    summary_[word / 64] |= std::uint64_t{1} << (word % 64);
    ++size_;
  }

  void Erase(int id) {
    if (!Contains(id)) return;
    const auto i = static_cast<std::size_t>(id);
    const std::size_t word = i / 64;
    bits_[word] &= ~(std::uint64_t{1} << (i % 64));
    if (bits_[word] == 0) summary_[word / 64] &= ~(std::uint64_t{1} << (word % 64));
    --size_;
  }

  void Set(int id, bool member) {
    if (member) {
      Insert(id);
    } else {
      Erase(id);
    }
  }

  bool Contains(int id) const {
    const auto i = static_cast<std::size_t>(id);
    return id >= 0 && i / 64 < bits_.size() && (bits_[i / 64] >> (i % 64) & 1) != 0;
  }

  // The smallest member not below `from`, or -1 when there is none.
  int NextFrom(int from) const {
    const auto i = static_cast<std::size_t>(from < 0 ? 0 : from);
    std::size_t word = i / 64;
    if (word >= bits_.size()) return -1;
    const std::uint64_t here = bits_[word] & (~std::uint64_t{0} << (i % 64));
    if (here != 0) return At(word, here);
    // The next word that is not zero, found through the summary.
    ++word;
    for (std::size_t s = word / 64; s < summary_.size(); ++s) {
      std::uint64_t words = summary_[s];
      if (s == word / 64) words &= ~std::uint64_t{0} << (word % 64);
      if (words != 0) {
        const std::size_t found = s * 64 + static_cast<std::size_t>(__builtin_ctzll(words));
        return At(found, bits_[found]);
      }
    }
    return -1;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  static int At(std::size_t word, std::uint64_t bits) {
    return static_cast<int>(word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits)));
  }

  std::vector<std::uint64_t> bits_;     // bit i % 64 of word i / 64: id i is a member
  std::vector<std::uint64_t> summary_;  // bit w % 64 of word w / 64: bits_[w] is not zero
  std::size_t size_ = 0;
};

}  // namespace jobrunner
