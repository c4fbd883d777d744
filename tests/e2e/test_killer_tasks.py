"""Tasks that turn on their own worker: `kill -TERM $PPID` (and INT, HUP, USR1), `kill -9 $PPID`
and `kill -STOP $PPID`. A signal a task sends its worker is recognised by its sender and
ignored; a worker killed or stopped outright ends the run, and the tasks it had in flight are
recorded as lost with it, so that a task found to be its worker's only attempt at two such
deaths is failed ("killed or stopped its worker") and the run can finish. A task merely running
beside the culprit is never blamed.

Runs at np 1 and 2 (np 4 adds nothing to it); the SIGSTOP test at np 2 only: with one rank, a
task that stops its own process stops the run as Ctrl-Z would (see README, "Children").
"""

import signal

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (read_all_results, read_pids, resume, run_jobrunner, skip,
                         kill_process_groups)

# Resumes that a run with one culprit may need: the death beside others, then two alone.
MAX_RESUMES = 5


def at_np_1_and_2(sandbox):
    if sandbox.np > 2:
        skip("one worker is enough to show it; runs at np 1 and 2")
        return False
    return True


def run_until_settled(sandbox, manifest, *args, limit_s=120, started=None):
    """Runs the manifest (unless `started` is the first run already made), then resumes while
    the run stops early (exit 4 or a killed mpirun), at most MAX_RESUMES times. Returns (exit
    status of the last run, runs made, run directory)."""
    run_dir = sandbox.path / "run"
    run = started or run_jobrunner(sandbox, "--out", run_dir, *args, manifest, limit_s=limit_s,
                                   run_dir=run_dir)
    runs = 1
    while run.rc not in (0, 1) and runs <= MAX_RESUMES:
        run = resume(sandbox, run_dir, manifest, *args, limit_s=limit_s)
        runs += 1
    kill_process_groups(read_pids(sandbox.path / "pids"))
    return run.rc, runs, run_dir


def test_signals_a_task_sends_its_worker_are_ignored(sandbox):
    """Four tasks send their worker SIGTERM, SIGINT, SIGHUP and SIGUSR1, beside ten ordinary
    tasks. Proves: the run is not stopped or drained by them: it ends with exit 0, every task
    succeeded once, and the worker said on stderr that it ignored a signal from a task."""
    if not at_np_1_and_2(sandbox):
        return
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: kill-{sig}
            command: "kill -{sig} $PPID; sleep 0.3"
            matrix:
              sig: [TERM, INT, HUP, USR1]
          - id: plain-{n}
            command: "sleep 0.1"
            matrix:
              n: {range: [0, 10]}
        """)
    run = sandbox.run("manifest.yaml", limit_s=60)
    expect_equal(run.rc, 0, "exit status")
    expect_equal(len([a for a in run.attempts if a["outcome"] == "succeeded"]), 14,
                 "succeeded attempts")
    expect_in("ignored signal", run.stderr, "the worker's note")


def test_a_task_that_kills_its_worker_is_failed_and_the_run_completes(sandbox):
    """A task that SIGKILLs its worker 0.3 s after it starts, beside a task that runs 2 s and
    eight quick ones, with two slots per worker. Each run dies; --resume goes on. Proves: within
    a bounded number of resumes the run ends with exit 1; the culprit's last line is
    worker_lost with the reason; every other task, the long one beside it included, succeeded
    exactly once."""
    if not at_np_1_and_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: killer
            command: "echo $$ >> pids; sleep 0.3; kill -9 $PPID; sleep 5"
          - id: beside
            command: "echo $$ >> pids; sleep 2"
          - id: quick-{n}
            command: "sleep 0.05"
            matrix:
              n: {range: [0, 8]}
        """)
    rc, runs, run_dir = run_until_settled(sandbox, manifest, "--slots", "2")
    print(f"    settled after {runs} runs", flush=True)
    expect_equal(rc, 1, "exit status of the last run")
    attempts, _ = read_all_results(run_dir)
    final = [a for a in attempts if a["task"] == "killer" and a["outcome"] != "interrupted"]
    expect_equal(len(final), 1, f"final lines of the killer: {final}")
    expect_equal(final[0]["outcome"], "worker_lost", "the killer's outcome")
    expect_in("killed or stopped its worker", final[0].get("error", ""), "the reason")
    for task in ["beside"] + [f"quick-{n}" for n in range(8)]:
        lines = [a for a in attempts if a["task"] == task]
        succeeded = [a for a in lines if a["outcome"] == "succeeded"]
        expect_equal(len(succeeded), 1, f"successes of {task}: {lines}")
        expect(all(a["outcome"] in ("succeeded", "interrupted") for a in lines),
               f"{task} was blamed: {lines}")


def test_a_task_that_stops_its_worker_ends_the_run_and_is_failed_on_resume(sandbox):
    """A task that sends SIGSTOP to its worker, beside five quick tasks, with --worker-timeout
    3s. Proves: the run ends by itself (exit 4) naming the silent rank, every resume does the
    same until the task is failed, and the run then completes with exit 1."""
    if sandbox.np != 2:
        skip("with one rank the stopped process is the coordinator too; runs at np 2")
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: stopper
            command: "echo $$ >> pids; sleep 0.3; kill -STOP $PPID; sleep 5"
          - id: quick-{n}
            command: "sleep 0.05"
            matrix:
              n: {range: [0, 5]}
        """)
    run_dir = sandbox.path / "run"
    first = run_jobrunner(sandbox, "--out", run_dir, "--worker-timeout", "3s", manifest,
                          limit_s=90, run_dir=run_dir)
    expect(first.rc not in (0, 1), f"exit status {first.rc} of a run whose worker stopped")
    expect_in("sent nothing for 3s", first.stderr, "message")
    expect_in("worker rank 1 on", first.stderr, "the rank named")
    rc, runs, _ = run_until_settled(sandbox, manifest, "--worker-timeout", "3s", limit_s=90,
                                    started=first)
    print(f"    settled after {runs} runs", flush=True)
    expect_equal(rc, 1, "exit status of the last run")
    attempts, _ = read_all_results(run_dir)
    final = [a for a in attempts if a["task"] == "stopper" and a["outcome"] != "interrupted"]
    expect_equal([a["outcome"] for a in final], ["worker_lost"], "the stopper's outcome")
    for n in range(5):
        expect_equal(len([a for a in attempts if a["task"] == f"quick-{n}"
                          and a["outcome"] == "succeeded"]), 1, f"successes of quick-{n}")


if __name__ == "__main__":
    run_tests(globals())
