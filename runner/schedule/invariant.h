#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace jobrunner {

// For the CheckInvariants functions, which state what must hold of a structure between two of its
// calls. Tests run them after every step; a broken invariant is a bug in the structure, never the
// input's fault, so it is thrown as a std::logic_error that names it, and the worker or task it
// was found at when `subject` is given ("worker", "task").
inline void CheckInvariant(bool holds, const char* invariant, const char* subject = nullptr,
                           std::int64_t id = 0) {
  if (holds) return;
  std::string what = std::string("invariant broken: ") + invariant;
  if (subject != nullptr) what += std::string(" (") + subject + " " + std::to_string(id) + ")";
  throw std::logic_error(what);
}

}  // namespace jobrunner
