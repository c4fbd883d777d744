#include "manifest/manifest.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "manifest/units.h"
#include "temp_dir.h"

using jobrunner::LoadManifest;
using jobrunner::Manifest;
using jobrunner::ManifestError;
using jobrunner::MatrixAxis;
using jobrunner::ParseManifest;
using jobrunner::TaskEntry;
using jobrunner::Template;

namespace {

// Test manifests are raw strings that start on the line after `R"(`; dropping that first newline
// makes the line numbers in the expected messages those of the lines as shown.
Manifest Parse(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return ParseManifest(std::string(yaml), "m.yaml");
}

// The complete message of the error that parsing `yaml` throws.
std::string ErrorOf(std::string_view yaml) {
  try {
    Parse(yaml);
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "no error";
}

// The text of a template without placeholders.
std::string Literal(const Template& t) {
  REQUIRE(t.IsLiteral());
  std::string text;
  for (const Template::Part& part : t.parts()) text += part.text;
  return text;
}

std::vector<std::string> AllValues(const MatrixAxis& axis) {
  std::vector<std::string> values;
  for (std::uint64_t i = 0; i < axis.size(); ++i) values.push_back(axis.ValueAt(i));
  return values;
}

}  // namespace

// ---- What a valid manifest becomes --------------------------------------------------------

TEST_CASE("A minimal manifest gives one entry with its positions and no limits") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: hello
    command: echo hi
)");
  CHECK(m.path == "m.yaml");
  CHECK(m.version == 1);
  REQUIRE(m.entries.size() == 1);
  const TaskEntry& e = m.entries[0];
  CHECK(e.pos.file == "m.yaml");
  CHECK((e.pos.line == 3 && e.pos.column == 5));
  CHECK((e.id_pos.line == 3 && e.id_pos.column == 9));
  CHECK((e.command_pos.line == 4 && e.command_pos.column == 14));
  CHECK(Literal(e.id) == "hello");
  CHECK(e.shell);
  CHECK(Literal(e.script) == "echo hi");
  CHECK(e.matrix.empty());
  CHECK(e.size() == 1);
  CHECK_FALSE(e.cwd);
  CHECK(e.env.empty());
  CHECK(e.timeout_ms == 0);
  CHECK(e.retries == 0);
}

TEST_CASE("A command given as a list is an argv, with scalars kept as written") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: a
    command: [convert, 1, 2.50, true, "", 0x1F, ~x]
)");
  const TaskEntry& e = m.entries[0];
  CHECK_FALSE(e.shell);
  std::vector<std::string> argv;
  for (const Template& t : e.argv) argv.push_back(Literal(t));
  CHECK(argv == std::vector<std::string>{"convert", "1", "2.50", "true", "", "0x1F", "~x"});
}

TEST_CASE("A block-style command list and a multi-line script are accepted") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: a
    command:
      - ls
      - -l
  - id: b
    command: |
      set -e
      make
)");
  CHECK(m.entries[0].argv.size() == 2);
  CHECK(Literal(m.entries[1].script) == "set -e\nmake\n");
}

TEST_CASE("A list matrix keeps its values as written") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{x}
    command: [run, "{x}"]
    matrix:
      x: [a, 2, 3.0, no, "q r"]
)");
  const TaskEntry& e = m.entries[0];
  REQUIRE(e.matrix.size() == 1);
  const MatrixAxis& x = e.matrix[0];
  CHECK(x.name == "x");
  CHECK((x.pos.line == 6 && x.pos.column == 7));
  CHECK_FALSE(x.is_range);
  CHECK(AllValues(x) == std::vector<std::string>{"a", "2", "3.0", "no", "q r"});
  CHECK(e.size() == 5);
}

TEST_CASE("A range matrix is half-open with an optional step") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{a}-{b}-{c}-{d}
    command: "true"
    matrix:
      a: {range: [0, 4]}
      b: {range: [0, 10, 3]}
      c: {range: [-3, 0]}
      d:
        range: [1, 2]
)");
  const auto& axes = m.entries[0].matrix;
  REQUIRE(axes.size() == 4);
  CHECK(axes[0].is_range);
  CHECK(AllValues(axes[0]) == std::vector<std::string>{"0", "1", "2", "3"});
  CHECK(AllValues(axes[1]) == std::vector<std::string>{"0", "3", "6", "9"});
  CHECK(AllValues(axes[2]) == std::vector<std::string>{"-3", "-2", "-1"});
  CHECK(AllValues(axes[3]) == std::vector<std::string>{"1"});
  CHECK(m.entries[0].size() == 4 * 4 * 3 * 1);
}

TEST_CASE("A range with a negative step counts down to just above its stop") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{a}-{b}
    command: "true"
    matrix:
      a: {range: [10, 0, -3]}
      b: {range: [5, -5, -5]}
)");
  CHECK(AllValues(m.entries[0].matrix[0]) == std::vector<std::string>{"10", "7", "4", "1"});
  CHECK(AllValues(m.entries[0].matrix[1]) == std::vector<std::string>{"5", "0"});
}

TEST_CASE("A range may span all 64-bit integers without overflowing") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{a}
    command: "true"
    matrix:
      a: {range: [-9223372036854775808, 9223372036854775807]}
  - id: u-{a}
    command: "true"
    matrix:
      a: {range: [9223372036854775807, -9223372036854775808, -4611686018427387904]}
)");
  const MatrixAxis& a = m.entries[0].matrix[0];
  CHECK(a.size() == UINT64_MAX);
  CHECK(a.ValueAt(0) == "-9223372036854775808");
  CHECK(a.ValueAt(UINT64_MAX - 1) == "9223372036854775806");
  const MatrixAxis& down = m.entries[1].matrix[0];
  CHECK(AllValues(down) == std::vector<std::string>{"9223372036854775807", "4611686018427387903",
                                                    "-1", "-4611686018427387905"});
}

