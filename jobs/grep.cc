// kind: grep — the lines of a file that match a POSIX extended regular expression, written to a
// file in the run directory (bulk output, gathered with `gather: concat`); the result counts them.
#include <regex.h>

#include <memory>

#include "file_stream.h"

namespace {

struct GrepArgs {
  std::string path;
  std::string pattern;
  bool ignore_case = false;
  bool invert = false;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path& pattern& ignore_case& invert;
  }
};

struct GrepResult {
  std::string path;
  std::uint64_t lines = 0;
  std::uint64_t matches = 0;  // the lines themselves are in the attempt's data file
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path& lines& matches;
  }
};

struct Regex {
  Regex(const std::string& pattern, bool ignore_case) {
    error = regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB | (ignore_case ? REG_ICASE : 0));
    if (error != 0) {
      char text[256];
      regerror(error, &re, text, sizeof text);
      message = text;
    }
  }
  ~Regex() {
    if (error == 0) regfree(&re);
  }
  regex_t re{};
  int error = 0;
  std::string message;
};

class Grep final : public jobrunner::TypedTaskKind<GrepArgs, GrepResult> {
 public:
  const char* Name() const override { return "grep"; }
  const char* Description() const override {
    return "lines of `path` matching `pattern` (POSIX extended regex; `ignore_case`, `invert`) "
           "into a file in data/";
  }
  GrepArgs ReadArgs(const jobrunner::KindArgs& args) const override {
    GrepArgs a{args.String("path"), args.String("pattern"), args.Bool("ignore_case", false),
               args.Bool("invert", false)};
    Regex probe(a.pattern, a.ignore_case);
    if (probe.error != 0) {
      throw jobrunner::KindArgError("pattern", "bad pattern '" + a.pattern + "': " + probe.message);
    }
    return a;
  }
  GrepResult Execute(const GrepArgs& args, jobrunner::TaskContext& context) const override {
    Regex regex(args.pattern, args.ignore_case);
    if (regex.error != 0) throw std::runtime_error("bad pattern: " + regex.message);
    GrepResult result{args.path, 0, 0};
    std::unique_ptr<jobrunner::jobs::AtomicFile> out;
    std::string line;
    auto take = [&](const std::string& text) {
      ++result.lines;
      const bool match = regexec(&regex.re, text.c_str(), 0, nullptr, 0) == 0;
      if (match == args.invert) return;
      ++result.matches;
      if (!out) {
        out = std::make_unique<jobrunner::jobs::AtomicFile>(
            context.OutputFile(".txt"), jobrunner::jobs::AtomicFile::Parent::kNoLink);
      }
      out->Write(text.data(), text.size());
      out->Write("\n", 1);
    };
    jobrunner::jobs::ReadChunks(context.Path(args.path), context,
                                [&](const char* data, std::size_t size) {
                                  for (std::size_t i = 0; i < size; ++i) {
                                    if (data[i] != '\n') {
                                      line += data[i];
                                      continue;
                                    }
                                    take(line);
                                    line.clear();
                                  }
                                });
    if (!line.empty()) take(line);
    if (out) out->Commit();
    return result;
  }
  std::string ToJson(const GrepResult& r) const override {
    return "{\"path\":" + jobrunner::JsonQuote(r.path) + ",\"lines\":" + std::to_string(r.lines) +
           ",\"matches\":" + std::to_string(r.matches) + "}";
  }
};

}  // namespace

JOBRUNNER_KIND(Grep);
