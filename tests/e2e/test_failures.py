"""Tasks that fail: retries, exit codes, signals, timeouts and tasks that cannot start."""

import os

from harness import expect, expect_equal, expect_in, run_tests


def test_a_task_failing_twice_then_succeeding_with_two_retries_succeeds(sandbox):
    """Attempts 1 and 2 fail and are retried, attempt 3 succeeds, and the run exits 0."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: flaky
            command: "[ {attempt} -ge 3 ] || exit 1"
            retries: 2
        """)
    run = sandbox.run("manifest.yaml", "--retry-backoff", "10ms")
    expect_equal(run.rc, 0, "exit status")
    attempts = run.attempts_of("flaky")
    expect_equal([a["attempt"] for a in attempts], [1, 2, 3], "attempt numbers")
    expect_equal([a["outcome"] for a in attempts], ["failed", "failed", "succeeded"], "outcomes")
    expect_equal([a["exit_code"] for a in attempts], [1, 1, 0], "exit codes")
    expect_equal([a["retry"] for a in attempts], [True, True, False], "retry flags")
    expect_equal(run.summary["outcomes"]["succeeded"], 1, "summary succeeded")
    expect_equal(run.summary["outcomes"]["failed"], 0, "summary failed")
    expect_equal(run.summary["attempts"], 3, "summary attempts")
    expect_equal(run.summary["retried"], 2, "summary retried")


def test_a_task_that_keeps_failing_is_reported_failed_and_the_run_exits_1(sandbox):
    """One task exits 3 on both its attempts; the other nine succeed; every rank exits 1."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: ok-{n}
            command: ["true"]
            matrix:
              n: {range: [0, 9]}
          - id: broken
            command: "echo about to fail >&2; exit 3"
            retries: 1
        """)
    run = sandbox.run("manifest.yaml", "--retry-backoff", "10ms", every_rank_status=True)
    expect_equal(run.rc, 1, "exit status")
    expect_equal(run.rank_statuses, {rank: 1 for rank in range(sandbox.np)}, "rank statuses")
    attempts = run.attempts_of("broken")
    expect_equal([a["outcome"] for a in attempts], ["failed", "failed"], "outcomes of broken")
    expect_equal([a["exit_code"] for a in attempts], [3, 3], "exit codes of broken")
    expect_equal([a["retry"] for a in attempts], [True, False], "retry flags of broken")
    expect_equal(run.output(attempts[-1], "stderr"), b"about to fail\n", "stderr of broken")
    for n in range(9):
        expect_equal(run.only_attempt(f"ok-{n}")["outcome"], "succeeded", f"outcome of ok-{n}")
    outcomes = run.summary["outcomes"]
    expect_equal((outcomes["succeeded"], outcomes["failed"]), (9, 1), "summary succeeded, failed")
    expect_equal(run.summary["exit_status"], 1, "summary exit_status")
    expect_in("broken", run.stdout, "the summary on stdout names the failed task")


def test_a_task_killed_by_a_signal_is_reported_signaled_with_its_number(sandbox):
    """A shell that sends itself SIGSEGV or SIGKILL ends "signaled" with signal 11 or 9."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: segv
            command: "ulimit -c 0; kill -SEGV $$"
          - id: killed
            command: "kill -KILL $$"
          - id: fine
            command: ["true"]
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    for task, signal_number in (("segv", 11), ("killed", 9)):
        attempt = run.only_attempt(task)
        expect_equal(attempt["outcome"], "signaled", f"outcome of {task}")
        expect_equal(attempt["signal"], signal_number, f"signal of {task}")
        expect_equal(attempt["exit_code"], None, f"exit code of {task}")
    expect_equal(run.only_attempt("fine")["outcome"], "succeeded", "outcome of fine")
    expect_equal(run.summary["outcomes"]["signaled"], 2, "summary signaled")


def test_a_task_over_its_timeout_is_timed_out_and_the_run_ends_without_waiting(sandbox):
    """`sleep 30` with timeout 300ms ends by SIGTERM; one ignoring SIGTERM is killed after the
    grace period. The 20 s limit fails the test if the run waited for either sleep."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: sleeper
            command: "sleep 30"
            timeout: 300ms
          - id: stubborn
            command: "trap '' TERM; sleep 30"
            timeout: 300ms
        """)
    run = sandbox.run("manifest.yaml", "--kill-grace", "500ms", limit_s=20)
    expect_equal(run.rc, 1, "exit status")
    for task, signal_number in (("sleeper", 15), ("stubborn", 9)):
        attempt = run.only_attempt(task)
        expect_equal(attempt["outcome"], "timed_out", f"outcome of {task}")
        expect_equal(attempt["signal"], signal_number, f"signal that ended {task}")
        expect_equal(attempt["exit_code"], None, f"exit code of {task}")
    expect_equal(run.summary["outcomes"]["timed_out"], 2, "summary timed_out")


def test_tasks_that_cannot_start_are_spawn_errors_naming_the_path(sandbox):
    """A missing program, a file without execute permission and a missing cwd are spawn
    errors whose message names the path; the other task still runs and the run exits 1."""
    not_executable = sandbox.write("not-executable.sh", "#!/bin/sh\ntrue\n")
    os.chmod(not_executable, 0o644)
    missing_program = sandbox.path / "no-such-program"
    missing_dir = sandbox.path / "no-such-dir"
    sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: missing-program
            command: ["{missing_program}"]
          - id: not-on-path
            command: ["jobrunner-e2e-no-such-program", "arg"]
          - id: not-executable
            command: ["{not_executable}"]
          - id: missing-cwd
            command: ["true"]
            cwd: no-such-dir
          - id: runs-anyway
            command: "echo still here"
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    for task, path in (("missing-program", missing_program),
                       ("not-on-path", "jobrunner-e2e-no-such-program"),
                       ("not-executable", not_executable),
                       ("missing-cwd", missing_dir)):
        attempt = run.only_attempt(task)
        expect_equal(attempt["outcome"], "spawn_error", f"outcome of {task}")
        expect_equal(attempt["exit_code"], None, f"exit code of {task}")
        expect("error" in attempt, f"{task} has no error message: {attempt}")
        expect_in(str(path), attempt["error"], f"error of {task}")
    still_here = run.only_attempt("runs-anyway")
    expect_equal(still_here["outcome"], "succeeded", "outcome of runs-anyway")
    expect_equal(run.output(still_here, "stdout"), b"still here\n", "output of runs-anyway")
    expect_equal(run.summary["outcomes"]["spawn_error"], 4, "summary spawn_error")


if __name__ == "__main__":
    run_tests(globals())
