#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace jobrunner {

// The format of a `{name:spec}` placeholder: a subset of Python's format specification,
// [[fill]align][sign][0][width][.precision][type], so that sweeps can write `{n:06d}`,
// `{x:.3f}` or `{name:>8}` as they would in Python.
//
//   align      < left, > right, ^ centred, = padding after the sign (numbers only)
//   sign       + always, - only when negative (the default), space: a space for positive numbers
//   0          pad numbers with zeros after the sign (for text: fill with 0)
//   width      the least number of characters
//   .precision digits after the point for f and e, significant digits for g, the most
//              characters kept of a text
//   type       s text; d an integer; x X o b the integer in hex, upper-case hex, octal, binary;
//              f F e E g G a number as C's printf writes it (Python's defaults: precision 6)
//
// Without a type, a value that reads as an integer is formatted as with d, any other as text.
// A value that does not suit the type (`abc` for d) is an error, which the manifest reports
// before anything runs, since every value of a sweep is known when it is read.
class FormatSpec {
 public:
  // Throws std::invalid_argument saying what is wrong with `text` (the part after the colon).
  static FormatSpec Parse(std::string_view text);

  const std::string& text() const { return text_; }

  // `value` formatted, or why it cannot be.
  StatusOr<std::string> Apply(std::string_view value) const;

 private:
  std::string text_;
  char fill_ = ' ';
  char align_ = 0;  // 0: the type's default
  char sign_ = '-';
  bool zero_ = false;
  int width_ = 0;
  int precision_ = -1;  // -1: none given
  char type_ = 0;       // 0: none given
};

}  // namespace jobrunner
