"""Processes that leave their task: a child that calls setsid, one in a subshell that exits, a
daemon's double fork, one beside a task that times out, and one whose worker is killed -9.
None may outlive its task. Each escaping process runs a copy of `sleep` under a name unique to
the test (a symlink in the sandbox), so that /proc shows whether any is left, without looking
at anything else on the machine.

Runs at np 1 and 2 (np 4 adds nothing: each worker rank does this alone).
"""

import os
import signal
import shutil
import time
import uuid

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (kill_process_groups, read_pids, skip, start_jobrunner, wait_for)


def marker_sleep(sandbox):
    """A path in the sandbox that runs sleep under a name no other process has."""
    name = f"escapee-{uuid.uuid4().hex[:12]}"
    os.symlink(shutil.which("sleep"), sandbox.path / name)
    return name


def processes_named(name):
    """Pids of the living processes whose command line holds `name`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        if name in command and stat[stat.rfind(")") + 2:].split()[0] != "Z":
            found.append(int(entry))
    return found


def expect_none_left(name, limit_s=5):
    """Waits up to limit_s for every process named `name` to be gone; kills and fails on any
    left."""
    deadline = time.monotonic() + limit_s
    while processes_named(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = processes_named(name)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    expect(not left, f"processes of the tasks outlived them: {left}")


def at_np_1_and_2(sandbox):
    if sandbox.np > 2:
        skip("each worker rank does this alone; runs at np 1 and 2")
        return False
    return True


def test_children_that_leave_the_group_are_killed_when_their_task_ends(sandbox):
    """Three tasks each leave a sleeper behind and exit 0: one through setsid, one from a
    subshell that exits (still in the task's group, but no longer its child), one through a
    double fork with setsid. Proves: each task succeeds, its results line says left_running
    (at least 1), the console warns that it left processes running, and no sleeper is left."""
    if not at_np_1_and_2(sandbox):
        return
    name = marker_sleep(sandbox)
    sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: setsid
            command: "setsid ./{name} 1000 & sleep 0.2"
          - id: subshell
            command: "( ./{name} 1000 & ); sleep 0.2"
          - id: double-fork
            command: "sh -c 'setsid sh -c \\"./{name} 1000 & exit 0\\" & exit 0'; sleep 0.2"
        """)
    run = sandbox.run("manifest.yaml", limit_s=60)
    try:
        expect_equal(run.rc, 0, "exit status")
        for task in ("setsid", "subshell", "double-fork"):
            attempt = run.only_attempt(task)
            expect_equal(attempt["outcome"], "succeeded", f"outcome of {task}")
            expect(attempt.get("left_running", 0) >= 1,
                   f"{task}: left_running missing from {attempt}")
        expect_in("left 1 process(es) running", run.stderr, "warning")
    finally:
        expect_none_left(name)


def test_a_child_that_left_the_group_dies_with_a_timed_out_task(sandbox):
    """A task starts a sleeper with setsid and then sleeps past its 1 s timeout. Proves: the
    attempt is timed_out and the sleeper is gone once the run has ended."""
    if not at_np_1_and_2(sandbox):
        return
    name = marker_sleep(sandbox)
    sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: slow
            command: "setsid ./{name} 1000 & sleep 1000"
            timeout: 1s
        """)
    run = sandbox.run("manifest.yaml", "--kill-grace", "200ms", limit_s=60)
    try:
        expect_equal(run.rc, 1, "exit status")
        expect_equal(run.only_attempt("slow")["outcome"], "timed_out", "outcome")
    finally:
        expect_none_left(name)


def test_a_child_that_left_the_group_dies_when_its_worker_is_killed(sandbox):
    """A task starts a sleeper with setsid, writes its parent's pid (its worker rank) and
    sleeps. The worker rank gets SIGKILL: it cannot kill anything itself, so its orphan guard
    must find the sleeper by its tag. Proves: no sleeper is left within 5 s of the kill."""
    if not at_np_1_and_2(sandbox):
        return
    name = marker_sleep(sandbox)
    manifest = sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: held
            command: "setsid ./{name} 1000 & echo $$ >> pids; echo $PPID > ppid; sleep 1000"
        """)
    with start_jobrunner(sandbox, "--out", sandbox.path / "run", manifest) as bg:
        try:
            wait_for(lambda: processes_named(name) and read_pids(sandbox.path / "ppid"), 60,
                     "the task started its sleeper")
            worker = read_pids(sandbox.path / "ppid")[0]
            expect(worker in bg.descendants(), f"pid {worker} is not a rank of this run")
            os.kill(worker, signal.SIGKILL)
            expect_none_left(name)
            bg.wait(limit_s=60, check=False)
        finally:
            kill_process_groups(read_pids(sandbox.path / "pids"))


if __name__ == "__main__":
    run_tests(globals())
