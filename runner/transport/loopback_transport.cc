#include <deque>
#include <stdexcept>

#include "transport/transport.h"

namespace jobrunner {
namespace {

using Queue = std::deque<Envelope>;

class LoopbackTransport final : public Transport {
 public:
  LoopbackTransport(int rank, std::shared_ptr<Queue> inbox, std::shared_ptr<Queue> outbox)
      : rank_(rank), inbox_(std::move(inbox)), outbox_(std::move(outbox)) {}

  int rank() const override { return rank_; }
  int size() const override { return 2; }

  void SendBytes(int /*to*/, Tag tag, std::string payload) override {
    outbox_->push_back(Envelope{rank_, tag, std::move(payload)});
  }

  bool ReceiveInto(Envelope& e) override {
    if (inbox_->empty()) return false;
    e = std::move(inbox_->front());
    inbox_->pop_front();
    return true;
  }

  bool Flush() override { return true; }

 private:
  int rank_;
  std::shared_ptr<Queue> inbox_, outbox_;
};

// Rank 0 alone: nothing to send to, nothing arrives.
class WorldOfOne final : public Transport {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void SendBytes(int to, Tag /*tag*/, std::string /*payload*/) override {
    throw std::logic_error("a send to rank " + std::to_string(to) + " in a world of one rank");
  }
  bool ReceiveInto(Envelope& /*into*/) override { return false; }
  bool Flush() override { return true; }
};

}  // namespace

std::unique_ptr<Transport> MakeWorldOfOne() { return std::make_unique<WorldOfOne>(); }

std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> MakeLoopbackPair() {
  auto to_zero = std::make_shared<Queue>();
  auto to_one = std::make_shared<Queue>();
  return {std::make_unique<LoopbackTransport>(0, to_zero, to_one),
          std::make_unique<LoopbackTransport>(1, to_one, to_zero)};
}

}  // namespace jobrunner
