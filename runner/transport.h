#pragma once

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "protocol.h"

namespace jobrunner {

struct Envelope {
  int from = 0;
  Tag tag = Tag::kHello;
  std::string payload;  // the serialized message; Decode<T> turns it back
};

template <class T>
std::string Encode(const T& message) {
  std::ostringstream out;
  {
    boost::archive::binary_oarchive archive(out, boost::archive::no_header);
    archive << message;
  }
  return std::move(out).str();
}

template <class T>
T Decode(const std::string& payload) {
  std::istringstream in(payload);
  boost::archive::binary_iarchive archive(in, boost::archive::no_header);
  T message;
  archive >> message;
  return message;
}

// Messages between this rank and the others. Never blocks: Send queues and returns at once,
// Receive returns nothing when nothing has arrived. The one thread that owns it calls both.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  virtual void SendBytes(int to, Tag tag, std::string payload) = 0;
  virtual std::optional<Envelope> Receive() = 0;

  // Drives queued sends forward; true when all have been delivered to the transport below.
  virtual bool Flush() = 0;

  template <class T>
  void Send(int to, const T& message) {
    SendBytes(to, TagOf<T>::value, Encode(message));
  }
};

// The world communicator, through Boost.MPI. MPI must be initialised.
std::unique_ptr<Transport> MakeMpiTransport();

// Two ends joined in memory: rank 0 and rank 1 of a world of two. Runs the coordinator and a
// worker in one process (mpirun -n 1) and stands in for MPI in tests.
std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> MakeLoopbackPair();

}  // namespace jobrunner
