"""The live progress: a bar on a terminal, a log line without one, both with the same counts."""

import os
import pty
import re
import select
import subprocess
import time

from harness import Hung, execute, expect, expect_in, jobrunner_binary, run_tests
from reliability import mpirun_prefix, resume

# A failing task, one skipped for it, and a few that succeed slowly enough to be seen running.
MANIFEST = """\
    version: 1
    tasks:
      - id: slow-{i}
        command: ["sleep", "0.4"]
        matrix: {i: [1, 2, 3, 4]}
      - id: broken
        command: ["false"]
      - id: after-broken
        command: ["true"]
        depends_on: [broken]
    """

# The terminal's bar: "[####......] 41% 410/1000 3 failed 2 skipped 4 running 12.5/s ETA 47s
# elapsed 33s"; the rate and ETA may still be "?".
BAR = re.compile(r"\[[#.]{10}\] (\d+)% (\d+)/6 (\d+) failed( \d+ skipped)? (\d+) running "
                 r"(\?|[\d.]+)/s ETA \S+ elapsed \S+")
# The log line: "410/1000 (41%): 3 failed, 2 skipped, 4 running, 12.5 tasks/s, ETA 47s, elapsed
# 33s".
LOG_LINE = re.compile(r"jobrunner: (\d+)/(\d+) \((\d+)%\)( \((\d+) done earlier\))?: (\d+) failed"
                      r"(, (\d+) skipped)?, (\d+) running, (\?|[\d.]+) tasks/s, ETA \S+, "
                      r"elapsed \S+")


def run_on_a_terminal(sandbox, command, limit_s=60):
    """Runs `command` with its stderr on a pseudo-terminal, as a user at a terminal would, and
    returns (exit status, everything written to the terminal)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, cwd=sandbox.path, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=terminal, start_new_session=True)
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + limit_s
    while True:
        if time.monotonic() > deadline:
            os.killpg(process.pid, 9)
            process.wait()
            raise Hung(f"hung on a terminal: {command}")
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # every writer has closed the terminal
                chunk = b""
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    process.stdout.read()
    return process.wait(), screen.decode(errors="replace")


def test_on_a_terminal_a_bar_shows_done_failed_skipped_running_rate_eta_and_elapsed(sandbox):
    """mpirun's stderr on a terminal: jobrunner (--progress auto) redraws one line in place, a
    bar with the percentage and the counts, and never counts more tasks running than slots."""
    sandbox.write("manifest.yaml", MANIFEST)
    command = mpirun_prefix(sandbox.np) + [jobrunner_binary(), "--out", "run", "manifest.yaml"]
    rc, screen = run_on_a_terminal(sandbox, command)
    expect(rc == 1, f"exit status {rc} (a task failed): {screen[-2000:]}")
    bars = BAR.findall(screen)
    expect(bars, f"no bar on the terminal: {screen[-2000:]!r}")
    expect_in("\r\x1b[K[", screen, "the bar is redrawn in place")
    for percent, done, failed, skipped, running, _ in bars:
        expect(int(percent) == int(done) * 100 // 6, f"percentage of {done}/6: {percent}")
        expect(int(failed) <= 1, f"only broken fails: {failed}")
        expect(int(running) <= 6 - int(done), f"{running} running with {done}/6 done")
    expect(any(int(running) > 0 for *_, running, _ in bars), f"something was seen running: {bars}")
    expect(not LOG_LINE.search(screen), "no log lines on a terminal")


def test_without_a_terminal_the_log_line_says_the_same_and_a_resumed_run_counts_earlier_runs(
        sandbox):
    """With stderr in a pipe (--progress auto), the periodic log line gives the same counts,
    skipped apart from failed; after --resume --retry-failed it counts what the first run did."""
    sandbox.write("manifest.yaml", MANIFEST)
    command = mpirun_prefix(sandbox.np) + [jobrunner_binary(), "--out", "run", "manifest.yaml"]
    rc, _, stderr, _ = execute(command, sandbox.path, 60)
    expect(rc == 1, f"exit status {rc}: {stderr[-2000:]}")
    expect("\x1b[K" not in stderr, "no terminal codes in a pipe")
    lines = LOG_LINE.findall(stderr)
    expect(lines, f"no progress log line: {stderr[-2000:]}")
    done, total, percent, _, _, failed, _, skipped, running, _ = lines[-1]
    expect((done, total, percent, failed, skipped, running) == ("6", "6", "100", "1", "1", "0"),
           f"the last line: {lines[-1]}")

    again = resume(sandbox, sandbox.path / "run", "manifest.yaml", "--retry-failed")
    lines = LOG_LINE.findall(again.stderr)
    expect(lines, f"no progress log line in the resumed run: {again.stderr[-2000:]}")
    done, total, _, _, earlier, failed, _, skipped, _, _ = lines[-1]
    # The four slow tasks succeeded in the first run; broken and after-broken run again.
    expect((done, total, earlier, failed, skipped) == ("6", "6", "4", "1", "1"),
           f"the resumed run's last line: {lines[-1]}")


if __name__ == "__main__":
    run_tests(globals())
