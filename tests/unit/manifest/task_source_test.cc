#include "manifest/task_source.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "base/text.h"

using jobrunner::IsValidUtf8;

#include "temp_dir.h"

using jobrunner::ManifestError;
using jobrunner::ParseManifest;
using jobrunner::TaskSource;
using jobrunner::TaskSpec;

namespace {

using Strings = std::vector<std::string>;
using Env = std::vector<std::pair<std::string, std::string>>;

// As in manifest_test.cc: the raw string's first newline is dropped so line numbers match.
TaskSource Source(std::string_view yaml, std::string base_dir = "/base") {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return TaskSource(ParseManifest(std::string(yaml), "m.yaml"), std::move(base_dir));
}

// The message CheckUniqueIds throws, or "no error".
std::string UniqueIdsError(const TaskSource& source) {
  try {
    source.CheckUniqueIds();
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "no error";
}

// A source whose single task has the id `id`, written as a double-quoted YAML string.
TaskSource SourceWithId(const std::string& id) {
  return Source("version: 1\ntasks:\n  - id: \"" + id + "\"\n    command: x\n");
}

}  // namespace

TEST_CASE("Tasks are numbered through all entries in manifest order") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: a-{n}
    command: x
    matrix: {n: {range: [0, 3]}}
  - id: b
    command: y
)");
  CHECK(source.size() == 4);
  CHECK(source.Id(0) == "a-0");
  CHECK(source.Id(2) == "a-2");
  CHECK(source.Id(3) == "b");
  CHECK(&source.EntryOf(2) == &source.manifest().entries[0]);
  CHECK(&source.EntryOf(3) == &source.manifest().entries[1]);
}

TEST_CASE("The first matrix key varies slowest") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: "{x}{y}{z}"
    command: x
    matrix:
      x: [a, b]
      y: {range: [0, 3]}
      z: {range: [1, -1, -1]}
)");
  REQUIRE(source.size() == 12);
  Strings ids;
  for (std::uint64_t i = 0; i < source.size(); ++i) ids.push_back(source.Id(i));
  CHECK(ids == Strings{"a01", "a00", "a11", "a10", "a21", "a20", "b01", "b00", "b11", "b10", "b21",
                       "b20"});
}

TEST_CASE("A rendered task carries its index, attempt, timeout and retries") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: a
    command: x
  - id: b
    command: x
    timeout: 1m30s
    retries: 3
)");
  const TaskSpec spec = source.Render(1, 2);
  CHECK(spec.index == 1);
  CHECK(spec.attempt == 2);
  CHECK(spec.id == "b");
  CHECK(spec.timeout_ms == 90'000);
  CHECK(spec.retries == 3);
}

TEST_CASE("A list command renders each argument as it is, without a shell") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: c-{n}
    command: [convert, "in/{n}.png", "{n}", "{task_id}.{attempt}", "${HOME}", "{{n}}"]
    matrix:
      n: ["a b", "it's"]
)");
  CHECK(source.Render(0, 1).argv ==
        Strings{"convert", "in/a b.png", "a b", "c-a b.1", "${HOME}", "{n}"});
  CHECK(source.Render(1, 2).argv ==
        Strings{"convert", "in/it's.png", "it's", "c-it's.2", "${HOME}", "{n}"});
}

TEST_CASE("A string command runs under the worker's shell with every substituted value quoted") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: g-{i}
    command: "grep -c {p} in.txt | awk '{print $1}' > {task_id}.{attempt}.out; echo ${HOME}"
    matrix:
      i: {range: [0, 4]}
      p: ["two words"]
)");
  CHECK(
      source.Render(0, 1).argv ==
      Strings{"", "-c", "grep -c 'two words' in.txt | awk '{print $1}' > g-0.1.out; echo ${HOME}"});
  CHECK(source.Render(3, 12).argv[2] ==
        "grep -c 'two words' in.txt | awk '{print $1}' > g-3.12.out; echo ${HOME}");
}

TEST_CASE("Shell quoting covers quotes, dollars and empty values") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: q-{k}
    command: "echo {v}"
    matrix:
      k: [0]
      v: ["it's", "$HOME", "", plain, "a\"b"]
)");
  Strings scripts;
  for (std::uint64_t i = 0; i < source.size(); ++i) scripts.push_back(source.Render(i, 1).argv[2]);
  CHECK(scripts ==
        Strings{"echo 'it'\\''s'", "echo '$HOME'", "echo ''", "echo plain", "echo 'a\"b'"});
}

