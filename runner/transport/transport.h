#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transport/message_codec.h"
#include "transport/protocol.h"

namespace jobrunner {

struct Envelope {
  int from = 0;
  Tag tag = Tag::kHello;
  std::string payload;  // the serialized message; DecodeMessage<T> turns it back
};

// Messages between this rank and the others. Never blocks: Send queues and returns at once,
// Receive returns nothing when nothing has arrived. The one thread that owns it calls both.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  virtual void SendBytes(int to, Tag tag, std::string payload) = 0;
  // The next message that has arrived, into `into`; false, with `into` as it was, when none has.
  // Its payload's memory is used again: rank 0 receives a message for every few results, and a
  // buffer allocated and freed for each cost as much as reading it.
  virtual bool ReceiveInto(Envelope& into) = 0;
  std::optional<Envelope> Receive() {
    Envelope e;
    if (!ReceiveInto(e)) return std::nullopt;
    return e;
  }

  // Drives queued sends forward; true when all have been delivered to the transport below.
  virtual bool Flush() = 0;

  // Ends this process and every other rank of the job with `status`, at once: for a rank that
  // cannot take part in an orderly end (it stopped answering). In memory, just this process.
  [[noreturn]] virtual void Abort(int status) { std::_Exit(status); }

  // Encodes `message` into a buffer an earlier send gave back (KeepBuffer), if there is one.
  template <class T>
  void Send(int to, const T& message) {
    std::string bytes;
    if (!spare_buffers_.empty()) {
      bytes = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
      spare_bytes_ -= bytes.capacity();
    }
    EncodeMessageInto(message, bytes);
    SendBytes(to, TagOf<T>::value, std::move(bytes));
  }

 protected:
  // A sent payload the transport below is done with, kept for a later Send: rank 0 sends a
  // message for every few tasks, and a buffer allocated for each and freed once it was delivered
  // cost more than encoding it. At most a few megabytes are kept.
  void KeepBuffer(std::string&& buffer) {
    constexpr std::size_t kMaxKept = 4u << 20;
    if (spare_bytes_ + buffer.capacity() > kMaxKept) return;
    spare_bytes_ += buffer.capacity();
    spare_buffers_.push_back(std::move(buffer));
  }

 private:
  std::vector<std::string> spare_buffers_;
  std::size_t spare_bytes_ = 0;  // their capacity
};

// The world communicator, through Boost.MPI. MPI must be initialised.
std::unique_ptr<Transport> MakeMpiTransport();

// A world of one rank without MPI (local mode): rank 0 runs its worker in process, over a
// loopback pair, so there is no other rank to talk to.
std::unique_ptr<Transport> MakeWorldOfOne();

// Two ends joined in memory: rank 0 and rank 1 of a world of two. Runs the coordinator and a
// worker in one process (mpirun -n 1) and stands in for MPI in tests.
std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> MakeLoopbackPair();

}  // namespace jobrunner
