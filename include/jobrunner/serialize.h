#pragma once

// Values to bytes and back with Boost.Serialization: every message between ranks (transport.h)
// and every task kind's arguments and result (task_kind.h). Binary archives: the ranks of one
// job run the same build on machines of one architecture.

#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstddef>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
// The definitions behind BoundedIArchive's base classes, which the Boost.Serialization library
// instantiates only for its own archives.
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

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

// Bytes that DecodeValue cannot turn into the value asked for: cut short, or not an encoding of
// that type (a message from another protocol version, or damage).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The bytes being decoded, which knows how many are left: a length read from them is checked
// against that before anything is allocated for it.
class ByteSource : public std::streambuf {
 public:
  explicit ByteSource(const std::string& bytes) {
    char* begin = const_cast<char*>(bytes.data());  // only read: a streambuf wants char*
    setg(begin, begin, begin + bytes.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

// Boost's binary input archive, reading the same bytes, but safe on any input: a collection
// count or string length beyond the bytes left, or a bool other than 0 or 1, throws DecodeError
// instead of allocating gigabytes or loading an invalid bool. A collection's elements each take
// at least a byte, so memory stays within the size of the input times that of an element.
class BoundedIArchive
    : public boost::archive::binary_iarchive_impl<BoundedIArchive, char, std::char_traits<char>> {
  using Base = boost::archive::binary_iarchive_impl<BoundedIArchive, char, std::char_traits<char>>;
  using Primitive =
      boost::archive::basic_binary_iprimitive<BoundedIArchive, char, std::char_traits<char>>;

 public:
  BoundedIArchive(ByteSource& source, unsigned flags) : Base(source, flags), source_(source) {
    init(flags);
  }

  // Boost's archives reach load() and load_override() through these.
  friend class boost::archive::load_access;
  friend class boost::archive::detail::interface_iarchive<BoundedIArchive>;
  friend class boost::archive::basic_binary_iarchive<BoundedIArchive>;
  friend Primitive;

 protected:
  using Primitive::load;
  void load(bool& value) {
    unsigned char byte = 0;
    load_binary(&byte, 1);
    if (byte > 1) throw DecodeError("a boolean is " + std::to_string(byte) + ", not 0 or 1");
    value = byte == 1;
  }
  void load(std::string& text) {
    std::size_t length = 0;
    load(length);
    Require(length, "a string of");
    text.resize(length);
    if (length > 0) load_binary(&text[0], length);
  }

  template <class T>
  void load_override(T& value) {
    Base::load_override(value);
  }
  void load_override(boost::serialization::collection_size_type& count) {
    Base::load_override(count);
    Require(count, "a collection of");
  }

 private:
  void Require(std::size_t count, const char* what) const {
    if (count > source_.remaining()) {
      throw DecodeError(std::string(what) + " " + std::to_string(count) + " with only " +
                        std::to_string(source_.remaining()) + " bytes left");
    }
  }

  ByteSource& source_;
};

// The inverse of EncodeValue. Throws DecodeError for bytes that are not an encoded T, whatever
// they hold: they may come from a damaged message or a plugin's bug.
template <class T>
T DecodeValue(const std::string& bytes) {
  T value{};
  if constexpr (!std::is_empty_v<T>) {
    try {
      ByteSource source(bytes);
      BoundedIArchive archive(source, kArchiveFlags);
      archive >> value;
    } catch (const DecodeError&) {
      throw;
    } catch (const std::exception& e) {
      // Boost's archive_exception, bad_alloc, or a value's own check of what it read.
      throw DecodeError(std::string("cannot decode: ") + e.what());
    }
  }
  return value;
}

}  // namespace jobrunner

BOOST_SERIALIZATION_REGISTER_ARCHIVE(jobrunner::BoundedIArchive)
// As for Boost's binary archive, so that vectors of numbers take the same bytes.
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(jobrunner::BoundedIArchive)
