// An example task kind plugin: `kind: word-count` counts the words of a file.
//
// Build it against an installed jobrunner with this directory's CMakeLists.txt, which finds it
// with find_package(jobrunner), or by hand:
//   g++ -std=c++17 -shared -fPIC -I<prefix>/include word_count_plugin.cc -o libword_count.so
//       -lboost_serialization
// and load it with `jobrunner --plugin ./libword_count.so` or `plugins: [libword_count.so]`.
#include <jobrunner/task_kind.h>

#include <cctype>
#include <fstream>

namespace {

struct WordCountArgs {
  std::string path;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path;
  }
};

struct WordCountResult {
  std::string path;
  std::uint64_t words = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path& words;
  }
};

class WordCount final : public jobrunner::TypedTaskKind<WordCountArgs, WordCountResult> {
 public:
  const char* Name() const override { return "word-count"; }
  const char* Description() const override { return "words of `path` (example plugin)"; }
  WordCountArgs ReadArgs(const jobrunner::KindArgs& args) const override {
    return {args.String("path")};
  }
  WordCountResult Execute(const WordCountArgs& args,
                          jobrunner::TaskContext& context) const override {
    std::ifstream in(context.Path(args.path));
    if (!in) throw std::runtime_error("cannot open " + args.path);
    WordCountResult result{args.path, 0};
    std::string word;
    while (in >> word) ++result.words;
    return result;
  }
  std::string ToJson(const WordCountResult& r) const override {
    return "{\"path\":" + jobrunner::JsonQuote(r.path) + ",\"words\":" + std::to_string(r.words) +
           "}";
  }
};

}  // namespace

JOBRUNNER_PLUGIN(registrar) { registrar.Add(std::make_unique<WordCount>()); }
