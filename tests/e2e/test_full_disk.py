"""A disk too full for a task's output is the run's problem, not the task's: the attempt is
reported interrupted with the path and reason, the run stops (exit 4) with a message naming
them, and --resume, once there is room, runs the attempt again and finishes.

The full disk is a 64 KiB tmpfs mounted where the output goes: over the run directory's logs/
for a command (before the run starts, in a directory that holds no run yet, so that the journal
stays on the roomy disk: a run holds logs/ open from its start and would not see a later mount),
and as a kind's output directory. Mounting needs root: the tests say they are skipped otherwise. (The
journal's and results.jsonl's own full disk is test_hostile_input's.)
"""

import os
import subprocess

from harness import IS_ROOT, expect, expect_equal, expect_in, run_tests
from reliability import (expect_each_succeeded_exactly_once, read_all_results, resume, skip,
                         start_jobrunner)


def mount_small_tmpfs(path):
    """Mounts a 64 KiB tmpfs at path; returns why it could not, or None."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                             capture_output=True, text=True)
    return None if mounted.returncode == 0 else mounted.stderr.strip() or "mount failed"


def unmount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def can_mount(sandbox):
    if not IS_ROOT:
        skip("mounting a tmpfs needs root")
        return False
    if sandbox.np > 2:
        skip("one worker's full disk shows it; runs at np 1 and 2")
        return False
    return True


def test_a_task_whose_output_fills_the_disk_stops_the_run_and_resume_finishes(sandbox):
    """Task `big` waits for the test to mount the tmpfs over logs/, then writes 1 MB to stdout;
    four quick tasks beside it. Proves: exit 4; big's attempt is interrupted, disk_full, with
    "No space left on device" and its log's path in its error (not spawn_error, not failed);
    the console names the full disk and the path; after the tmpfs is gone, --resume exits 0
    and every task succeeded exactly once."""
    if not can_mount(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: big
            command: "while test ! -e go; do sleep 0.05; done; test -e resumed ||
              head -c 1000000 /dev/zero"
          - id: quick-{n}
            command: "true"
            matrix:
              n: {range: [0, 4]}
        """)
    run_dir = sandbox.path / "run"
    logs = run_dir / "logs"
    try:
        why = mount_small_tmpfs(logs)
        if why is not None:
            skip(f"cannot mount a tmpfs: {why}")
            return
        with start_jobrunner(sandbox, "--out", run_dir, manifest) as bg:
            (sandbox.path / "go").write_text("")
            rc = bg.wait(limit_s=90)
            run = bg.as_run(run_dir)
        expect_equal(rc, 4, "exit status with a full disk")
        attempt = run.only_attempt("big")
        expect_equal(attempt["outcome"], "interrupted", "outcome of the attempt")
        expect_equal(attempt.get("disk_full"), True, "disk_full")
        expect_in("No space left on device", attempt.get("error", ""), "error")
        expect_in(str(logs), attempt.get("error", ""), "error names the path")
        expect_in("disk full", run.stderr, "message")
        expect_in(str(logs), run.stderr, "message names the path")
    finally:
        unmount(logs)
    (sandbox.path / "resumed").write_text("")
    final = resume(sandbox, run_dir, manifest, limit_s=60)
    expect_equal(final.rc, 0, "exit status of the resume")
    attempts, _ = read_all_results(run_dir)
    expect_each_succeeded_exactly_once(attempts, 5)


def test_a_kind_whose_output_fills_the_disk_stops_the_run_and_resume_finishes(sandbox):
    """compress-file of 1 MB of random bytes (in process, and isolated) into a 64 KiB tmpfs.
    Proves: exit 4, each attempt interrupted with disk_full and "No space left on device"
    (not "failed with exit status 0"); after the tmpfs is gone, --resume exits 0 and both
    succeeded exactly once."""
    if not can_mount(sandbox):
        return
    (sandbox.path / "input.bin").write_bytes(os.urandom(1_000_000))
    out = sandbox.path / "out"
    manifest = sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: in-process
            kind: compress-file
            args: {{input: input.bin, output: {out}/a.gz, format: gzip, level: 1}}
          - id: isolated
            kind: compress-file
            isolate: true
            args: {{input: input.bin, output: {out}/b.gz, format: gzip, level: 1}}
        """)
    why = mount_small_tmpfs(out)
    if why is not None:
        skip(f"cannot mount a tmpfs: {why}")
        return
    run_dir = sandbox.path / "run"
    try:
        run = sandbox.run(manifest, out=run_dir, limit_s=90)
        expect_equal(run.rc, 4, "exit status with a full disk")
        for task in ("in-process", "isolated"):
            lines = run.attempts_of(task)
            expect(lines, f"no line for {task}")
            for attempt in lines:
                expect_equal(attempt["outcome"], "interrupted", f"outcome of {task}")
                expect_equal(attempt.get("disk_full"), True, f"disk_full of {task}")
                expect_in("No space left on device", attempt.get("error", ""), f"error of {task}")
        expect_in("disk full", run.stderr, "message")
    finally:
        unmount(out)
    final = resume(sandbox, run_dir, manifest, limit_s=60)
    expect_equal(final.rc, 0, "exit status of the resume")
    attempts, _ = read_all_results(run_dir)
    expect_each_succeeded_exactly_once(attempts, 2)


if __name__ == "__main__":
    run_tests(globals())