TEST_CASE("A matrix whose task count overflows 64 bits is an error at its task") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
  - id: t-{a}-{b}
    command: x
    matrix:
      a: {range: [-9223372036854775808, 9223372036854775807]}
      b: [1, 2]
)") == "m.yaml:5:5: this task's matrix has more than 2^64 - 1 combinations");
}

TEST_CASE("Defaults apply to every task that does not override them") {
  const Manifest m = Parse(R"(
version: 1
defaults:
  timeout: 10m
  retries: 2
  cwd: work/
  env: {OMP_NUM_THREADS: 1, MODE: fast}
tasks:
  - id: a
    command: x
  - id: b
    command: x
    timeout: 30s
    retries: 0
    cwd: /abs
    env: {MODE: slow, EXTRA: "yes"}
)");
  const TaskEntry& a = m.entries[0];
  CHECK(a.timeout_ms == 600'000);
  CHECK(a.retries == 2);
  REQUIRE(a.cwd);
  CHECK(Literal(*a.cwd) == "work/");
  REQUIRE(a.env.size() == 2);
  CHECK(a.env[0].first == "OMP_NUM_THREADS");
  CHECK(Literal(a.env[0].second) == "1");
  CHECK(a.env[1].first == "MODE");

  const TaskEntry& b = m.entries[1];
  CHECK(b.timeout_ms == 30'000);
  CHECK(b.retries == 0);
  CHECK(Literal(*b.cwd) == "/abs");
  // Defaults' names first, a redefined one keeps its place with the task's value.
  REQUIRE(b.env.size() == 3);
  CHECK(b.env[0].first == "OMP_NUM_THREADS");
  CHECK(b.env[1].first == "MODE");
  CHECK(Literal(b.env[1].second) == "slow");
  CHECK(b.env[2].first == "EXTRA");
  CHECK(Literal(b.env[2].second) == "yes");
}

TEST_CASE("Placeholders may name matrix keys anywhere, and task_id or attempt outside the id") {
  const Manifest m = Parse(R"(
version: 1
defaults:
  env: {SEED: "{attempt}"}
tasks:
  - id: t-{n}
    command: [run, "{n}", "{task_id}", "{attempt}"]
    cwd: out/{n}/{task_id}
    env: {N: "{n}"}
    matrix:
      n: [1, 2]
)");
  const TaskEntry& e = m.entries[0];
  CHECK(e.id.Names() == std::vector<std::string>{"n"});
  CHECK(e.argv[3].Names() == std::vector<std::string>{"attempt"});
  CHECK(e.cwd->Names() == std::vector<std::string>{"n", "task_id"});
}

TEST_CASE("A manifest is read from a file") {
  char path[] = "/tmp/manifest_test_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << "version: 1\ntasks:\n  - {id: a, command: x}\n";
  const Manifest m = LoadManifest(path);
  std::remove(path);
  CHECK(m.path == path);
  REQUIRE(m.entries.size() == 1);
  CHECK(m.entries[0].id_pos.file == path);
}

// ---- Errors: every one names the file, line and column, and what was expected ---------------

TEST_CASE("A missing manifest file is an error without a position") {
  try {
    LoadManifest("/nonexistent/m.yaml");
    FAIL("no error");
  } catch (const ManifestError& e) {
    CHECK(e.pos().line == 0);
    CHECK(e.message() == "cannot read manifest: No such file or directory");
    CHECK(std::string(e.what()) ==
          "/nonexistent/m.yaml: cannot read manifest: No such file or directory");
  }
}

TEST_CASE("A directory given as the manifest is an error") {
  CHECK_THROWS_WITH(LoadManifest("/tmp"), "/tmp: cannot read manifest: Is a directory");
}

TEST_CASE("An error carries its position and message separately") {
  try {
    Parse("version: 2\ntasks: []\n");
    FAIL("no error");
  } catch (const ManifestError& e) {
    CHECK(e.pos().file == "m.yaml");
    CHECK(e.pos().line == 1);
    CHECK(e.pos().column == 10);
    CHECK(e.message() == "unsupported version 2; expected 1");
  }
}

TEST_CASE("YAML syntax errors are reported at their position") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: [echo, x
  - id: b
)") == "m.yaml:5:7: YAML syntax error: end of sequence flow not found");
  CHECK(ErrorOf("version: 1\ntasks: a: b\n") == "m.yaml:2:9: YAML syntax error: illegal map value");
}

TEST_CASE("An empty manifest is an error at its start") {
  const std::string expected =
      "m.yaml:1:1: empty manifest; expected a map with version: 1 and tasks";
  CHECK(ErrorOf("") == expected);
  CHECK(ErrorOf("# only a comment\n") == expected);
}

TEST_CASE("A manifest that is not a map is an error") {
  CHECK(ErrorOf("- a\n- b\n") ==
        "m.yaml:1:1: wrong type for manifest: expected a map with version and tasks, got a list");
  CHECK(ErrorOf("hello\n") ==
        "m.yaml:1:1: wrong type for manifest: expected a map with version and tasks, got 'hello'");
}

TEST_CASE("A second YAML document is an error") {
  CHECK(ErrorOf(R"(
version: 1
tasks: [{id: a, command: x}]
---
version: 1
)") == "m.yaml:3:1: a second YAML document; a manifest is a single document");
}

TEST_CASE("A comma outside brackets is a syntax error at it, not a parse without end") {
  // yaml-cpp 0.7's LoadAll read it as endless empty documents until memory ran out.
  CHECK(ErrorOf(",") == "m.yaml:1:1: YAML syntax error: unexpected ','");
  CHECK(ErrorOf("# a comment\n  , version: 1\n") ==
        "m.yaml:2:3: YAML syntax error: unexpected ','");
}

TEST_CASE("An unknown top-level field is an error at its key") {
  CHECK(ErrorOf(R"(
version: 1
tasks: [{id: a, command: x}]
task: []
)") == "m.yaml:3:1: unknown field 'task' in manifest; expected one of: version, plugins, python, "
       "defaults, tasks, max_failures, node_setup, node_teardown");
}

TEST_CASE("Resources and priority in defaults apply to every task, and a task's own replace them") {
  const Manifest m = Parse(R"(
version: 1
defaults:
  priority: 5
  cores: 2
  gpus: 1
  memory: 1G
  tags: [ssd]
  node: n1
tasks:
  - id: a
    command: x
  - id: b
    command: x
    priority: -1
    cores: 4
    gpus: 0
    memory: 2G
    tags: [big, fast]
  - id: c
    kind: noop
    gpus: 0
)");
  const TaskEntry& a = m.entries[0];
  CHECK(a.priority == 5);
  CHECK(a.needs.cores == 2);
  CHECK(a.needs.gpus == 1);
  CHECK(a.needs.memory == (1ull << 30));
  CHECK(a.needs.tags == std::vector<std::string>{"ssd", jobrunner::NodeTag("n1")});
  const TaskEntry& b = m.entries[1];
  CHECK(b.priority == -1);
  CHECK(b.needs.cores == 4);
  CHECK(b.needs.gpus == 0);
  CHECK(b.needs.memory == (2ull << 30));
  CHECK(b.needs.tags == std::vector<std::string>{"big", "fast", jobrunner::NodeTag("n1")});
  CHECK(m.entries[2].needs.gpus == 0);
}

TEST_CASE("GPUs from defaults on an in-process kind are an error naming the task") {
  CHECK(ErrorOf(R"(
version: 1
defaults:
  gpus: 1
tasks:
  - id: a
    command: x
  - id: b
    kind: noop
)") == "m.yaml:3:3: gpus needs a command, or a kind with isolate: true; an in-process kind cannot "
       "be given its own CUDA_VISIBLE_DEVICES (from defaults; the task at line 7 is one: give it "
       "gpus: 0)");
}

TEST_CASE("An unknown field in defaults is an error at its key") {
  CHECK(ErrorOf(R"(
version: 1
defaults:
  retries: 1
  tmeout: 10m
tasks: [{id: a, command: x}]
)") == "m.yaml:4:3: unknown field 'tmeout' in defaults; expected one of: timeout, retries, env, "
       "cwd, shell, priority, cores, gpus, memory, node, tags");
}

TEST_CASE("An unknown field in a task is an error at its key") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    tmeout: 30s
)") == "m.yaml:5:5: unknown field 'tmeout' in task; expected one of: id, command, kind, args, "
       "isolate, gather, matrix, zip, cwd, timeout, retries, env, depends_on, after, priority, "
       "cores, gpus, memory, node, tags, shell, tasks_from");
}

