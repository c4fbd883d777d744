"""Task kinds (`kind:` with `args:`): C++ work run inside the worker ranks, with typed results.

Covers each built-in kind against an independent computation (hashlib, gzip, counting in
Python), failures (a kind that throws, a timeout, a crash under `isolate: true`), plugins (the
example plugin by flag and by manifest, and broken plugins refused), argument errors at load
time and at dispatch, and `gather:`.
"""

import gzip
import hashlib
import json
import os
import shutil
import textwrap
from pathlib import Path

from harness import expect, expect_equal, expect_in, run_tests
from reliability import read_journal, resume

EXAMPLE_PLUGIN = os.environ.get("JOBRUNNER_EXAMPLE_PLUGIN", "")
TEST_PLUGINS = Path(os.environ.get("JOBRUNNER_TEST_PLUGINS", "."))
MISBEHAVING = str(TEST_PLUGINS / "misbehaving_kinds.so")


def write_data(sandbox):
    """A few text files to work on; returns their names and contents."""
    files = {
        "a.txt": "alpha\nbeta\ngamma delta\n",
        "b.txt": "".join(f"line {i}\n" for i in range(5000)),
        "c.txt": "no newline at the end",
    }
    for name, text in files.items():
        sandbox.write(f"data/{name}", text)
    return files


def test_built_in_kinds_compute_what_independent_tools_compute(sandbox):
    """hash-file (sha256 and md5), line-count, grep and compress-file (gzip) on three files.
    Proves: every result field equals what Python computes; grep's matches are in its data/ file;
    the .gz decompresses to the input; every task ran on a worker rank, in-process."""
    files = write_data(sandbox)
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: sha-{f}
            kind: hash-file
            args: {path: "data/{f}"}
            matrix: {f: [a.txt, b.txt, c.txt]}
          - id: md5-{f}
            kind: hash-file
            args: {path: "data/{f}", algorithm: md5}
            matrix: {f: [a.txt, c.txt]}
          - id: count-{f}
            kind: line-count
            args: {path: "data/{f}"}
            matrix: {f: [a.txt, b.txt, c.txt]}
          - id: grep-{f}
            kind: grep
            args: {path: "data/{f}", pattern: "^line 4[0-9]{{2}}$|^beta"}
            matrix: {f: [a.txt, b.txt]}
          - id: gz
            kind: compress-file
            args: {input: data/b.txt, output: b.txt.gz}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    for f, text in files.items():
        sha = run.only_attempt(f"sha-{f}")["result"]
        expect_equal(sha["digest"], hashlib.sha256(text.encode()).hexdigest(), f"sha256 of {f}")
        expect_equal(sha["bytes"], len(text), f"bytes of {f}")
        count = run.only_attempt(f"count-{f}")["result"]
        expect_equal(count["lines"], len(text.splitlines()), f"lines of {f}")
    expect_equal(run.only_attempt("md5-a.txt")["result"]["digest"],
                 hashlib.md5(files["a.txt"].encode()).hexdigest(), "md5 of a.txt")
    grep_b = run.only_attempt("grep-b.txt")
    expect_equal(grep_b["result"]["matches"], 100, "matches in b.txt")
    matched = (run.run_dir / grep_b["data"]).read_text().splitlines()
    expect_equal(matched, [f"line {i}" for i in range(400, 500)], "grep's data file")
    expect_equal(run.only_attempt("grep-a.txt")["result"]["matches"], 1, "matches in a.txt")
    gz = run.only_attempt("gz")["result"]
    packed = (sandbox.path / "b.txt.gz").read_bytes()
    expect_equal(gzip.decompress(packed).decode(), files["b.txt"], "the .gz decompressed")
    expect_equal(gz["bytes_out"], len(packed), "bytes_out against the file")
    expect(not (sandbox.path / "b.txt.gz.partial").exists(), "a .partial file was left behind")
    expect({a["worker"] for a in run.attempts} <= sandbox.worker_ranks(), "ranks that ran tasks")


def test_zstd_output_has_the_zstd_frame_and_the_size_reported(sandbox):
    """compress-file with format zstd. Proves: the output starts with the zstd magic number and
    its size is the bytes_out of the result."""
    write_data(sandbox)
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: z
            kind: compress-file
            args: {input: data/b.txt, format: zstd, level: 19}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    packed = (sandbox.path / "data/b.txt.zst").read_bytes()
    expect_equal(packed[:4], b"\x28\xb5\x2f\xfd", "zstd magic number")
    expect_equal(run.only_attempt("z")["result"]["bytes_out"], len(packed), "bytes_out")


