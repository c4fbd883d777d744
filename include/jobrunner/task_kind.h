#pragma once

// The interface of a task kind: C++ code that a worker rank runs in-process for a manifest entry
// with `kind: NAME` and `args: {...}`, without spawning a process. Built-in kinds live in jobs/;
// a shared library loaded with `--plugin lib.so` (or `plugins:` in the manifest) adds its own.
//
// A kind's arguments and result are typed structs with a Boost.Serialization `serialize` member.
// The coordinator reads the manifest's args into the Args struct (ReadArgs), which travels to a
// worker serialized; the worker runs Execute and sends the Result back serialized; the coordinator
// writes it to results.jsonl through ToJson. Derive from TypedTaskKind<Args, Result>:
//
//   struct SleepArgs {
//     std::int64_t ms = 0;
//     template <class A> void serialize(A& a, unsigned) { a & ms; }
//   };
//   struct SleepResult { template <class A> void serialize(A&, unsigned) {} };
//   class Sleep final : public jobrunner::TypedTaskKind<SleepArgs, SleepResult> {
//    public:
//     const char* Name() const override { return "sleep"; }
//     SleepArgs ReadArgs(const jobrunner::KindArgs& args) const override {
//       return {args.DurationMs("duration")};
//     }
//     SleepResult Execute(const SleepArgs& a, jobrunner::TaskContext& c) const override { ... }
//     std::string ToJson(const SleepResult&) const override { return "{}"; }
//   };
//
// A plugin library exports, with C linkage (JOBRUNNER_PLUGIN does it):
//   int jobrunner_task_kind_api()              returns kTaskKindApi
//   void jobrunner_register_kinds(KindRegistrar&)  adds its kinds
//
// Execute runs on a worker thread, several at once (one per slot): a kind must not keep mutable
// state in the kind object. It fails by throwing (the message becomes the attempt's error; a
// DiskFullError stops the run instead of failing the task). A
// kind whose work can take long should look at context.Cancelled() between steps: it turns true
// when the task's timeout passes or the run stops, and the attempt is then reported timed out or
// interrupted whether or not Execute returns. A kind that may crash the process (a library with
// bugs, unbounded memory) is run with `isolate: true` in the manifest, in a helper process.