TEST_CASE("A huge matrix is never materialized") {
  const auto start = std::chrono::steady_clock::now();
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: t-{a}-{b}
    command: [run, "{a}", "{b}"]
    matrix:
      a: {range: [0, 1000000]}
      b: {range: [0, 1000000]}
)");
  REQUIRE(source.size() == 1'000'000'000'000ull);
  const TaskSpec last = source.Render(source.size() - 1, 1);
  CHECK(last.id == "t-999999-999999");
  CHECK(last.argv == Strings{"run", "999999", "999999"});
  CHECK(source.Id(1'000'000) == "t-1-0");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200));
}

TEST_CASE("Too many tasks to check their ids is an error at the entry past the limit") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: a
    command: x
  - id: t-{a}-{b}
    command: x
    matrix:
      a: {range: [0, 1000000]}
      b: {range: [0, 1000000]}
)");
  CHECK(UniqueIdsError(source) ==
        "m.yaml:5:5: the manifest has 1000000000001 tasks; expected at most 268435456, whose ids "
        "can be checked");
}

TEST_CASE("Env values are rendered in order, defaults first") {
  const TaskSource source = Source(R"(
version: 1
defaults:
  env: {OMP_NUM_THREADS: 1, TRY: "{attempt}", MODE: fast}
tasks:
  - id: e-{n}
    command: x
    env: {MODE: "slow {n}", OUT: "{task_id}.log"}
    matrix: {n: [7]}
)");
  CHECK(source.Render(0, 2).env ==
        Env{{"OMP_NUM_THREADS", "1"}, {"TRY", "2"}, {"MODE", "slow 7"}, {"OUT", "e-7.log"}});
}

TEST_CASE("A relative cwd is resolved against the base directory") {
  const TaskSource source = Source(R"(
version: 1
defaults:
  cwd: work/
tasks:
  - id: default
    command: x
  - id: absolute
    command: x
    cwd: /data/./in//
  - id: up
    command: x
    cwd: ../sibling/x/..
  - id: t-{n}
    command: x
    cwd: runs/{n}/{task_id}
    matrix: {n: [3]}
  - id: here
    command: x
    cwd: .
)",
                                   "/base/dir");
  CHECK(source.Render(0, 1).cwd == "/base/dir/work");
  CHECK(source.Render(1, 1).cwd == "/data/in");
  CHECK(source.Render(2, 1).cwd == "/base/sibling");
  CHECK(source.Render(3, 1).cwd == "/base/dir/runs/3/t-3");
  CHECK(source.Render(4, 1).cwd == "/base/dir");
}

TEST_CASE("Without a cwd the task gets an empty one, meaning the worker's own") {
  const TaskSource source = Source("version: 1\ntasks: [{id: a, command: x}]\n");
  CHECK(source.Render(0, 1).cwd.empty());
}

TEST_CASE("Unique ids pass the check") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: a-{n}
    command: x
    matrix: {n: {range: [0, 1000]}}
  - id: b-{n}
    command: x
    matrix: {n: {range: [0, 1000]}}
  - id: a
    command: x
)");
  CHECK(UniqueIdsError(source) == "no error");
}

TEST_CASE("The same id in two entries is an error at the second, naming the first") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: convert-{n}
    command: x
    matrix: {n: {range: [0, 10]}}
  - id: other
    command: x
  - id: convert-7
    command: x
)");
  CHECK(UniqueIdsError(source) ==
        "m.yaml:8:9: duplicate task id 'convert-7': also produced by the task at m.yaml:3:9");
}

TEST_CASE("A matrix whose id ignores one of its keys produces duplicates") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: x
    command: x
    matrix: {n: [1, 2]}
)");
  CHECK(UniqueIdsError(source) ==
        "m.yaml:3:9: duplicate task id 'x': also produced by the task at m.yaml:3:9; each task of "
        "a matrix needs its own id, so use the matrix names in it");
}

TEST_CASE("Different matrix values that render the same id are duplicates") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: "{a}{b}"
    command: x
    matrix: {a: [1, 11], b: [1, 11]}
)");
  CHECK_THAT(UniqueIdsError(source), Catch::StartsWith("m.yaml:3:9: duplicate task id '111'"));
}

TEST_CASE("A million unique ids are checked quickly") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: t-{a}-{b}
    command: x
    matrix:
      a: {range: [0, 1000]}
      b: {range: [0, 1000]}
  - id: t-999-999
    command: x
)");
  REQUIRE(source.size() == 1'000'001);
  CHECK(UniqueIdsError(source) ==
        "m.yaml:8:9: duplicate task id 't-999-999': also produced by the task at m.yaml:3:9");
}