TEST_CASE("A field given twice is an error at the second") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    id: b
)") == "m.yaml:5:5: duplicate key 'id' in task");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    env: {A: 1, B: 2, A: 3}
)") == "m.yaml:5:23: duplicate key 'A' in env");
}

TEST_CASE("A missing version is an error at the top") {
  CHECK(ErrorOf("tasks: [{id: a, command: x}]\n") ==
        "m.yaml:1:1: missing field 'version' in manifest");
}

TEST_CASE("Missing tasks, or no tasks at all, are errors") {
  CHECK(ErrorOf("version: 1\n") == "m.yaml:1:1: missing field 'tasks' in manifest");
  CHECK(ErrorOf("version: 1\ntasks: []\n") ==
        "m.yaml:2:8: tasks is empty; expected at least one task");
  CHECK(ErrorOf("version: 1\ntasks: {id: a}\n") ==
        "m.yaml:2:8: wrong type for tasks: expected a list of tasks, got a map");
  CHECK(ErrorOf("version: 1\ntasks:\n  - run\n") ==
        "m.yaml:3:5: wrong type for task: expected a map with id and command (or kind, or "
        "tasks_from), got 'run'");
}

TEST_CASE("Only version 1, written as an integer, is accepted") {
  CHECK(ErrorOf("version: 2\ntasks: [{id: a, command: x}]\n") ==
        "m.yaml:1:10: unsupported version 2; expected 1");
  CHECK(ErrorOf("version: one\ntasks: [{id: a, command: x}]\n") ==
        "m.yaml:1:10: wrong type for version: expected the integer 1, got 'one'");
  CHECK(ErrorOf("version: 1.0\ntasks: [{id: a, command: x}]\n") ==
        "m.yaml:1:10: wrong type for version: expected the integer 1, got '1.0'");
}

TEST_CASE("A task without an id or a command is an error at the task") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - command: x
)") == "m.yaml:3:5: missing field 'id' in task");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    cwd: x
)") == "m.yaml:3:5: missing field 'command' in task");
}

TEST_CASE("A field of the wrong type says what was expected") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    retries: "x"
)") == "m.yaml:5:14: wrong type for retries: expected an integer from 0 to 100, got 'x'");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: {a: 1}
)") == "m.yaml:4:14: wrong type for command: expected a string (run by /bin/sh -c) or a list of "
       "arguments, got a map");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    env: [A, B]
)") == "m.yaml:5:10: wrong type for env: expected a map of NAME: value, got a list");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: [a]
    command: x
)") == "m.yaml:3:9: wrong type for id: expected a string, got a list");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: [run, [1, 2]]
)") == "m.yaml:4:20: wrong type for command: expected a string, got a list");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    env:
      A: {b: c}
)") == "m.yaml:6:10: wrong type for env A: expected a string, got a map");
  CHECK(ErrorOf(R"(
version: 1
defaults: [timeout]
tasks: [{id: a, command: x}]
)") == "m.yaml:2:11: wrong type for defaults: expected a map of timeout, retries, env, cwd, "
       "shell, priority, cores, gpus, memory, node and tags, got a list");
}