def test_a_kind_that_throws_fails_with_its_message_and_is_retried(sandbox):
    """hash-file of a missing file, retries 1. Proves: two attempts, both failed, each with the
    error naming the file; the run exits 1; the worker went on to run the other task."""
    write_data(sandbox)
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: missing
            kind: hash-file
            args: {path: data/nope.txt}
            retries: 1
          - id: fine
            kind: line-count
            args: {path: data/a.txt}
        """)
    run = sandbox.run("manifest.yaml", "--retry-backoff", "10ms")
    expect_equal(run.rc, 1, "exit status")
    attempts = run.attempts_of("missing")
    expect_equal([a["outcome"] for a in attempts], ["failed", "failed"], "outcomes of missing")
    for a in attempts:
        expect_in("nope.txt", a.get("error", ""), "error of a failed attempt")
    expect_equal(run.only_attempt("fine")["outcome"], "succeeded", "the other task")


def test_an_in_process_task_past_its_timeout_is_reported_timed_out(sandbox):
    """kind sleep for 30s with timeout 300ms, and a hang kind (ignores cancellation, 3 s) with
    timeout 300ms. Proves: both end timed_out, and the run ends long before their durations
    (the sleep stops when told; the hang's slot is given up at its timeout)."""
    sandbox.write("manifest.yaml", f"""\
        version: 1
        plugins: [{MISBEHAVING}]
        tasks:
          - id: long-sleep
            kind: sleep
            args: {{duration: 30s}}
            timeout: 300ms
          - id: stuck
            kind: hang
            args: {{seconds: 3}}
            timeout: 300ms
        """)
    run = sandbox.run("manifest.yaml", limit_s=60)
    expect_equal(run.rc, 1, "exit status")
    expect_equal(run.only_attempt("long-sleep")["outcome"], "timed_out", "sleep outcome")
    expect_equal(run.only_attempt("stuck")["outcome"], "timed_out", "hang outcome")
    expect(run.summary["wall_s"] < 20, f"the run waited for the sleep: {run.summary['wall_s']}s")


def test_an_isolated_kind_that_crashes_costs_one_attempt_not_the_worker(sandbox):
    """kind crash (abort()) with isolate: true, then 20 noop tasks. Proves: the crash is an
    attempt killed by SIGABRT (signaled, signal 6), every noop succeeds, exit status 1."""
    sandbox.write("manifest.yaml", f"""\
        version: 1
        plugins: [{MISBEHAVING}]
        tasks:
          - id: boom
            kind: crash
            isolate: true
          - id: after-{{n}}
            kind: noop
            matrix: {{n: {{range: [0, 20]}}}}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    boom = run.only_attempt("boom")
    expect_equal(boom["outcome"], "signaled", "outcome of the crash")
    expect_equal(boom["signal"], 6, "signal of the crash")
    expect_equal(sum(a["outcome"] == "succeeded" for a in run.attempts), 20, "noops succeeded")


def test_an_isolated_kind_returns_its_result_and_failure_message(sandbox):
    """hash-file with isolate: true, and the throw kind with isolate: true. Proves: the result
    comes back from the helper process as from a thread; the thrown message is the error."""
    files = write_data(sandbox)
    sandbox.write("manifest.yaml", f"""\
        version: 1
        plugins: [{MISBEHAVING}]
        tasks:
          - id: iso-hash
            kind: hash-file
            isolate: true
            args: {{path: data/a.txt}}
          - id: iso-throw
            kind: throw
            isolate: true
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    expect_equal(run.only_attempt("iso-hash")["result"]["digest"],
                 hashlib.sha256(files["a.txt"].encode()).hexdigest(), "digest from the helper")
    thrown = run.only_attempt("iso-throw")
    expect_equal(thrown["outcome"], "failed", "outcome of the throw")
    expect_in("always throws", thrown.get("error", ""), "error of the throw")


def test_the_example_plugin_loads_by_flag_and_by_manifest(sandbox):
    """jobs/examples/word_count_plugin.cc, built by the project: once with --plugin and once from
    the manifest's plugins: (a path relative to the manifest). Proves: both runs count the words
    of the file right."""
    expect(EXAMPLE_PLUGIN and Path(EXAMPLE_PLUGIN).exists(), f"no example plugin: {EXAMPLE_PLUGIN}")
    write_data(sandbox)
    (sandbox.path / "lib").mkdir()
    (sandbox.path / "lib/wc.so").symlink_to(EXAMPLE_PLUGIN)
    body = textwrap.dedent("""\
        tasks:
          - id: words
            kind: word-count
            args: {path: data/a.txt}
        """)
    sandbox.write("by_flag.yaml", "version: 1\n" + body)
    sandbox.write("by_manifest.yaml", "version: 1\nplugins: [lib/wc.so]\n" + body)
    for run in (sandbox.run("by_flag.yaml", "--plugin", "lib/wc.so"),
                sandbox.run("by_manifest.yaml")):
        expect_equal(run.rc, 0, "exit status")
        expect_equal(run.only_attempt("words")["result"]["words"], 4, "words in a.txt")


def test_broken_plugins_are_refused_with_a_clear_error(sandbox):
    """A plugin adding one kind name twice, one built for another API version, one that is not a
    jobrunner plugin, and a missing file. Proves: exit 2 on each, nothing run, and a message that
    names the plugin and the problem."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: t
            kind: noop
        """)
    cases = [
        (str(TEST_PLUGINS / "duplicate_kind.so"), "exposes kind 'twin' twice"),
        (str(TEST_PLUGINS / "other_api.so"), "built for task kind API"),
        ("/usr/lib/x86_64-linux-gnu/libz.so.1", "not a jobrunner plugin"),
        ("no-such-plugin.so", "no such file"),
    ]
    for plugin, message in cases:
        if not Path(plugin).exists() and "no-such" not in plugin:
            continue  # libz lives elsewhere on another architecture
        # Plugins are loaded and refused on rank 0 before any worker is greeted; one process
        # shows it (the rank count is the concern of the manifest error tests).
        run = sandbox.run_without_mpirun("--plugin", plugin, "--out", "run", "manifest.yaml")
        expect_equal(run.rc, 2, f"exit status with {plugin}")
        expect_in(message, run.stderr, f"error for {plugin}")
        expect_in(Path(plugin).name, run.stderr, f"error for {plugin} names it")
        expect(not (sandbox.path / "run" / "results.jsonl").exists(), f"results with {plugin}")


def test_kind_argument_mistakes_are_manifest_errors_at_their_position(sandbox):
    """An unknown kind, a misspelt argument, a bad argument value, and kind with command. Proves:
    exit 2, and a message naming manifest:line:column of the culprit and what is expected."""
    cases = {
        "unknown-kind": ("kind: hash-fil\n    args: {path: x}", "m.yaml:4:11", "unknown task kind 'hash-fil'"),
        "misspelt": ("kind: hash-file\n    args: {path: x, algorythm: md5}",
                     "m.yaml:5:21", "unknown argument 'algorythm'"),
        "bad-value": ("kind: grep\n    args: {path: x, pattern: \"(\"}",
                      "m.yaml:5:30", "bad pattern"),
        "both": ("kind: noop\n    command: [\"true\"]", "m.yaml:4:5", "either command or kind"),
        "args-on-command": ("command: [\"true\"]\n    args: {a: b}", "m.yaml:5:5",
                            "args belongs to a task with kind"),
    }
    for name, (fields, where, message) in cases.items():
        sandbox.write("m.yaml", f"version: 1\ntasks:\n  - id: t\n    {fields}\n")
        run = sandbox.run_without_mpirun("--check", "m.yaml")
        expect_equal(run.rc, 2, f"exit status for {name}")
        expect_in(f"{where}: ", run.stderr, f"position for {name}")
        expect_in(message, run.stderr, f"message for {name}")


def test_a_matrix_value_a_kind_rejects_fails_that_task_only(sandbox):
    """compress-file with level {l} over [3, x, 5]: the first task's arguments are fine, so the
    manifest loads; the task with level x cannot start. Proves: it ends spawn_error with a message
    naming the argument, and the other two succeed."""
    write_data(sandbox)
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: gz-{l}
            kind: compress-file
            args: {input: data/b.txt, output: "b{l}.gz", level: "{l}"}
            matrix: {l: ["3", x, "5"]}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    bad = run.attempts_of("gz-x")
    expect(bad and all(a["outcome"] == "spawn_error" for a in bad), f"gz-x attempts: {bad}")
    expect_in("level", bad[0].get("error", ""), "error names the argument")
    for level in ("3", "5"):
        expect_equal(run.only_attempt(f"gz-{level}")["outcome"], "succeeded", f"gz-{level}")


GATHER_MANIFEST = """\
        version: 1
        tasks:
          - id: grep-{f}
            kind: grep
            args: {path: "data/{f}", pattern: "a"}
            gather: concat
            matrix: {f: [c.txt, a.txt]}
          - id: count-{f}
            kind: line-count
            args: {path: "data/{f}"}
            gather: sum
            matrix: {f: [a.txt, b.txt, c.txt]}
          - id: square-{n}
            command: ["expr", "{n}", "*", "{n}"]
            gather: sum
            matrix: {n: {range: [1, 11]}}
        """


def test_gather_concatenates_in_task_order_and_sums_numbers(sandbox):
    """grep over 3 files with gather: concat, line-count with gather: sum, and a command printing
    a number with gather: sum. Proves: gathered/grep.out holds the matches in task order;
    gathered/count.json sums lines and bytes; gathered/square.json sums the printed numbers."""
    files = write_data(sandbox)
    sandbox.write("manifest.yaml", GATHER_MANIFEST)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    gathered = run.run_dir / "gathered"
    expected_lines = [line for f in ("c.txt", "a.txt")
                      for line in files[f].splitlines() if "a" in line]
    expect_equal((gathered / "grep.out").read_text().splitlines(), expected_lines, "grep.out")
    counted = json.loads((gathered / "count.json").read_text())
    expect_equal(counted["sum"]["lines"], sum(len(t.splitlines()) for t in files.values()),
                 "summed lines")
    expect_equal(counted["sum"]["bytes"], sum(len(t) for t in files.values()), "summed bytes")
    squares = json.loads((gathered / "square.json").read_text())
    expect_equal(squares["sum"]["value"], sum(n * n for n in range(1, 11)), "summed squares")
    expect_equal(squares["tasks"], 10, "tasks of square")


def test_results_lost_in_a_crash_come_back_from_the_journal_with_their_outputs(sandbox):
    """The gather manifest runs to its end; then results.jsonl and gathered/ are deleted, as a
    crash between the journal's sync and the results file's write would lose lines. Proves:
    the journal holds a TaskOutput record for each kind task (its result, and grep's data file);
    --resume runs nothing, restores every line with the kind's "result" and "data" and the
    command's "stdout", and gathers the same files again."""
    write_data(sandbox)
    sandbox.write("manifest.yaml", GATHER_MANIFEST)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    gathered = run.run_dir / "gathered"
    before = {f.name: f.read_bytes() for f in gathered.iterdir()}
    live = {a["task"]: a for a in run.attempts}
    _, records, _ = read_journal(run.run_dir / "journal")
    outputs = {r["index"]: r for _, _, r in records if r["type"] == "TaskOutput"}
    kind_tasks = [a for a in live.values() if a["task"].startswith(("grep-", "count-"))]
    expect_equal(sorted(outputs), sorted(a["index"] for a in kind_tasks), "TaskOutput records")
    for attempt in kind_tasks:
        expect_equal(json.loads(outputs[attempt["index"]]["result"]), attempt["result"],
                     f"journaled result of {attempt['task']}")

    (run.run_dir / "results.jsonl").unlink()
    shutil.rmtree(gathered)
    again = resume(sandbox, run.run_dir, sandbox.path / "manifest.yaml")
    expect_equal(again.rc, 0, "exit status of the resume")
    expect_equal(again.summary["attempts"], 0, "attempts run by the resume")
    restored = {a["task"]: a for a in again.attempts}
    expect_equal(sorted(restored), sorted(live), "tasks restored")
    for task, attempt in live.items():
        line = restored[task]
        expect(line.get("recovered"), f"{task} is marked recovered")
        for field in ("result", "data", "stdout", "stdout_bytes"):
            expect_equal(line.get(field), attempt.get(field), f"{field} of restored {task}")
    expect_equal({f.name: f.read_bytes() for f in gathered.iterdir()}, before,
                 "gathered files after the resume")


def test_gather_is_withheld_while_a_task_of_the_entry_failed(sandbox):
    """line-count with gather: sum over an existing and a missing file. Proves: no gathered file
    is written, and stderr says how many tasks did not succeed."""
    write_data(sandbox)
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: count-{f}
            kind: line-count
            args: {path: "data/{f}"}
            gather: sum
            matrix: {f: [a.txt, missing.txt]}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    expect(not (run.run_dir / "gathered" / "count.json").exists(), "count.json was written")
    expect_in("1 of 2 tasks have not succeeded", run.stderr, "gather warning")


if __name__ == "__main__":
    run_tests(globals())
