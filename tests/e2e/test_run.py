"""A successful run: every task runs exactly once, on the ranks that are meant to run tasks."""

import socket
from datetime import datetime

from harness import expect, expect_equal, run_tests

FIFTY_ECHOES = """\
    version: 1
    tasks:
      - id: task-{n}
        command: ["echo", "{task_id}"]
        matrix:
          n: {range: [0, 50]}
    """


def timestamp(text):
    """A results.jsonl time, ISO 8601 UTC with milliseconds: 2026-11-23T17:39:35.123Z."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_every_task_of_a_matrix_runs_exactly_once_and_succeeds(sandbox):
    """50 tasks each print their id: one successful attempt each, its output in its own log."""
    sandbox.write("manifest.yaml", FIFTY_ECHOES)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    ids = [f"task-{n}" for n in range(50)]
    expect_equal(sorted(a["task"] for a in run.attempts), sorted(ids), "tasks in results.jsonl")
    for n, task in enumerate(ids):
        attempt = run.only_attempt(task)
        expect_equal(attempt["index"], n, f"index of {task}")
        expect_equal(attempt["attempt"], 1, f"attempt number of {task}")
        expect_equal(attempt["outcome"], "succeeded", f"outcome of {task}")
        expect_equal(attempt["exit_code"], 0, f"exit code of {task}")
        expect_equal(attempt["signal"], None, f"signal of {task}")
        expect_equal(attempt["retry"], False, f"retry of {task}")
        expect_equal(attempt["stdout"], f"logs/{task}.1.out", f"stdout file of {task}")
        expect_equal(attempt["stderr"], None, f"stderr file of {task}")
        expect_equal(run.output(attempt, "stdout"), f"{task}\n".encode(), f"output of {task}")
        elapsed_ms = (timestamp(attempt["end"]) - timestamp(attempt["start"])).total_seconds() * 1e3
        expect_equal(round(attempt["duration_s"] * 1e3), round(elapsed_ms),
                     f"duration_s of {task}, in ms, against its start and end")
    summary = run.summary
    expect_equal(summary["tasks"], 50, "summary tasks")
    expect_equal(summary["attempts"], 50, "summary attempts")
    expect_equal(summary["retried"], 0, "summary retried")
    expect_equal(summary["exit_status"], 0, "summary exit_status")
    expect_equal(summary["outcomes"]["succeeded"], 50, "summary succeeded")
    others = {name: n for name, n in summary["outcomes"].items() if name != "succeeded" and n}
    expect_equal(others, {}, "summary outcomes other than succeeded")


def test_every_rank_exits_0_and_the_summary_is_printed_once(sandbox):
    """After a successful run every rank exits 0 by itself, and only rank 0 prints the summary."""
    sandbox.write("manifest.yaml", FIFTY_ECHOES)
    run = sandbox.run("manifest.yaml", every_rank_status=True)
    expect_equal(run.rank_statuses, {rank: 0 for rank in range(sandbox.np)}, "rank statuses")
    expect_equal(run.stdout.count("jobrunner: 50 tasks in"), 1, "summary lines on stdout")


def test_results_name_the_worker_rank_and_host_of_each_attempt(sandbox):
    """Rank 0 runs the tasks when it is alone; otherwise only ranks 1..N-1 do. Host is ours."""
    sandbox.write("manifest.yaml", FIFTY_ECHOES)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    workers = {a["worker"] for a in run.attempts}
    expect(workers <= sandbox.worker_ranks(),
           f"tasks ran on ranks {sorted(workers)}; expected only {sorted(sandbox.worker_ranks())}")
    expect_equal({a["host"] for a in run.attempts}, {socket.gethostname()}, "hosts")


def test_tasks_are_spread_over_every_worker_rank(sandbox):
    """50 tasks of 50 ms each: every worker rank runs some of them, none is left idle."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: nap-{n}
            command: ["sleep", "0.05"]
            matrix:
              n: {range: [0, 50]}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    expect_equal(len(run.attempts), 50, "attempts")
    expect_equal({a["worker"] for a in run.attempts}, sandbox.worker_ranks(),
                 "worker ranks that ran tasks")


if __name__ == "__main__":
    run_tests(globals())
