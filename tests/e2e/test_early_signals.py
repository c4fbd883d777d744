"""Drain and stop signals at any moment of a run's start: 0, 50, 200 and 500 ms after it was
started, before MPI_Init has returned, before every worker has said Hello, or while tasks run.
Whatever the moment, the run must end (no timing is asserted beyond the harness's limit) with
the documented status, and --resume must then finish every task exactly once.

The signal goes to the jobrunner process itself, started without mpirun (a signal that comes
while the dynamic loader is still at work, before any of jobrunner's code runs, ends it by the
signal's default action, which is accepted only when the run directory was not made yet). Under
mpirun the start-up window belongs to mpirun (see the skip below); the coordinator's side of an
early drain (Shutdown to every rank, greeted or not) is in the coordinator's unit tests.
"""

import signal
import time

from harness import expect, run_tests
from reliability import (expect_each_succeeded_exactly_once, read_all_results, resume, skip,
                         start_jobrunner)

DELAYS_S = (0, 0.05, 0.2, 0.5)
TASKS = 6


def manifest(sandbox):
    return sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: t-{{n}}
            command: "test -e resumed || sleep 0.5"
            matrix:
              n: {{range: [0, {TASKS}]}}
        """)


def signal_at_each_moment(sandbox, signum, expected):
    """Starts a run per delay, sends `signum` after it, and checks the run ended with one of
    `expected` statuses; then resumes each to completion."""
    if sandbox.np > 1:
        # Under mpirun the first moments are mpirun's (README, "Stopping and resuming"): a
        # SIGUSR1 before it has started the ranks is not forwarded, one as it starts them may
        # reach a rank still being loaded, and an interrupted mpirun now and then hangs in its
        # own teardown after every rank ended. None of that is jobrunner's to assert.
        skip("under mpirun the start-up window is mpirun's; runs at np 1")
        return
    path = manifest(sandbox)
    direct = sandbox.np == 1
    outcomes = []
    for number, delay in enumerate(DELAYS_S):
        run_dir = sandbox.path / f"run-{number}"
        with start_jobrunner(sandbox, "--out", run_dir, "--drain-grace", "2s", path,
                             direct=direct, name=f"bg-{number}") as bg:
            time.sleep(delay)
            bg.signal(signum)
            rc = bg.wait(limit_s=60)
            run = bg.as_run(run_dir)
        outcomes.append((delay, rc))
        if rc == -signum:
            # The signal came while the program (or mpirun) was still being loaded, before any
            # of its code ran: nothing can catch it then, and nothing had been made.
            expect(not run_dir.exists(), f"signal {signum} after {delay}s killed the run after "
                                         f"it had made {run_dir}")
            continue
        expect(rc in expected, f"signal {signum} after {delay}s: exit status {rc}, expected one "
                               f"of {expected}\n{run.stderr[-2000:]}")
    print(f"    (delay, exit status): {outcomes}", flush=True)
    (sandbox.path / "resumed").write_text("")
    for number, _ in enumerate(DELAYS_S):
        run_dir = sandbox.path / f"run-{number}"
        if not (run_dir / "journal").exists():
            continue  # stopped before the run directory was made: nothing to resume
        final = resume(sandbox, run_dir, path, limit_s=60)
        expect(final.rc == 0, f"resume of {run_dir}: exit status {final.rc}")
        attempts, _ = read_all_results(run_dir)
        expect_each_succeeded_exactly_once(attempts, TASKS)


def test_a_drain_signal_at_any_moment_drains_and_the_run_ends(sandbox):
    """SIGUSR1: the run drains (exit 4, or 0 when every task was done anyway), never dies of
    the signal (exit 138)."""
    signal_at_each_moment(sandbox, signal.SIGUSR1, (0, 4))


def test_an_interrupt_at_any_moment_drains_and_the_run_ends(sandbox):
    """SIGINT: as SIGUSR1 with one rank; mpirun answers it by ending the job, with a non-zero
    status, and the run resumes all the same."""
    expected = (0, 4) if sandbox.np == 1 else tuple(range(0, 256))
    signal_at_each_moment(sandbox, signal.SIGINT, expected)


def test_a_stop_signal_at_any_moment_stops_and_the_run_ends(sandbox):
    """SIGTERM: with one rank the run stops (exit 4) and never dies of the signal (143); under
    mpirun the job ends with mpirun's status. Either way the run resumes to completion."""
    expected = (0, 4) if sandbox.np == 1 else tuple(range(0, 256))
    signal_at_each_moment(sandbox, signal.SIGTERM, expected)


if __name__ == "__main__":
    run_tests(globals())
