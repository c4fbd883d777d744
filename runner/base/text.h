#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace jobrunner {

// The strings of `words` with `separator` between them: Join({"a", "b"}, ", ") is "a, b".
template <class Strings>
std::string Join(const Strings& words, std::string_view separator) {
  return fmt::format("{}", fmt::join(words, separator));
}

// The directory part of `path`, as dirname(1) gives it for paths without a trailing slash:
// "." when it has no slash, "/" for a file in the root.
std::string DirectoryOf(const std::string& path);
// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF).
bool IsValidUtf8(std::string_view text);

// The part of `path` after its last slash, as basename(1) gives it for paths without a trailing
// slash: the whole path when it has no slash.
std::string BaseNameOf(const std::string& path);

// Moves `from` to the end of `into`, leaving `from` empty. When `into` is empty (the usual case
// for a buffer handed between threads: the taker took everything before) the two are swapped:
// `from` gets the memory `into` had, so that buffers go round instead of being allocated on one
// thread and freed on the other.
void MoveTextTo(std::string& into, std::string& from);

}  // namespace jobrunner
