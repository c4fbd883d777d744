"""Task dependencies (`depends_on`) and priorities (`priority`) on real runs: the order tasks ran
in, read from the start and end times in results.jsonl; a failure skipping what depends on it
while the rest runs; --resume after a kill respecting the graph; a cycle refused before anything
runs; and priority order with a single slot.
"""

from datetime import datetime

from harness import expect, expect_equal, expect_in, run_tests
from reliability import read_all_results, resume, run_jobrunner, start_jobrunner, wait_for


def when(stamp):
    """A results.jsonl time ("2026-11-23T17:39:35.109Z") as a datetime."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def final_lines(attempts):
    """The last line of each task, by task id."""
    last = {}
    for a in attempts:
        last[a["task"]] = a
    return last


def expect_after(attempts, task, dependency):
    """Every attempt of `task` started at or after the end of the successful attempt of
    `dependency` (times have millisecond resolution, so equal counts as after)."""
    done = [a for a in attempts if a["task"] == dependency and a["outcome"] == "succeeded"]
    expect_equal(len(done), 1, f"successful attempts of {dependency}")
    for a in attempts:
        if a["task"] == task and a["start"] is not None:
            expect(when(a["start"]) >= when(done[0]["end"]),
                   f"{task} started at {a['start']}, before {dependency} ended at "
                   f"{done[0]['end']}")


DIAMOND = """\
    version: 1
    tasks:
      - id: bottom
        command: "test -e left.done && test -e right.done && touch bottom.done"
        depends_on: [left, right]
      - id: left
        command: "test -e top.done && sleep 0.3 && touch left.done"
        depends_on: [top]
      - id: right
        command: "test -e top.done && touch right.done"
        depends_on: [top]
      - id: top
        command: "sleep 0.3 && touch top.done"
      - id: free-{n}
        command: "sleep 0.1"
        matrix: {n: {range: [0, 4]}}
    """


def test_a_diamond_runs_each_task_after_its_dependencies_ended(sandbox):
    """top <- left, right <- bottom, declared bottom first, beside four free tasks, with 2
    slots per worker. Proves: exit 0, every task succeeded once (each command also checks that
    its dependencies' files exist), and in results.jsonl each dependent started after each of
    its dependencies ended."""
    manifest = sandbox.write("diamond.yaml", DIAMOND)
    run = sandbox.run(manifest, "--slots", "2")
    expect_equal(run.rc, 0, "exit status")
    for task in ("top", "left", "right", "bottom"):
        expect_equal(run.only_attempt(task)["outcome"], "succeeded", f"outcome of {task}")
    for task, dependency in (("left", "top"), ("right", "top"), ("bottom", "left"),
                             ("bottom", "right")):
        expect_after(run.attempts, task, dependency)
    expect_equal(run.summary["outcomes"]["succeeded"], 8, "succeeded in the summary")


FAILING = """\
    version: 1
    tasks:
      - id: prep-{n}
        command: "test {n} != 2"
        matrix: {n: {range: [0, 4]}}
        retries: 1
      - id: build-{n}
        command: "echo built {n}"
        depends_on: ["prep-{n}"]
        matrix: {n: {range: [0, 4]}}
      - id: report
        command: "echo report"
        depends_on: ["build-{n}"]
      - id: unrelated
        command: "true"
    """


def test_a_failed_dependency_skips_its_dependents_and_the_rest_runs(sandbox):
    """prep-2 fails on both of its attempts; build-N depends on prep-N; report on every build
    task. Proves: exit 1; build-2 and report are skipped, never run, with results lines saying
    outcome "skipped" and the reason (report's naming build-2 and prep-2); every other task
    succeeded; the summary counts 2 skipped; the journal-derived resume state agrees (a resume
    re-evaluates them and skips them again, exit 1, without running prep-2 again)."""
    manifest = sandbox.write("failing.yaml", FAILING)
    run = sandbox.run(manifest, "--retry-backoff", "10ms")
    expect_equal(run.rc, 1, "exit status")
    last = final_lines(run.attempts)
    expect_equal(len(run.attempts_of("prep-2")), 2, "attempts of prep-2")
    expect_equal(last["build-2"]["outcome"], "skipped", "outcome of build-2")
    expect_equal(last["build-2"]["reason"], "dependency prep-2 failed", "reason of build-2")
    expect_equal(last["report"]["outcome"], "skipped", "outcome of report")
    expect_equal(last["report"]["reason"], "dependency build-2 was skipped: prep-2 failed",
                 "reason of report")
    for task in ("build-2", "report"):
        expect_equal(len(run.attempts_of(task)), 1, f"lines of {task}")
        expect_equal(last[task]["start"], None, f"start of skipped {task}")
    for task in ("prep-0", "prep-1", "prep-3", "build-0", "build-1", "build-3", "unrelated"):
        expect_equal(last[task]["outcome"], "succeeded", f"outcome of {task}")
    expect_equal(run.summary["outcomes"]["skipped"], 2, "skipped in the summary")
    expect_equal(run.summary["outcomes"]["failed"], 1, "failed in the summary")
    expect_in("task report skipped: dependency build-2", run.stderr, "warning on stderr")

    again = resume(sandbox, run.run_dir, manifest)
    expect_equal(again.rc, 1, "exit status of the resume")
    expect_equal(again.summary["outcomes"]["skipped"], 2, "skipped again by the resume")
    expect_equal(len([a for a in again.attempts if a["task"] == "prep-2"]), 2,
                 "attempts of prep-2 after the resume (not run again)")


CHAIN = """\
    version: 1
    tasks:
      - id: first
        command: "echo x >> first.runs"
      - id: slow
        command: "echo x >> slow.runs; touch slow.started; test -e quick || sleep 60; touch slow.done"
        depends_on: [first]
      - id: last-{n}
        command: "test -e slow.done"
        depends_on: [slow]
        matrix: {n: [a, b]}
      - id: fix
        command: "test -e fixed"
    """


def test_resume_after_a_kill_respects_the_graph(sandbox):
    """first <- slow <- last-a, last-b, beside `fix`, which fails until the file `fixed`
    exists. The run is killed (every process, SIGKILL) while `slow` sleeps; then `slow` is
    made quick (the file `quick`) and the run resumed. Proves: `first`, which succeeded before
    the kill, never runs again (its file has one line); `slow` runs again and last-a and last-b
    start only after its new attempt ended; the resume exits 1, as `fix` failed for good; a
    second resume with --retry-failed, once `fixed` exists, runs only `fix` and exits 0."""
    manifest = sandbox.write("chain.yaml", CHAIN)
    run_dir = sandbox.path / "chain-run"
    with start_jobrunner(sandbox, "--out", run_dir, manifest, name="chain") as bg:
        wait_for(lambda: (sandbox.path / "slow.started").exists(), 60, "slow task started")
        wait_for(lambda: (run_dir / "journal").stat().st_size > 200, 10, "journal written")
        bg.kill_everything()
    expect(not (sandbox.path / "slow.done").exists(), "slow finished before the kill")
    (sandbox.path / "quick").write_text("")
    resumed = resume(sandbox, run_dir, manifest)
    expect_equal(resumed.rc, 1, "exit status of the resume (fix failed)")
    expect_equal((sandbox.path / "first.runs").read_text(), "x\n", "runs of first")
    expect_equal((sandbox.path / "slow.runs").read_text(), "x\nx\n", "runs of slow")
    attempts, _ = read_all_results(run_dir)
    for task in ("last-a", "last-b"):
        expect_equal(final_lines(attempts)[task]["outcome"], "succeeded", f"outcome of {task}")
        expect_after(attempts, task, "slow")

    (sandbox.path / "fixed").write_text("")
    final = resume(sandbox, run_dir, manifest, "--retry-failed")
    expect_equal(final.rc, 0, "exit status of the resume with --retry-failed")
    expect_equal(final.summary["settled_earlier"], 4, "tasks settled by earlier runs")
    expect_equal(final.summary["outcomes"]["succeeded"], 1, "tasks run by the last resume")


def test_a_dependency_cycle_is_refused_naming_its_tasks(sandbox):
    """a -> b -> c -> a through depends_on. Proves: exit 2 on every rank before anything runs,
    with file:line:column and the tasks of the cycle in the message; --check says the same."""
    manifest = sandbox.write("cycle.yaml", """\
        version: 1
        tasks:
          - id: a
            command: "touch ran"
            depends_on: [b]
          - id: b
            command: "touch ran"
            depends_on: [c]
          - id: c
            command: "touch ran"
            depends_on: [a]
        """)
    message = "cycle.yaml:5:18: dependency cycle: a -> b -> c -> a (each depends on the next)"
    check = sandbox.run_without_mpirun("--check", str(manifest))
    expect_equal(check.rc, 2, "exit status of --check")
    expect_in(message, check.stderr, "--check's error")
    run = sandbox.run(manifest, every_rank_status=True)
    expect_equal(run.rc, 2, "exit status")
    expect_equal(set(run.rank_statuses.values()), {2}, "exit status of every rank")
    expect_in(message, run.stderr, "error")
    expect(not (sandbox.path / "ran").exists(), "a task ran")


def test_with_one_slot_higher_priority_runs_first_and_ties_keep_manifest_order(sandbox):
    """One worker with one slot; entries of priorities 0, 5, 5, 10, -1, where the last depends
    on the first. Proves: results.jsonl lists the tasks in the order priority 10, then the two
    5s in manifest order, then 0, then -1 (released by its dependency, still last)."""
    manifest = sandbox.write("priority.yaml", """\
        version: 1
        tasks:
          - id: normal
            command: "true"
          - id: high-{n}
            command: "true"
            matrix: {n: [1, 2]}
            priority: 5
          - id: also-high
            command: "true"
            priority: 5
          - id: urgent
            command: "true"
            priority: 10
          - id: late
            command: "true"
            priority: -1
            depends_on: [normal]
        """)
    # A single worker: with more, tasks would run side by side.
    run_dir = sandbox.path / "prio-run"
    run = run_jobrunner(sandbox, "--slots", "1", "--out", run_dir, manifest,
                        np=min(sandbox.np, 2), run_dir=run_dir)
    expect_equal(run.rc, 0, "exit status")
    order = [a["task"] for a in run.attempts]
    expect_equal(order, ["urgent", "high-1", "high-2", "also-high", "normal", "late"],
                 "order of results")


if __name__ == "__main__":
    run_tests(globals())