TEST_CASE("Ids that cannot name an output file are errors at the id") {
  CHECK(UniqueIdsError(SourceWithId("a/b")) ==
        "m.yaml:3:9: bad task id 'a/b': ids name output files, so they cannot contain '/'");
  CHECK(UniqueIdsError(SourceWithId("")) == "m.yaml:3:9: bad task id '': it is empty");
  CHECK(UniqueIdsError(SourceWithId(".")) ==
        "m.yaml:3:9: bad task id '.': ids name output files, so they cannot be . or ..");
  CHECK(UniqueIdsError(SourceWithId("..")) ==
        "m.yaml:3:9: bad task id '..': ids name output files, so they cannot be . or ..");
  CHECK(UniqueIdsError(SourceWithId("a\\tb")) ==
        "m.yaml:3:9: bad task id 'a?b': it contains a control character");
  CHECK(UniqueIdsError(SourceWithId("a\\x7fb")) ==
        "m.yaml:3:9: bad task id 'a?b': it contains a control character");
  CHECK(UniqueIdsError(SourceWithId(std::string(200, 'i'))) == "no error");
  CHECK_THAT(UniqueIdsError(SourceWithId(std::string(201, 'i'))),
             Catch::EndsWith("': it is longer than 200 bytes"));
  CHECK(UniqueIdsError(SourceWithId("...")) == "no error");
  CHECK(UniqueIdsError(SourceWithId("caf\\u00e9 1")) == "no error");
}

TEST_CASE("Ids that are not valid UTF-8 are errors at the id, shown without the bad bytes") {
  const std::string message =
      "': ids name output files and results.jsonl lines, so they must be valid UTF-8";
  // Raw bytes in the manifest (a double-quoted "\xff" would be the character U+00FF).
  for (const char* id : {"bad-\xff", "cut-\xc3", "overlong-\xc0\xaf", "surrogate-\xed\xa0\x80"}) {
    CAPTURE(id);
    const std::string error = UniqueIdsError(SourceWithId(id));
    CHECK_THAT(error, Catch::StartsWith("m.yaml:3:9: bad task id '") && Catch::EndsWith(message));
    CHECK(error.find('\xff') == std::string::npos);
    CHECK(IsValidUtf8(error));
  }
  CHECK(UniqueIdsError(SourceWithId("bad-\xff")) == "m.yaml:3:9: bad task id 'bad-?" + message);
  CHECK(UniqueIdsError(SourceWithId("\xe6\x97\xa5\xf0\x9f\x98\x80")) == "no error");
}

TEST_CASE("A matrix value that is not valid UTF-8 makes its id an error") {
  const TaskSource source = Source(
      "version: 1\ntasks:\n  - id: f-{file}\n    command: x\n"
      "    matrix: {file: [ok, \"b\xe9"
      "d\"]}\n");
  CHECK_THAT(UniqueIdsError(source), Catch::StartsWith("m.yaml:3:9: bad task id 'f-b?d'") &&
                                         Catch::EndsWith("must be valid UTF-8"));
}

TEST_CASE("A matrix value can make an id unusable") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: f-{file}
    command: x
    matrix: {file: [ok, sub/dir]}
)");
  CHECK(UniqueIdsError(source) ==
        "m.yaml:3:9: bad task id 'f-sub/dir': ids name output files, so they cannot contain '/'");
}

TEST_CASE("A manifest whose task count overflows 64 bits is an error at the entry that does it") {
  const std::string huge =
      "    matrix: {a: {range: [-9223372036854775808, 9223372036854775807]}}\n";
  const std::string yaml = "version: 1\ntasks:\n  - id: a{a}\n    command: x\n" + huge +
                           "  - id: b{a}\n    command: x\n" + huge;
  CHECK_THROWS_WITH(Source(yaml), "m.yaml:6:5: the manifest has more than 2^64 - 1 tasks");
}

TEST_CASE("Ids like name-{n} are proven unique by the manifest's shape, without rendering them") {
  CHECK(Source("version: 1\ntasks:\n  - id: t-{n}\n    command: x\n    matrix:\n"
               "      n: {range: [0, 100000000]}\n")
            .IdsProvablyUnique());
  CHECK(Source("version: 1\ntasks:\n  - id: a-{x}-{n}\n    command: x\n    matrix:\n"
               "      x: [p, q]\n      n: {range: [0, 9]}\n  - id: b-{n}\n    command: x\n"
               "    matrix:\n      n: [1, 2]\n")
            .IdsProvablyUnique());
}

