#pragma once

// The bytes of every message between ranks (protocol.h). A message's members are written one
// after the other in their own representation: numbers, bools and enums as their bytes, strings,
// vectors and pairs as a count and then their elements, structs through their serialize(). The
// ranks of one job run the same build on machines of one architecture, so nothing more is needed:
// no header, no type information, no stream or locale. Boost.Serialization's archives built a
// std::locale and a stream for every message and looked every vector up in a table of the types
// seen; at two messages per task with 10^5 workers that was a quarter of rank 0's CPU.
//
// A message struct's serialize(Archive&, unsigned) is the one field list for both directions, as
// with Boost: `ar& a& b& c;`, and Archive::is_loading says which one it is.

#include <jobrunner/serialize.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace jobrunner {

// Writes a message in two passes over its fields (EncodeMessage): the first only counts the
// bytes, the second copies them into a buffer of that size. Appending each field to a growing
// string checked its capacity and called memcpy through a library call, two dozen times per
// task sent, at a few hundred thousand tasks a second.
class MessageWriter {
 public:
  using is_loading = std::false_type;

  // Counts the bytes of what it is given; with `out`, also writes them there (room enough for
  // them, as a counting pass found).
  explicit MessageWriter(char* out = nullptr) : out_(out) {}

  template <class T>
  MessageWriter& operator&(const T& value) {
    Put(value);
    return *this;
  }
  std::size_t size() const { return size_; }

 private:
  void PutBytes(const void* bytes, std::size_t n) {
    if (out_ != nullptr && n != 0) std::memcpy(out_ + size_, bytes, n);
    size_ += n;
  }
  void PutCount(std::size_t count) { PutRaw(static_cast<std::uint64_t>(count)); }
  template <class T>
  void PutRaw(const T& value) {
    PutBytes(&value, sizeof(T));
  }
  template <class T>
  void Put(const T& value) {
    if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      PutRaw(value);
    } else {
      // serialize() is not const: it is the same function that reads into the struct.
      const_cast<T&>(value).serialize(*this, 0u);
    }
  }
  void Put(const std::string& value) {
    PutCount(value.size());
    PutBytes(value.data(), value.size());
  }
  template <class A, class B>
  void Put(const std::pair<A, B>& value) {
    Put(value.first);
    Put(value.second);
  }
  template <class T>
  void Put(const std::vector<T>& values) {
    PutCount(values.size());
    for (const T& value : values) Put(value);
  }

  char* out_;
  std::size_t size_ = 0;
};

// Reads what MessageWriter wrote, safe on any bytes: bytes cut short, a count or length beyond
// the bytes left (each element takes at least one, so memory stays within the input's size times
// an element's) and a bool other than 0 or 1 throw DecodeError, before anything is read past the
// end or allocated.
class MessageReader {
 public:
  using is_loading = std::true_type;

  explicit MessageReader(const std::string& bytes)
      : next_(bytes.data()), end_(next_ + bytes.size()) {}

  template <class T>
  MessageReader& operator&(T& value) {
    Get(value);
    return *this;
  }
  bool AtEnd() const { return next_ == end_; }

 private:
  std::size_t Left() const { return static_cast<std::size_t>(end_ - next_); }
  const char* Take(std::size_t n) {
    if (n > Left()) {
      throw DecodeError("cut short: " + std::to_string(n) + " bytes wanted, " +
                        std::to_string(Left()) + " left");
    }
    const char* at = next_;
    next_ += n;
    return at;
  }
  std::size_t GetCount(const char* what) {
    std::uint64_t count = 0;
    GetRaw(count);
    if (count > Left()) {
      throw DecodeError(std::string(what) + " " + std::to_string(count) + " with only " +
                        std::to_string(Left()) + " bytes left");
    }
    return static_cast<std::size_t>(count);
  }
  template <class T>
  void GetRaw(T& value) {
    std::memcpy(&value, Take(sizeof(T)), sizeof(T));
  }
  template <class T>
  void Get(T& value) {
    if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      GetRaw(value);
    } else {
      value.serialize(*this, 0u);
    }
  }
  void Get(bool& value) {
    unsigned char byte = 0;
    GetRaw(byte);
    if (byte > 1) throw DecodeError("a boolean is " + std::to_string(byte) + ", not 0 or 1");
    value = byte == 1;
  }
  void Get(std::string& value) {
    const std::size_t size = GetCount("a string of");
    value.assign(Take(size), size);
  }
  template <class A, class B>
  void Get(std::pair<A, B>& value) {
    Get(value.first);
    Get(value.second);
  }
  template <class T>
  void Get(std::vector<T>& values) {
    values.resize(GetCount("a collection of"));
    for (T& value : values) Get(value);
  }

  const char* next_;
  const char* end_;
};

// The bytes of `message`, into `bytes` (replacing what it held; its memory is used again).
template <class Message>
void EncodeMessageInto(const Message& message, std::string& bytes) {
  MessageWriter counter;
  counter& message;
  bytes.resize(counter.size());
  MessageWriter writer(bytes.data());
  writer& message;
}

template <class Message>
std::string EncodeMessage(const Message& message) {
  std::string bytes;
  EncodeMessageInto(message, bytes);
  return bytes;
}

// Decodes `bytes` into `message`, every member of which it overwrites: a message kept for the
// next one to be decoded into keeps the memory of its vectors and strings. Throws DecodeError when
// `bytes` are not exactly one encoded `Message`, whatever they hold (`message` is then partly
// overwritten).
template <class Message>
void DecodeMessageInto(const std::string& bytes, Message& message) {
  MessageReader reader(bytes);
  try {
    reader& message;
  } catch (const DecodeError&) {
    throw;
  } catch (const std::exception& e) {
    // bad_alloc, or a message's own check of what it read (an unknown outcome, say).
    throw DecodeError(std::string("cannot decode: ") + e.what());
  }
  if (!reader.AtEnd()) throw DecodeError("bytes left over after the message");
}

// Throws DecodeError when `bytes` are not exactly one encoded `Message`, whatever they hold.
template <class Message>
Message DecodeMessage(const std::string& bytes) {
  Message message{};
  DecodeMessageInto(bytes, message);
  return message;
}

}  // namespace jobrunner
