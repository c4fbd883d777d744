#pragma once

#include <boost/serialization/collection_size_type.hpp>
#include <utility>
#include <vector>

namespace jobrunner {

// Boost.Serialization writes every std::vector and std::pair as an object with class
// information, which its archives look up in a table of the types seen for every one written or
// read: for a TaskSpec with four such members, that bookkeeping cost as much as the bytes. The
// messages between ranks go out by the hundred thousand per second at scale, so their members
// are written as a count and then their elements, each a primitive (a string, a number) or a
// struct itself declared object_serializable and track_never (no class information, no
// tracking) beside its definition.
//
// The count is a collection_size_type, as Boost writes it for a vector, so that an archive that
// checks counts against the bytes left (DecodeValue) checks this one too.

template <class Archive, class T>
void SerializePlainElement(Archive& ar, T& value) {
  ar& value;
}

template <class Archive, class A, class B>
void SerializePlainElement(Archive& ar, std::pair<A, B>& value) {
  ar& value.first& value.second;
}

// A vector's elements after their count, without class information for the vector or for pairs.
template <class Archive, class T>
void SerializePlainSequence(Archive& ar, std::vector<T>& items) {
  boost::serialization::collection_size_type count(items.size());
  ar& count;
  if constexpr (Archive::is_loading::value) items.resize(count);
  for (T& item : items) SerializePlainElement(ar, item);
}

}  // namespace jobrunner