TEST_CASE("Ids the shape cannot prove unique are checked one by one") {
  const char* cases[] = {
      // Placeholders side by side: 1 and 11 read like 11 and 1.
      "  - id: '{a}{b}'\n    command: x\n    matrix: {a: [1, 11], b: [1, 11]}\n",
      // A separator that the values contain.
      "  - id: '{a}-{b}'\n    command: x\n    matrix: {a: {range: [-5, 5]}, b: [1, 2]}\n",
      // A matrix name missing from the id.
      "  - id: t-{a}\n    command: x\n    matrix: {a: [1, 2], b: [1, 2]}\n",
      // A list value twice.
      "  - id: t-{a}\n    command: x\n    matrix: {a: [1, 1]}\n",
      // A list value that cannot name a file.
      "  - id: t-{a}\n    command: x\n    matrix: {a: [x/y]}\n",
      // Entries whose ids may meet: t-{n} makes t-5.
      ("  - id: t-{n}\n    command: x\n    matrix: {n: {range: [0, 9]}}\n"
       "  - id: t-5\n    command: x\n"),
  };
  for (const char* entries : cases) {
    INFO(entries);
    CHECK_FALSE(Source(std::string("version: 1\ntasks:\n") + entries).IdsProvablyUnique());
  }
  // And the one-by-one check still finds what the shape could not rule out.
  CHECK_THROWS_WITH(
      Source("version: 1\ntasks:\n  - id: t-{n}\n    command: x\n    matrix: {n: {range: [0, 9]}}\n"
             "  - id: t-5\n    command: x\n")
          .CheckUniqueIds(),
      Catch::Contains("duplicate task id 't-5'"));
}

TEST_CASE("Entries whose ids may meet are found however many entries lie between them") {
  // b-{n} makes b-7; the entries between and around them sort between the two prefixes or not.
  std::string yaml = "version: 1\ntasks:\n  - id: b-7\n    command: x\n";
  for (int i = 0; i < 1000; ++i) {
    yaml += "  - id: a" + std::to_string(i) + "-{n}\n    command: x\n    matrix: {n: [1]}\n";
    yaml += "  - id: b-{n}x" + std::to_string(i) + "\n    command: x\n    matrix: {n: [1]}\n";
  }
  yaml += "  - id: b-{n}\n    command: x\n    matrix: {n: {range: [0, 9]}}\n";
  const TaskSource source = Source(yaml);
  CHECK_FALSE(source.IdsProvablyUnique());
  CHECK_THAT(UniqueIdsError(source), Catch::Contains("duplicate task id 'b-7'"));
}

TEST_CASE("A hundred thousand entries with distinct ids are proven unique by their shape") {
  std::string yaml = "version: 1\ntasks:\n";
  for (int i = 0; i < 100'000; ++i) {
    // Of one width, so that no id begins another.
    std::string number = std::to_string(i);
    yaml += "  - id: t" + std::string(6 - number.size(), '0') + number + "\n    command: x\n";
  }
  const TaskSource source = Source(yaml);
  CHECK(source.IdsProvablyUnique());
  CHECK(UniqueIdsError(source) == "no error");
}

TEST_CASE("A Python task's call is JSON in which numbers stay numbers") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: fit-{alpha}-{seed}-{name}
    kind: python
    args:
      function: "mypkg.tasks:fit"
      args: ["{seed}", 2.50, null, [true, "x-{seed}"]]
      kwargs: {alpha: "{alpha}", seed: "{seed}", name: "{name}", tag: "{name}-{attempt}",
               try: "{attempt}", id: "{task_id}", nested: {quoted: "7", plain: 7}}
    matrix: {alpha: [0.1, "1.0"], seed: {range: [0, 2]}, name: [a]}
)");
  const TaskSpec first = source.Render(0, 2);
  CHECK(first.kind == "python");
  CHECK(first.kind_args ==
        R"(["mypkg.tasks:fit",[0,2.50,null,[true,"x-0"]],{"alpha":0.1,"seed":0,"name":"a",)"
        R"("tag":"a-2","try":2,"id":"fit-0.1-0-a","nested":{"quoted":"7","plain":7}}])");
  const TaskSpec quoted = source.Render(3, 1);
  CHECK(quoted.id == "fit-1.0-1-a");
  CHECK(quoted.kind_args.find(R"("alpha":"1.0")") != std::string::npos);
  CHECK(quoted.args.empty());
}

