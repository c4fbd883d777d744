#pragma once

#include <optional>
#include <string>
#include <utility>

namespace jobrunner {

// The one shape of a failure that is not thrown: an operation that can fail in an expected way
// (a flag that does not parse, a child that cannot be started, a host list with a bad line)
// returns a Status, or a StatusOr<T> when it also produces a value. The message says what went
// wrong in words fit for the user, naming the file, flag or line at fault.
//
// Exceptions stay for what ends a run or a rank (ManifestError, JournalError, ...), and failed
// tasks are neither: they are Outcomes.
class [[nodiscard]] Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // With a number saying what kind of failure it was, for callers that treat some kinds apart.
  static Status Error(std::string message, int code) {
    Status status(std::move(message));
    status.code_ = code;
    return status;
  }

  bool ok() const { return !message_; }
  // Empty when ok().
  const std::string& message() const {
    static const std::string kNone;
    return message_ ? *message_ : kNone;
  }
  // 0 when ok() or when the failure carries no number. posix/ functions give a failed system
  // call's errno.
  int code() const { return code_; }

 private:
  Status() = default;
  explicit Status(std::string message) : message_(std::move(message)) {}

  std::optional<std::string> message_;
  int code_ = 0;
};

// A value, or the Status that says why there is none.
template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)), status_(Status::Ok()) {}  // NOLINT: implicit
  StatusOr(Status status) : status_(std::move(status)) {}                 // NOLINT: implicit

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // Only when ok().
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace jobrunner
