"""Tasks that fail: retries, exit codes, signals, timeouts and tasks that cannot start."""

import os
import re

from harness import Skipped, expect, expect_equal, expect_in, run_tests
from reliability import resume


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


def test_each_failure_says_on_screen_how_it_ended_its_last_stderr_lines_and_its_log(sandbox):
    """The live warnings and the summary name the exit status (127 as command not found), the
    signal by name, a spawn error's reason, the last lines of stderr (also of a task that wrote
    far past --max-output) and the log path, so that no file need be opened to learn why."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: exits-3
            command: "echo first >&2; echo 'cannot open input.csv' >&2; exit 3"
          - id: typo
            command: "jobrunner-e2e-no-such-command --flag"
          - id: killed
            command: "echo 'about to die' >&2; kill -KILL $$"
          - id: not-on-path
            command: ["jobrunner-e2e-no-such-program"]
          - id: chatty
            command: "seq 1 100000 >&2; echo 'the real reason' >&2; exit 1"
          - id: fine
            command: ["true"]
        """)
    run = sandbox.run("manifest.yaml", "--max-output", "1K")
    expect_equal(run.rc, 1, "exit status")
    logs = run.run_dir / "logs"
    expect_in("task exits-3 attempt 1 on rank", run.stderr, "the warning names the task")
    expect_in("failed with exit status 3\n    | first\n    | cannot open input.csv\n"
              f"    log: {logs / 'exits-3.1.err'}\n", run.stderr, "the warning of exits-3")
    expect_in("failed with exit status 127: command not found\n", run.stderr,
              "a shell's 127 is named")
    expect(re.search(r"jobrunner-e2e-no-such-command: (command )?not found\n", run.stderr),
           "the shell's own words (bash's or sh's)")
    expect_in("was killed by SIGKILL\n    | about to die\n", run.stderr, "a signal by name")
    expect_in("could not start: command not found: jobrunner-e2e-no-such-program", run.stderr,
              "a spawn error's reason")
    expect_in("    | 100000\n    | the real reason\n", run.stderr,
              "the end of stderr past --max-output")
    expect_equal(run.only_attempt("killed")["signal_name"], "SIGKILL", "signal_name of killed")

    summary = run.stdout
    expect_in("not succeeded (5):\n", summary, "the summary counts the tasks not succeeded")
    expect_in("    exits-3: failed with exit status 3\n      | cannot open input.csv\n"
              f"      log: {logs / 'exits-3.1.err'}\n", summary, "the summary of exits-3")
    expect_in("    typo: failed with exit status 127: command not found\n", summary,
              "the summary of typo")
    expect_in("    killed: was killed by SIGKILL\n      | about to die\n", summary,
              "the summary of killed")
    expect_in("    not-on-path: could not start: command not found: "
              "jobrunner-e2e-no-such-program\n", summary, "the summary of not-on-path")
    expect("fine" not in summary.split("not succeeded")[1].split("slowest")[0],
           "a task that succeeded is not listed among the failures")


def test_a_resumed_run_lists_the_failures_of_earlier_runs_with_their_reason(sandbox):
    """A task that failed for good in the first run is not run again on --resume, and the
    resumed run's summary says so, with how it ended and its last stderr line."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: broken
            command: "echo 'disk quota exceeded' >&2; exit 2"
          - id: fine
            command: ["true"]
        """)
    first = sandbox.run("manifest.yaml")
    expect_equal(first.rc, 1, "exit status of the first run")
    again = resume(sandbox, first.run_dir, "manifest.yaml")
    expect_equal(again.rc, 1, "exit status of the resumed run")
    expect_in("failed in earlier runs, not run again (1; --retry-failed runs them):\n"
              "    broken: failed with exit status 2\n      | disk quota exceeded\n",
              again.stdout, "the resumed run's summary")


def test_each_attempt_records_its_pid_cpu_time_and_peak_memory(sandbox):
    """results.jsonl gives each command's pid, user and system CPU seconds and peak resident
    set (from wait4): a task that touches 200M of memory and spins shows both."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: busy
            command: ["python3", "-c", "b = b'x' * (200 << 20)\\nwhile sum(range(10**6)) == 0: pass"]
          - id: quick
            command: ["true"]
          - id: in-process
            kind: sleep
            args: {duration: 10ms}
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    busy = run.only_attempt("busy")
    expect(isinstance(busy["pid"], int) and busy["pid"] > 0, f"pid of busy: {busy}")
    expect(busy["cpu_user_s"] + busy["cpu_system_s"] > 0, f"CPU time of busy: {busy}")
    expect(busy["max_rss_kb"] is not None and busy["max_rss_kb"] >= 200 * 1024,
           f"peak memory of busy: {busy}")
    quick = run.only_attempt("quick")
    for key in ("pid", "cpu_user_s", "cpu_system_s", "max_rss_kb"):
        expect(key in quick, f"{key} missing from {quick}")
    expect("signal_name" not in quick, "no signal, no signal_name")
    kind = run.only_attempt("in-process")
    expect(kind["pid"] is None, f"an in-process kind has no pid: {kind}")
    expect(isinstance(kind["cpu_user_s"], (int, float)) and
           isinstance(kind["cpu_system_s"], (int, float)),
           f"an in-process kind's CPU time is its thread's: {kind}")


def test_a_task_past_its_memory_limit_is_killed_and_reported_oom(sandbox):
    """memory: 64M is a cgroup limit where the worker can make one: a task that allocates 400M
    is OOM-killed and ends `oom`, and the screen says which limit it went past."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: hog
            command: ["python3", "-c", "import sys; print('allocating', file=sys.stderr, flush=True); b = b'x' * (400 << 20)"]
            memory: 64M
        """)
    run = sandbox.run("manifest.yaml", "--verbose")
    if "memory limits not enforced" in run.stderr:
        why = run.stderr.split("memory limits not enforced: ")[1].split("\n")[0]
        raise Skipped(f"this machine cannot enforce memory limits: {why}")
    expect_equal(run.rc, 1, "exit status")
    hog = run.only_attempt("hog")
    expect_equal(hog["outcome"], "oom", "outcome of hog")
    expect_equal(hog["signal_name"], "SIGKILL", "signal of hog")
    expect_equal(hog["memory_limit_bytes"], 64 << 20, "the limit recorded")
    expect(hog["oom_kills"] >= 1, f"the cgroup's OOM kill count: {hog}")
    expect_equal(run.summary["outcomes"]["oom"], 1, "summary oom")
    expect_in("was killed by the OOM killer: it went past its memory limit of 64M\n"
              "    | allocating\n", run.stderr, "the warning")


if __name__ == "__main__":
    run_tests(globals())