#include <jobrunner/serialize.h>

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace jobrunner {

// Changes whenever this header changes in a way that breaks built plugins.
inline constexpr int kTaskKindApi = 1;

// Thrown by a kind that cannot write its output for want of space (ENOSPC, EDQUOT): not the
// task's failure but the run's. The attempt is reported interrupted, the run stops (exit 4), and
// `--resume` runs the attempt again once there is room.
class DiskFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A problem with one argument of a task: unknown, missing, or of the wrong form.
class KindArgError : public std::runtime_error {
 public:
  KindArgError(std::string argument, const std::string& message)
      : std::runtime_error(message), argument_(std::move(argument)) {}
  const std::string& argument() const { return argument_; }

 private:
  std::string argument_;
};

// The `args:` of one task as the manifest gives them, with placeholders filled in: name -> text.
// Each accessor throws KindArgError naming the argument and saying what was expected. The reader
// records which names a kind asked for, so that a misspelt argument is an error, not ignored.
class KindArgs {
 public:
  KindArgs() = default;
  explicit KindArgs(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  bool Has(const std::string& name) const;
  std::string String(const std::string& name) const;  // required
  std::string String(const std::string& name, const std::string& fallback) const;
  std::int64_t Integer(const std::string& name) const;
  std::int64_t Integer(const std::string& name, std::int64_t fallback) const;
  bool Bool(const std::string& name, bool fallback) const;
  // "500ms", "30s", "10m", "2h" (as timeouts are written), or a number of seconds.
  std::int64_t DurationMs(const std::string& name) const;
  std::int64_t DurationMs(const std::string& name, std::int64_t fallback) const;

  // Names given but never asked for, after ReadArgs: the manifest misspelt or misplaced them.
  std::vector<std::string> Unused() const;
  // Names asked for, given or not: what the kind understands, for error messages.
  const std::set<std::string>& Asked() const { return asked_; }

 private:
  const std::string* Find(const std::string& name) const;

  std::map<std::string, std::string> values_;
  mutable std::set<std::string> asked_;
};

// What a running task may ask of the worker running it.
class TaskContext {
 public:
  virtual ~TaskContext() = default;
  virtual const std::string& TaskId() const = 0;
  virtual int Attempt() const = 0;
  // The manifest's cwd for the task, or the worker's working directory: relative paths in
  // arguments are meant relative to it. Kinds resolve paths with Path().
  virtual const std::string& Cwd() const = 0;
  // True once the task's timeout has passed or the run is stopping: return soon.
  virtual bool Cancelled() const = 0;
  // A file for this attempt's bulk output, in the run directory's data/ folder, named after the
  // task, the attempt and `suffix` (".txt", ".gz", ...). The coordinator lists it in results.
  virtual std::string OutputFile(const std::string& suffix) = 0;

  // `path` if absolute, else Cwd()/path.
  std::string Path(const std::string& path) const {
    return path.empty() || path[0] == '/' ? path : Cwd() + "/" + path;
  }
};

// A kind, type-erased: what the registry, the coordinator and the worker see.
class TaskKind {
 public:
  virtual ~TaskKind() = default;
  virtual const char* Name() const = 0;
  // One line for `jobrunner --list-kinds`.
  virtual const char* Description() const { return ""; }
  // The typed arguments, serialized. Throws KindArgError.
  virtual std::string EncodeArgs(const KindArgs& args) const = 0;
  // Runs one attempt; returns the typed result, serialized. Throws on failure.
  virtual std::string Run(const std::string& encoded_args, TaskContext& context) const = 0;
  // The serialized result as one JSON value for results.jsonl.
  virtual std::string ResultJson(const std::string& encoded_result) const = 0;
};

// The Args or Result of a kind that takes no arguments or gives no result: it encodes to nothing.
struct NoValue {
  template <class Archive>
  void serialize(Archive&, unsigned) {}
};

// A kind with typed Args and Result; implement the four members below.
template <class Args, class Result>
class TypedTaskKind : public TaskKind {
 public:
  virtual Args ReadArgs(const KindArgs& args) const = 0;
  virtual Result Execute(const Args& args, TaskContext& context) const = 0;
  virtual std::string ToJson(const Result& result) const = 0;

  std::string EncodeArgs(const KindArgs& args) const final { return EncodeValue(ReadArgs(args)); }
  std::string Run(const std::string& encoded_args, TaskContext& context) const final {
    return EncodeValue(Execute(DecodeValue<Args>(encoded_args), context));
  }
  std::string ResultJson(const std::string& encoded_result) const final {
    return ToJson(DecodeValue<Result>(encoded_result));
  }
};

// JSON text for a string value, quoted and escaped: for ToJson.
std::string JsonQuote(const std::string& text);

// Where kinds are added: the built-in list, or a plugin's registration function.
class KindRegistrar {
 public:
  virtual ~KindRegistrar() = default;
  virtual void Add(std::unique_ptr<TaskKind> kind) = 0;
};

namespace detail {
// Built-in kinds (jobs/*.cc) add themselves through JOBRUNNER_KIND at start-up.
void AddBuiltinKind(std::unique_ptr<TaskKind> (*make)());
struct BuiltinKindEntry {
  explicit BuiltinKindEntry(std::unique_ptr<TaskKind> (*make)()) { AddBuiltinKind(make); }
};
}  // namespace detail

}  // namespace jobrunner

// In a jobs/*.cc file: registers the kind class `Class` (default-constructible) by its Name().
#define JOBRUNNER_KIND(Class)                                                            \
  static const ::jobrunner::detail::BuiltinKindEntry jobrunner_kind_entry_##Class {      \
    []() -> std::unique_ptr<::jobrunner::TaskKind> { return std::make_unique<Class>(); } \
  }

// In a plugin: defines the two exported functions; the body adds the plugin's kinds, e.g.
//   JOBRUNNER_PLUGIN(registrar) { registrar.Add(std::make_unique<MyKind>()); }
#define JOBRUNNER_PLUGIN(registrar)                                                 \
  extern "C" __attribute__((visibility("default"))) int jobrunner_task_kind_api() { \
    return ::jobrunner::kTaskKindApi;                                               \
  }                                                                                 \
  extern "C" __attribute__((visibility("default"))) void jobrunner_register_kinds(  \
      ::jobrunner::KindRegistrar& registrar) /* NOLINT(bugprone-macro-parentheses): a name */