TEST_CASE("Zipped keys pair their values, and the product runs over the matrix keys") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: t-{s}-{a}
    command: ["run", "{a}", "{b}"]
    matrix: {s: [1, 2]}
    zip: {a: [x, y, z], b: [10, 20, 30]}
)");
  REQUIRE(source.size() == 6);
  Strings ids;
  for (std::uint64_t i = 0; i < source.size(); ++i) ids.push_back(source.Id(i));
  CHECK(ids == Strings{"t-1-x", "t-1-y", "t-1-z", "t-2-x", "t-2-y", "t-2-z"});
  CHECK(source.Render(4, 1).argv == Strings{"run", "y", "20"});
  Strings walked;
  source.ForEachId(0, [&](std::uint64_t, const std::string& id) { walked.push_back(id); });
  CHECK(walked == ids);
  CHECK(UniqueIdsError(source) == "no error");
}

TEST_CASE("Formatted placeholders render in ids and commands") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: run-{n:03d}
    command: "sim --x {x:.2f} --name {name:>6} > out/{n:06d}.txt"
    matrix:
      n: {range: [8, 10]}
      x: [0.5]
      name: [ab]
)");
  CHECK(source.Id(1) == "run-009");
  CHECK(source.Render(0, 1).argv[2] == "sim --x 0.50 --name '    ab' > out/000008.txt");
}

TEST_CASE("An entry of no tasks takes no index; the entries around it keep theirs") {
  const TaskSource source = Source(R"(
version: 1
tasks:
  - id: a
    command: x
  - id: e-{n}
    command: x
    matrix: {n: []}
  - id: b
    command: x
)");
  REQUIRE(source.size() == 2);
  CHECK(source.Id(1) == "b");
  CHECK(source.FirstIndexOf(1) == 1);
  CHECK(UniqueIdsError(source) == "no error");
}

namespace {

std::shared_ptr<jobrunner::CommandList> ListOf(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/tasks.txt";
  std::ofstream(path, std::ios::binary) << text;
  return jobrunner::CommandList::Open(path, path);
}

std::string EnvValue(const TaskSpec& spec, const std::string& name) {
  for (const auto& [key, value] : spec.env) {
    if (key == name) return value;
  }
  return "(unset)";
}

}  // namespace

TEST_CASE("A command list's tasks are its lines, with ids from line numbers") {
  jobrunner::testing::TempDir dir;
  jobrunner::ListDefaults defaults;
  defaults.timeout_ms = 5000;
  defaults.retries = 1;
  defaults.cwd = "work";
  defaults.env = {{"A", "{not a placeholder}"}};
  const TaskSource source(
      jobrunner::CommandListManifest(
          ListOf(dir.str(), "echo a\n#DISBATCH BARRIER\n#DISBATCH REPEAT 2 start 5 echo r\n"),
          defaults),
      "/base");
  REQUIRE(source.size() == 3);
  CHECK(source.Id(0) == "1");
  CHECK(source.Id(2) == "3-1");
  const TaskSpec spec = source.Render(2, 1);
  CHECK(spec.argv == Strings{"", "-c", "echo r"});
  CHECK(spec.cwd == "/base/work");
  CHECK(spec.timeout_ms == 5000);
  CHECK(spec.retries == 1);
  CHECK(spec.disbatch);
  CHECK(EnvValue(spec, "A") == "{not a placeholder}");
  CHECK(EnvValue(spec, "DISBATCH_TASKID") == "3");
  CHECK(EnvValue(spec, "DISBATCH_TASKID_ZP") == "000003");
  CHECK(EnvValue(spec, "DISBATCH_REPEAT_INDEX") == "6");
  CHECK(EnvValue(spec, "DISBATCH_STREAM_INDEX") == "3");
  CHECK(EnvValue(spec, "DISBATCH_NAMETASKS") == "tasks.txt");
  CHECK(EnvValue(source.Render(0, 1), "DISBATCH_REPEAT_INDEX_ZP") == "-00001");
  CHECK(source.ListTask(2)->line == 3);
  CHECK(UniqueIdsError(source) == "no error");
  CHECK(source.IdsProvablyUnique());
}

TEST_CASE("A tasks_from entry's ids start with the entry's id") {
  jobrunner::testing::TempDir dir;
  ListOf(dir.str(), "a\nb\n");
  std::ofstream(dir / "m.yaml") << "version: 1\ntasks:\n"
                                   "  - id: first\n    command: x\n"
                                   "  - id: lines\n    tasks_from: tasks.txt\n"
                                   "  - id: lines-2\n    command: x\n";
  const TaskSource source(jobrunner::LoadManifest(dir / "m.yaml"), "/base");
  CHECK(source.Id(1) == "lines-1");
  CHECK(source.Id(2) == "lines-2");
  // The third entry's id is that of the list's second task.
  CHECK_THAT(UniqueIdsError(source), Catch::Contains("duplicate task id 'lines-2'"));
}