TEST_CASE("An empty value is reported at its key, where the mistake is") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    timeout:
    retries: 1
)") == "m.yaml:5:5: wrong type for timeout: expected a duration like 30s, got null");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id:
    command: x
)") == "m.yaml:3:5: wrong type for id: expected a string, got null");
}

TEST_CASE("Retries must be an integer from 0 to 100") {
  const std::string head = "version: 1\ntasks:\n  - id: a\n    command: x\n    retries: ";
  CHECK(Parse(head + "100\n").entries[0].retries == 100);
  CHECK(ErrorOf(head + "101\n") ==
        "m.yaml:5:14: retries 101 is out of range; expected an integer from 0 to 100");
  CHECK(ErrorOf(head + "-1\n") ==
        "m.yaml:5:14: retries -1 is out of range; expected an integer from 0 to 100");
  CHECK(ErrorOf(head + "1.5\n") ==
        "m.yaml:5:14: wrong type for retries: expected an integer from 0 to 100, got '1.5'");
}

TEST_CASE("A bad duration says what a duration looks like") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    timeout: 10x
)") == "m.yaml:5:14: bad duration '10x' for timeout: expected a number with a unit, like 500ms, "
       "30s, 10m or 2h");
  CHECK(ErrorOf(R"(
version: 1
defaults:
  timeout: 30
tasks: [{id: a, command: x}]
)") == "m.yaml:3:12: bad duration '30' for timeout: expected a number with a unit, like 500ms, "
       "30s, 10m or 2h");
}

TEST_CASE("A timeout longer than a year is an error at its value, in a task or in defaults") {
  // 2562048h once passed, and then timed out every attempt at once (an overflow).
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    timeout: 2562048h
)") == "m.yaml:5:14: timeout 2562048h is longer than 8760h (365 days), the longest duration "
       "accepted");
  CHECK(ErrorOf(R"(
version: 1
defaults:
  timeout: 99999999999999999999999s
tasks: [{id: a, command: x}]
)") == "m.yaml:3:12: timeout 99999999999999999999999s is longer than 8760h (365 days), the "
       "longest duration accepted");
  CHECK(Parse("version: 1\ntasks: [{id: a, command: x, timeout: 8760h}]\n").entries[0].timeout_ms ==
        jobrunner::kMaxDurationMs);
}

TEST_CASE("Memory over 1024T is an error at its value") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    memory: 2048T
)") == "m.yaml:5:13: memory 2048T is larger than 1024T, the largest size accepted");
  CHECK(ErrorOf(R"(
version: 1
defaults:
  memory: 99999999999999999999999
tasks: [{id: a, command: x}]
)") == "m.yaml:3:11: memory 99999999999999999999999 is larger than 1024T, the largest size "
       "accepted");
}

TEST_CASE("An integer beyond 64 bits is out of range, not of the wrong type") {
  const std::string head = "version: 1\ntasks:\n  - id: a\n    command: x\n";
  CHECK(ErrorOf(head + "    retries: 99999999999999999999\n") ==
        "m.yaml:5:14: retries 99999999999999999999 is out of range; expected an integer from 0 "
        "to 100");
  CHECK(ErrorOf(head + "    priority: -99999999999999999999\n") ==
        "m.yaml:5:15: priority -99999999999999999999 is out of range; expected an integer");
  CHECK(ErrorOf(head + "    cores: 4294967297\n") ==
        "m.yaml:5:12: cores 4294967297 is out of range; expected an integer from 1 to 4096");
  CHECK(ErrorOf(head + "    matrix: {n: {range: [0, 9223372036854775808]}}\n") ==
        "m.yaml:5:29: range stop of matrix n 9223372036854775808 is out of range; expected an "
        "integer");
}

TEST_CASE("The widest matrix ranges are counted without overflow") {
  const Manifest m = Parse(
      "version: 1\ntasks:\n  - id: t-{n}\n    command: x\n    matrix:\n"
      "      n: {range: [-9223372036854775808, 9223372036854775807]}\n"
      "  - id: u-{n}\n    command: x\n    matrix:\n"
      "      n: {range: [9223372036854775807, -9223372036854775808, -9223372036854775808]}\n");
  CHECK(m.entries[0].size() == UINT64_MAX);
  CHECK(m.entries[0].matrix[0].ValueAt(UINT64_MAX - 1) == "9223372036854775806");
  CHECK(m.entries[1].size() == 2);
  CHECK(m.entries[1].matrix[0].ValueAt(1) == "-1");
}

TEST_CASE("An empty command is an error, as a string or as a list") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: ""
)") == "m.yaml:4:14: empty command; expected a shell command or a list of arguments");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: "  "
)") == "m.yaml:4:14: empty command; expected a shell command or a list of arguments");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: []
)") == "m.yaml:4:14: empty command; expected a list whose first element names the program");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: ["", x]
)") == "m.yaml:4:15: empty program name in command; expected the program to run first");
}

TEST_CASE("An unknown placeholder is an error at its string, naming the matrix") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t-{n}
    command: [run, "{m}"]
    matrix:
      n: [1, 2]
)") == "m.yaml:4:20: unknown placeholder {m} in command; this task's matrix defines: n");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: echo {n}
)") == "m.yaml:4:14: unknown placeholder {n} in command; this task has no matrix");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t-{x}
    command: x
    matrix: {a: [1], b: [2]}
)") == "m.yaml:3:9: unknown placeholder {x} in id; this task's matrix defines: a, b");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    cwd: out/{dir}
)") == "m.yaml:5:10: unknown placeholder {dir} in cwd; this task has no matrix");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    env: {A: "{v}"}
)") == "m.yaml:5:14: unknown placeholder {v} in env A; this task has no matrix");
}

