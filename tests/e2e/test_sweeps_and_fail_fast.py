"""Sweeps as users write them (formatted values, zipped keys, values from a file or a glob, empty
sweeps), dependencies that wait for an end whatever it was (after:, {entry: ...}), and fail fast
(--max-failures, max_failures:).
"""

from harness import expect, expect_equal, expect_in, run_tests


def test_formats_zips_files_and_globs_make_the_tasks_they_describe(sandbox):
    """{n:03d} pads, {x:.2f} rounds; zip pairs a with b (3 tasks per s, not 9); a file gives one
    value a line; a glob its sorted matches, relative to the manifest; an empty glob, none."""
    (sandbox.path / "data").mkdir()
    for name in ("b.csv", "a.csv", "skip.txt"):
        (sandbox.path / "data" / name).write_text("1\n2\n")
    sandbox.write("names.txt", "ada\n\ngrace hopper\n")
    sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: pad-{n:03d}
            command: "echo {n:03d} {x:.2f} > pad-{n:03d}.txt"
            matrix: {n: [7, 12], x: [0.125]}
          - id: zip-{s}-{a}
            command: "echo {a}{b} > zip-{s}-{a}.txt"
            matrix: {s: [1, 2]}
            zip: {a: [x, y, z], b: [10, 20, 30]}
          - id: name-{i}
            command: "echo {name} > name-{i}.txt"
            zip: {i: {range: [0, 2]}, name: {file: names.txt}}
          - id: count-{i}
            command: "wc -l < {f} > count-{i}.txt && echo {f} >> count-{i}.txt"
            zip: {i: {range: [0, 2]}, f: {glob: "data/*.csv"}}
          - id: none-{f}
            command: "false"
            matrix: {f: {glob: "missing/*.csv"}}
        """)
    check = sandbox.run_without_mpirun("--check", "m.yaml")
    expect_in("ok, 12 tasks from 5 entries", check.stdout, "--check")
    run = sandbox.run("m.yaml")
    expect_equal(run.rc, 0, "exit status")
    ids = sorted(a["task"] for a in run.attempts)
    expect_equal(ids, sorted(["pad-007", "pad-012", "zip-1-x", "zip-1-y", "zip-1-z", "zip-2-x",
                              "zip-2-y", "zip-2-z", "name-0", "name-1", "count-0", "count-1"]),
                 "ids")
    expect_equal((sandbox.path / "pad-007.txt").read_text(), "007 0.12\n", "formatted values")
    expect_equal((sandbox.path / "zip-2-y.txt").read_text(), "y20\n", "zipped values")
    expect_equal((sandbox.path / "name-1.txt").read_text(), "grace hopper\n", "a value from a file")
    expect_equal((sandbox.path / "count-1.txt").read_text(), "2\ndata/b.csv\n", "a glob's value")


def test_a_manifest_of_no_tasks_runs_nothing_and_exits_0(sandbox):
    """Every entry's sweep is empty: nothing runs, exit 0, one line says so."""
    sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: t-{n}
            command: "false"
            matrix: {n: []}
          - id: u-{n}
            command: "false"
            matrix: {n: {range: [3, 3]}}
        """)
    run = sandbox.run("m.yaml")
    expect_equal(run.rc, 0, "exit status")
    expect_in("no tasks to run", run.stdout + run.stderr, "what the run says")


def test_after_waits_for_an_end_whatever_it_was_and_depends_on_for_a_success(sandbox):
    """prep-1 fails. clean-{n} (after: prep-{n}) runs for both n; use-1 (depends_on: prep-1) is
    skipped; report, after every task of prep as a whole ({entry: ...}) although it also has an
    {n}, runs once all of prep has ended; audit, which depends_on all of prep, is skipped."""
    sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: prep-{n}
            command: "sleep 0.2; test {n} = 0"
            matrix: {n: [0, 1]}
          - id: clean-{n}
            command: "true"
            after: ["prep-{n}"]
            matrix: {n: [0, 1]}
          - id: use-{n}
            command: "true"
            depends_on: ["prep-{n}"]
            matrix: {n: [0, 1]}
          - id: report-{n}
            command: "true"
            after: [{entry: "prep-{n}"}]
            matrix: {n: [0]}
          - id: audit
            command: "true"
            depends_on: [{entry: prep}]
        """)
    run = sandbox.run("m.yaml")
    expect_equal(run.rc, 1, "exit status")
    outcome = {a["task"]: a["outcome"] for a in run.attempts}
    expect_equal(outcome, {"prep-0": "succeeded", "prep-1": "failed", "clean-0": "succeeded",
                           "clean-1": "succeeded", "use-0": "succeeded", "use-1": "skipped",
                           "report-0": "succeeded", "audit": "skipped"}, "outcomes")
    prep_end = max(a["end"] for a in run.attempts if a["task"].startswith("prep-"))
    expect(run.only_attempt("report-0")["start"] >= prep_end, "report started after prep ended")


def test_max_failures_stops_starting_tasks_and_drains_the_running_ones(sandbox):
    """20 failing tasks, one slot per worker, max_failures 10% (2): the run stops starting tasks
    once two have failed, lets the running ones end, and exits 1 saying why; --max-failures on
    the command line overrides the manifest's. Past the limit, at most what each worker was
    running or had queued (one more, once its tasks are known to be short) may still run."""
    in_flight = 2 * len(sandbox.worker_ranks())
    sandbox.write("m.yaml", """\
        version: 1
        max_failures: 10%
        tasks:
          - id: t-{n}
            command: "sleep 0.1; exit 1"
            matrix: {n: {range: [0, 20]}}
        """)
    run = sandbox.run("m.yaml", "--slots", "1")
    expect_equal(run.rc, 1, "exit status")
    ran = len(run.attempts)
    expect(2 <= ran <= 2 + in_flight, f"tasks that ran once two had failed: {ran}")
    expect_in("max_failures 10% (2 tasks)", run.summary.get("stopped") or "", "the reason")
    expect_equal(run.summary["outcomes"]["not_run"], 20 - ran, "tasks not run")
    expect_in("max_failures", run.stdout, "the summary printed")
    again = sandbox.run("m.yaml", "--slots", "1", "--max-failures", "5")
    expect(5 <= len(again.attempts) <= 5 + in_flight,
           f"tasks that ran with --max-failures 5: {len(again.attempts)}")


if __name__ == "__main__":
    run_tests(globals())
