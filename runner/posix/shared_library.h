#pragma once

#include <string>

#include "base/status.h"

namespace jobrunner {

// A shared library loaded into this process (dlopen), unloaded when this goes unless Keep was
// called.
class SharedLibrary {
 public:
  // Loads `path` with every symbol resolved now (RTLD_NOW), so that a missing one is reported
  // here rather than as a crash in the middle of a run, and its symbols kept to itself
  // (RTLD_LOCAL). A failure's message is the dynamic linker's.
  static StatusOr<SharedLibrary> Load(const std::string& path);

  SharedLibrary(SharedLibrary&& other) noexcept;
  SharedLibrary& operator=(SharedLibrary&& other) noexcept;
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  ~SharedLibrary();

  // The function `name`, as type F (a function pointer type); nullptr when the library has none.
  template <class F>
  F Function(const char* name) const {
    return reinterpret_cast<F>(Symbol(name));
  }

  // Leaves the library loaded for the rest of the process's life: code in it is in use.
  void Keep() { handle_ = nullptr; }

 private:
  explicit SharedLibrary(void* handle) : handle_(handle) {}
  void* Symbol(const char* name) const;

  void* handle_ = nullptr;
};

}  // namespace jobrunner