TEST_CASE("A placeholder in the defaults must be defined by every task") {
  CHECK(ErrorOf(R"(
version: 1
defaults:
  env: {N: "{n}"}
tasks:
  - id: t-{n}
    command: x
    matrix: {n: [1]}
  - id: b
    command: x
)") == "m.yaml:3:12: unknown placeholder {n} in env N from defaults; the task at line 8 has no "
       "matrix");
  CHECK(ErrorOf(R"(
version: 1
defaults:
  cwd: "{n}"
tasks:
  - id: t-{m}
    command: x
    matrix: {m: [1]}
)") == "m.yaml:3:8: unknown placeholder {n} in cwd from defaults; the matrix of the task at line "
       "5 defines: m");
}

TEST_CASE("An id may not use task_id or attempt") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a-{attempt}
    command: x
)") == "m.yaml:3:9: placeholder {attempt} cannot be used in id; an id may only use its task's "
       "matrix names");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: "{task_id}"
    command: x
)") == "m.yaml:3:9: placeholder {task_id} cannot be used in id; an id may only use its task's "
       "matrix names");
}

TEST_CASE("An empty matrix list or range gives an entry of no tasks, not an error") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{n}
    command: x
    matrix:
      n: []
  - id: u-{n}
    command: x
    matrix:
      n: {range: [5, 5]}
  - id: v-{n}-{m}
    command: x
    matrix:
      n: {range: [0, 5, -1]}
      m: [1, 2]
)");
  REQUIRE(m.entries.size() == 3);
  for (const TaskEntry& e : m.entries) CHECK(e.size() == 0);
}

TEST_CASE("A matrix range must hold two or three integers") {
  const std::string head = "version: 1\ntasks:\n  - id: t-{n}\n    command: x\n    matrix:\n";
  CHECK(ErrorOf(head + "      n: {range: [5]}\n") ==
        "m.yaml:6:18: range of matrix n has 1 elements; expected [start, stop] or [start, stop, "
        "step]");
  CHECK(ErrorOf(head + "      n: {range: [0, 5, 1, 1]}\n") ==
        "m.yaml:6:18: range of matrix n has 4 elements; expected [start, stop] or [start, stop, "
        "step]");
  CHECK(ErrorOf(head + "      n: {range: [0, a]}\n") ==
        "m.yaml:6:22: wrong type for range stop of matrix n: expected an integer, got 'a'");
  CHECK(ErrorOf(head + "      n: {range: [0.5, 2]}\n") ==
        "m.yaml:6:19: wrong type for range start of matrix n: expected an integer, got '0.5'");
  CHECK(ErrorOf(head + "      n: {range: [0, 5, 0]}\n") ==
        "m.yaml:6:25: zero step in range of matrix n");
  CHECK(ErrorOf(head + "      n: {range: 5}\n") ==
        "m.yaml:6:18: wrong type for range of matrix n: expected [start, stop] or [start, stop, "
        "step], got '5'");
  CHECK(ErrorOf(head + "      n: {range: [0, 99999999999999999999]}\n") ==
        "m.yaml:6:22: range stop of matrix n 99999999999999999999 is out of range; expected an "
        "integer");
}

TEST_CASE("A matrix axis must be a list, or a map of range, file or glob") {
  const std::string head = "version: 1\ntasks:\n  - id: t-{n}\n    command: x\n    matrix:\n";
  CHECK(ErrorOf(head + "      n: 5\n") ==
        "m.yaml:6:10: wrong type for matrix n: expected a list of values, {range: [start, "
        "stop]}, {file: path} or {glob: pattern}, got '5'");
  CHECK(ErrorOf(head + "      n: {rnage: [0, 1]}\n") ==
        "m.yaml:6:11: unknown field 'rnage' in matrix n; expected one of: range, file, glob");
  CHECK(ErrorOf(head + "      n: {}\n") ==
        "m.yaml:6:10: matrix n has 0 of range, file and glob; expected one");
  CHECK(ErrorOf(head + "      n: {range: [0, 1], glob: '*'}\n") ==
        "m.yaml:6:10: matrix n has 2 of range, file and glob; expected one");
  CHECK(ErrorOf(head + "      n: [a, {b: 1}]\n") ==
        "m.yaml:6:14: wrong type for a value of matrix n: expected a string or a number, got a "
        "map");
}

TEST_CASE("A matrix needs names that placeholders can use") {
  const std::string head = "version: 1\ntasks:\n  - id: t\n    command: x\n    matrix:\n";
  CHECK(ErrorOf(head + "      a-b: [1]\n") ==
        "m.yaml:6:7: bad matrix name 'a-b'; expected an identifier, like n or file");
  CHECK(ErrorOf(head + "      1n: [1]\n") ==
        "m.yaml:6:7: bad matrix name '1n'; expected an identifier, like n or file");
  CHECK(ErrorOf(head + "      attempt: [1]\n") ==
        "m.yaml:6:7: matrix name 'attempt' is reserved; jobrunner fills in {task_id} and "
        "{attempt}");
  CHECK(ErrorOf(head + "      task_id: [1]\n") ==
        "m.yaml:6:7: matrix name 'task_id' is reserved; jobrunner fills in {task_id} and "
        "{attempt}");
  CHECK(ErrorOf("version: 1\ntasks:\n  - id: t\n    command: x\n    matrix: {}\n") ==
        "m.yaml:5:13: empty matrix; expected at least one name, like n: [1, 2]");
  CHECK(ErrorOf("version: 1\ntasks:\n  - id: t\n    command: x\n    matrix: [n]\n") ==
        "m.yaml:5:13: wrong type for matrix: expected a map from names to lists or ranges, got a "
        "list");
}

