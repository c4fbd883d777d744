// kind: line-count — lines and bytes of a file (a last line without a newline counts too).
#include <cstring>

#include "file_stream.h"

namespace {

struct CountArgs {
  std::string path;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path;
  }
};

struct CountResult {
  std::string path;
  std::uint64_t lines = 0;
  std::uint64_t bytes = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path& lines& bytes;
  }
};

class LineCount final : public jobrunner::TypedTaskKind<CountArgs, CountResult> {
 public:
  const char* Name() const override { return "line-count"; }
  const char* Description() const override { return "lines and bytes of `path`"; }
  CountArgs ReadArgs(const jobrunner::KindArgs& args) const override {
    return {args.String("path")};
  }
  CountResult Execute(const CountArgs& args, jobrunner::TaskContext& context) const override {
    CountResult result{args.path, 0, 0};
    char last = '\n';
    result.bytes = jobrunner::jobs::ReadChunks(
        context.Path(args.path), context, [&](const char* data, std::size_t size) {
          for (const char* p = data;
               (p = static_cast<const char*>(std::memchr(p, '\n', data + size - p))); ++p) {
            ++result.lines;
          }
          last = data[size - 1];
        });
    if (last != '\n') ++result.lines;
    return result;
  }
  std::string ToJson(const CountResult& r) const override {
    return "{\"path\":" + jobrunner::JsonQuote(r.path) + ",\"lines\":" + std::to_string(r.lines) +
           ",\"bytes\":" + std::to_string(r.bytes) + "}";
  }
};

}  // namespace

JOBRUNNER_KIND(LineCount);
