#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>

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

  template <class T>
  void Send(int to, const T& message) {
    SendBytes(to, TagOf<T>::value, EncodeMessage(message));
  }
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