TEST_CASE("An env name must be usable as a variable name") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    env: {"A=B": 1}
)") == "m.yaml:5:11: bad env name 'A=B'; expected a name without '=', like OMP_NUM_THREADS");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    env: {"": 1}
)") == "m.yaml:5:11: bad env name ''; expected a name without '=', like OMP_NUM_THREADS");
}

TEST_CASE("A NUL character in a string is an error") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: [run, "a\0b"]
)") == "m.yaml:4:20: command contains a NUL character; expected a string");
}

TEST_CASE("An empty cwd is an error") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: x
    cwd: ""
)") == "m.yaml:5:10: empty cwd; expected a directory path");
}

TEST_CASE("A quoted string that is never closed is a syntax error, not a swallowed task") {
  // yaml-cpp 0.7 lets such a string run to the end of the file, taking task b with it.
  CHECK(ErrorOf("version: 1\ntasks:\n  - id: a\n    command: \"echo unterminated\n"
                "  - id: b\n    command: [touch, ran]\n") ==
        "m.yaml:4:14: YAML syntax error: a string opened with \" here is never closed; expected "
        "a closing \"");
  CHECK(ErrorOf("version: 1\ntasks:\n  - id: 'a\n    command: [x]\n") ==
        "m.yaml:3:9: YAML syntax error: a string opened with ' here is never closed; expected a "
        "closing '");
}

TEST_CASE("Escaped quotes inside quoted strings do not end them early") {
  Manifest m = Parse("version: 1\ntasks:\n  - id: 'it''s'\n    command: \"echo \\\" q\"\n");
  REQUIRE(m.entries.size() == 1);
}

TEST_CASE("Deeply nested YAML is refused with a clear message instead of a crash") {
  std::string yaml = "version: 1\ntasks: " + std::string(100000, '[') + std::string(100000, ']');
  std::string error = ErrorOf(yaml);
  CHECK(error.rfind("m.yaml:2:", 0) == 0);
  CHECK(error.find("YAML nesting too deep") != std::string::npos);
}

// ---- kind: python -----------------------------------------------------------------------

TEST_CASE("python: settings are read with their positions") {
  const Manifest m = Parse(R"(
version: 1
python:
  path: [src, /opt/lib]
  setup: mypkg.tasks:init
  executable: venv/bin/python
tasks:
  - id: t
    kind: python
    args: {function: "mypkg.tasks:fit"}
)");
  CHECK(m.python.path == std::vector<std::string>{"src", "/opt/lib"});
  CHECK(m.python.path_given);
  CHECK(m.python.setup == "mypkg.tasks:init");
  CHECK(m.python.setup_pos.line == 4);
  CHECK(m.python.executable == "venv/bin/python");
  CHECK(m.HasPythonTasks());
  CHECK(Literal(m.entries[0].python.function) == "mypkg.tasks:fit");
}

TEST_CASE("A manifest without python: has default settings and no Python tasks") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t
    command: x
)");
  CHECK_FALSE(m.python.path_given);
  CHECK(m.python.setup.empty());
  CHECK_FALSE(m.HasPythonTasks());
}

TEST_CASE("kind: python's mistakes are reported where they are") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
)") == "m.yaml:4:5: kind: python needs args with a function, like args: {function: "
       "\"mypkg.tasks:fit\", kwargs: {alpha: 0.1}}");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
    args: {kwargs: {a: 1}}
)") == "m.yaml:5:11: missing field 'function' in args of kind: python; expected "
       "module:function, like mypkg.tasks:fit");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
    args: {function: "mypkg.tasks.fit"}
)") == "m.yaml:5:22: bad function 'mypkg.tasks.fit'; expected module:function, like "
       "mypkg.tasks:fit");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
    args: {function: "m:f", kwarg: {a: 1}}
)") == "m.yaml:5:29: unknown field 'kwarg' in args of kind: python; expected one of: "
       "function, kwargs, args");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
    args: {function: "m:f", kwargs: [1, 2]}
)") == "m.yaml:5:37: wrong type for kwargs: expected a map of name: value, got a list");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
    isolate: true
    args: {function: "m:f"}
)") == "m.yaml:5:5: isolate does not apply to kind: python, whose interpreters are "
       "processes already");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    kind: python
    args: {function: "m:f", kwargs: {a: "{nope}"}}
)") == "m.yaml:5:41: unknown placeholder {nope} in kwargs.a; this task has no matrix");
  CHECK(ErrorOf(R"(
version: 1
python: {setup: init}
tasks:
  - id: t
    kind: python
    args: {function: "m:f"}
)") == "m.yaml:2:17: bad python.setup 'init'; expected module:function, like mypkg.tasks:fit");
}

TEST_CASE("A Python task may ask for GPUs: its interpreter is a process of its own") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t
    kind: python
    gpus: 1
    args: {function: "m:f"}
)");
  CHECK(m.entries[0].needs.gpus == 1);
}

TEST_CASE("A matrix keeps the JSON of its plain numbers and booleans, not of quoted values") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{v}
    command: x
    matrix: {v: [0.1, "2", three, true, 1e3]}
)");
  CHECK(m.entries[0].matrix[0].json_values ==
        std::vector<std::string>{"0.1", "", "", "true", "1e3"});
}

// ---- Sweeps: formats, zip, values from files and globs -----------------------------------

