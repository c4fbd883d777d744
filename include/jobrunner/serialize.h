#pragma once

// Values to bytes and back with Boost.Serialization: every message between ranks (transport.h)
// and every task kind's arguments and result (task_kind.h). Binary archives: the ranks of one
// job run the same build on machines of one architecture.

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <sstream>
#include <string>
#include <type_traits>

namespace jobrunner {

// Archives without a header and without a codecvt facet (binary archives need none). A type
// without members (a kind with no arguments or no result) encodes to nothing, with no archive.
inline constexpr unsigned kArchiveFlags = boost::archive::no_header | boost::archive::no_codecvt;

template <class T>
std::string EncodeValue(const T& value) {
  if constexpr (std::is_empty_v<T>) {
    return {};
  } else {
    std::ostringstream out;
    {
      boost::archive::binary_oarchive archive(out, kArchiveFlags);
      archive << value;
    }
    return std::move(out).str();
  }
}

template <class T>
T DecodeValue(const std::string& bytes) {
  T value{};
  if constexpr (!std::is_empty_v<T>) {
    std::istringstream in(bytes);
    boost::archive::binary_iarchive archive(in, kArchiveFlags);
    archive >> value;
  }
  return value;
}

}  // namespace jobrunner