TEST_CASE("A format that does not suit a matrix value is an error at its template") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t-{n}
    command: "run {n:04d}"
    matrix:
      n: [1, two]
)") == "m.yaml:4:14: {n:04d} in command cannot format the value 'two' of n: 'two' is not an "
       "integer");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t-{n:q}
    command: x
    matrix: {n: [1]}
)") == "m.yaml:3:9: bad format in {n:q}: unexpected 'q'; expected "
       "[[fill]align][sign][0][width][.precision][type] with type one of sdxXobfFeEgG (write {{ "
       "and }} for literal braces) in id");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t
    command: "echo {task_id:d}"
)") == "m.yaml:4:14: {task_id:d} in command cannot format the task id, which is text: 'id' is "
       "not an integer");
  CHECK_NOTHROW(Parse(R"(
version: 1
tasks:
  - id: t-{n:03d}
    command: "echo {attempt:02d} {n:.2f}"
    matrix: {n: {range: [-5, 1000]}}
)"));
}

TEST_CASE("Zipped keys advance together, as one more key after the matrix") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: t-{s}-{a}
    command: "run {a} {b}"
    matrix:
      s: [1, 2]
    zip:
      a: [x, y, z]
      b: {range: [10, 13]}
)");
  const TaskEntry& e = m.entries[0];
  REQUIRE(e.matrix.size() == 3);
  CHECK(e.ZipStart() == 1);
  CHECK(e.matrix[1].zipped);
  CHECK(e.size() == 6);
}

TEST_CASE("Zipped keys need equal lengths and their own names") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t-{a}
    command: x
    zip:
      a: [1, 2, 3]
      b: [1, 2]
)") == "m.yaml:7:7: zip b has 2 values, zip a 3; zip pairs the i-th values of its keys, so they "
       "need as many");
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: t-{a}
    command: x
    matrix: {a: [1]}
    zip: {a: [2]}
)") == "m.yaml:6:11: 'a' is a key of both matrix and zip");
}

TEST_CASE("Matrix values come from a file, one a line, or a glob, sorted, beside the manifest") {
  jobrunner::testing::TempDir dir;
  std::ofstream(dir / "values.txt") << "alpha\n\nbeta gamma\r\n";
  std::filesystem::create_directories(dir / "data");
  for (const char* name : {"b.csv", "a.csv", "c.txt", ".hidden.csv"}) {
    std::ofstream(dir / ("data/" + std::string(name))) << "x";
  }
  std::ofstream(dir / "m.yaml") << R"(
version: 1
tasks:
  - id: t-{v}
    command: "echo {v}"
    matrix: {v: {file: values.txt}}
  - id: u-{f}
    command: "wc -l {f}"
    matrix: {f: {glob: "data/*.csv"}}
  - id: w-{f}
    command: "wc -l {f}"
    matrix: {f: {glob: "nothing/*.csv"}}
)";
  const Manifest m = LoadManifest(dir / "m.yaml");
  CHECK(m.entries[0].matrix[0].values == std::vector<std::string>{"alpha", "beta gamma"});
  CHECK(m.entries[1].matrix[0].values == std::vector<std::string>{"data/a.csv", "data/b.csv"});
  CHECK(m.entries[2].size() == 0);
  std::ofstream(dir / "bad.yaml") << "version: 1\ntasks:\n  - id: t-{v}\n    command: x\n"
                                     "    matrix: {v: {file: missing.txt}}\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "bad.yaml"),
                    Catch::EndsWith("bad.yaml:5:24: cannot read the values of matrix v from "
                                    "missing.txt: No such file or directory"));
}

TEST_CASE("A file of values that is too large or holds a NUL byte is refused, naming its line") {
  jobrunner::testing::TempDir dir;
  std::ofstream(dir / "nul.txt", std::ios::binary) << std::string("a\n\nb\0c\n", 7);
  const std::string head = "version: 1\ntasks:\n  - id: t-{v}\n    command: x\n";
  std::ofstream(dir / "nul.yaml") << head << "    matrix: {v: {file: nul.txt}}\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "nul.yaml"),
                    Catch::EndsWith("nul.yaml:5:24: nul.txt:3: a NUL byte"));
  // Endless, and without a line end: refused at the limit, not read as one line forever.
  std::ofstream(dir / "zero.yaml") << head << "    matrix: {v: {file: /dev/zero}}\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "zero.yaml"),
                    Catch::EndsWith("/dev/zero is larger than 32 MiB; for that many tasks, use a "
                                    "command list (tasks_from)"));
}

// ---- Command lists, shells, dependencies by entry, fail fast --------------------------------

TEST_CASE("tasks_from makes an entry of a command list, with the entry's fields for its tasks") {
  jobrunner::testing::TempDir dir;
  std::ofstream(dir / "cmds.txt") << "echo 1\n# no task\necho 2\n";
  std::ofstream(dir / "m.yaml") << R"(
version: 1
defaults: {shell: /bin/zsh}
tasks:
  - id: prep
    tasks_from: cmds.txt
    timeout: 30s
    retries: 2
    cores: 2
  - id: after
    command: "echo done"
    shell: bash
    after: [{entry: prep}]
    depends_on: [prep-1]
)";
  const Manifest m = LoadManifest(dir / "m.yaml");
  const TaskEntry& e = m.entries[0];
  REQUIRE(e.list);
  CHECK(e.size() == 2);
  CHECK(e.list->name() == dir / "cmds.txt");
  CHECK(e.timeout_ms == 30000);
  CHECK(e.retries == 2);
  CHECK(e.needs.cores == 2);
  CHECK(e.shell_program == "/bin/zsh");
  const TaskEntry& f = m.entries[1];
  CHECK(f.shell_program == "bash");
  REQUIRE(f.entry_dependencies.size() == 1);
  CHECK(f.entry_dependencies[0].entry == "prep");
  CHECK(f.entry_dependencies[0].after);
  REQUIRE(f.depends_on.size() == 1);
  CHECK(f.after.empty());
}

TEST_CASE("tasks_from takes a plain id and no command of its own") {
  jobrunner::testing::TempDir dir;
  std::ofstream(dir / "cmds.txt") << "echo 1\n";
  std::ofstream(dir / "a.yaml")
      << "version: 1\ntasks:\n  - id: p\n    tasks_from: cmds.txt\n    command: x\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "a.yaml"),
                    Catch::EndsWith("a.yaml:5:5: command does not go with tasks_from: each line "
                                    "of the list is a command, run by the shell"));
  std::ofstream(dir / "b.yaml") << "version: 1\ntasks:\n  - id: \"\"\n    tasks_from: cmds.txt\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "b.yaml"), Catch::Contains("a plain name"));
  std::ofstream(dir / "c.yaml") << "version: 1\ntasks:\n  - id: p\n    tasks_from: none.txt\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "c.yaml"),
                    Catch::EndsWith("c.yaml:4:17: tasks_from none.txt: cannot read the command "
                                    "list: No such file or directory"));
  std::ofstream(dir / "late.txt") << "echo 1\n#DISBATCH PERENGINE START x\n";
  std::ofstream(dir / "d.yaml") << "version: 1\ntasks:\n  - id: p\n    tasks_from: late.txt\n";
  CHECK_THROWS_WITH(LoadManifest(dir / "d.yaml"),
                    Catch::Contains("late.txt:2: #DISBATCH PERENGINE after the first task"));
}

TEST_CASE("shell belongs to string commands, and names one program") {
  CHECK(ErrorOf(R"(
version: 1
tasks:
  - id: a
    command: [ls]
    shell: bash
)") == "m.yaml:5:5: shell runs a command given as a string (or a tasks_from list); this "
       "task's command is a list of arguments, run without a shell");
  CHECK(ErrorOf(R"(
version: 1
defaults: {shell: "bash -e"}
tasks: [{id: a, command: x}]
)") == "m.yaml:2:19: bad shell 'bash -e'; expected one program (a path, or a name looked up "
       "in PATH), run as <shell> -c <command>");
  CHECK(Parse("version: 1\ntasks: [{id: a, command: x}]\n").entries[0].shell_program.empty());
  CHECK(ParseManifest("version: 1\ntasks: [{id: a, command: x}]\n", "m.yaml", "/bin/dash")
            .entries[0]
            .shell_program == "/bin/dash");
}

TEST_CASE("after takes task ids as depends_on does, and both take {entry: id}") {
  const Manifest m = Parse(R"(
version: 1
tasks:
  - id: a-{n}
    command: x
    matrix: {n: [1, 2]}
  - id: b-{n}
    command: x
    matrix: {n: [1, 2]}
    after: ["a-{n}"]
    depends_on: [{entry: "a-{n}"}]
)");
  const TaskEntry& b = m.entries[1];
  REQUIRE(b.after.size() == 1);
  CHECK(b.depends_on.empty());
  REQUIRE(b.entry_dependencies.size() == 1);
  CHECK(b.entry_dependencies[0].entry == "a-{n}");
  CHECK_FALSE(b.entry_dependencies[0].after);
  CHECK(ErrorOf("version: 1\ntasks:\n  - id: a\n    command: x\n    after: [{task: b}]\n") ==
        "m.yaml:5:14: unknown field 'task' in after element; expected one of: entry");
}

TEST_CASE("max_failures is a count or a share of the tasks") {
  const Manifest m = Parse("version: 1\nmax_failures: 5%\ntasks: [{id: a, command: x}]\n");
  REQUIRE(m.max_failures);
  CHECK(m.max_failures->Of(1000) == 50);
  CHECK(m.max_failures->Of(3) == 1);
  CHECK(
      Parse("version: 1\nmax_failures: 3\ntasks: [{id: a, command: x}]\n").max_failures->Of(1000) ==
      3);
  CHECK(ErrorOf("version: 1\nmax_failures: 0\ntasks: [{id: a, command: x}]\n") ==
        "m.yaml:2:15: bad max_failures '0'; expected a count of at least 1, like 10, or a share "
        "of the tasks up to 100%, like 5% or 0.5%");
}

TEST_CASE(
    "node_setup and node_teardown are a shell string or a list, with defaults' shell and timeout") {
  const Manifest m = Parse(R"(
version: 1
defaults: {shell: /bin/zsh, timeout: 30s}
node_setup: "cp data /tmp"
node_teardown: [rm, -rf, /tmp/data]
tasks: [{id: a, command: x}]
)");
  REQUIRE(m.node_setup);
  CHECK(m.node_setup->argv == std::vector<std::string>{"/bin/zsh", "-c", "cp data /tmp"});
  CHECK(m.node_setup->timeout_ms == 30000);
  REQUIRE(m.node_teardown);
  CHECK(m.node_teardown->argv == std::vector<std::string>{"rm", "-rf", "/tmp/data"});
  CHECK_FALSE(Parse("version: 1\ntasks: [{id: a, command: x}]\n").node_setup);
}

TEST_CASE("An empty node_setup or node_teardown is an error at it") {
  CHECK(ErrorOf("version: 1\nnode_setup: \"\"\ntasks: [{id: a, command: x}]\n") ==
        "m.yaml:2:13: empty node_setup; expected a command: a string for the shell, or a list "
        "of arguments");
  CHECK(ErrorOf("version: 1\nnode_teardown: []\ntasks: [{id: a, command: x}]\n") ==
        "m.yaml:2:16: empty node_teardown; expected a command: a string for the shell, or a "
        "list of arguments");
}
