"""--resume restores the `interrupted` lines a stopped run journaled but could not write.

When a run is stopped (SIGTERM, a lost host), the coordinator journals every attempt still in
flight as `interrupted` (with no start time: it does not know one), syncs the journal and only
then writes those lines and the summary to results.jsonl. If the process is killed between the
two (Open MPI SIGKILLs every rank about a second after SIGTERM, sooner when a host dies), the lines
are lost, and --resume is meant to restore them from the journal (results.h: "--resume can
restore any line a crash kept from being written"). Found by test_multihost, where it happened in
2 of 5 runs: a task that had run on the dead host had no line at all for that attempt.

This test makes that state deterministically: a run is stopped with SIGTERM, the journal holds
the interrupted record, and the lines written after it are cut from results.jsonl, as the kill
would have left them. The binary runs without mpirun, whatever --np says: under mpirun the
follow-up SIGKILL sometimes lands before the coordinator journals the stop (then resume takes the
other, working path), and the state this test needs would not be certain.
"""

import json
import os
import signal
import struct
import subprocess
import time

from harness import (IS_ROOT, KILL_AFTER_S, ROOT_CONSENT_ENV, Run, execute, expect, expect_equal,
                     jobrunner_binary, run_tests)

MANIFEST = """\
    version: 1
    tasks:
      - id: quick-{n}
        command: ["true"]
        matrix:
          n: {range: [0, 3]}
      - id: slow
        command: "echo started && if [ {attempt} = 1 ]; then sleep 60; fi"
    """
INTERRUPTED = 7  # outcome byte in the journal (docs/journal-format.md)


def finished_records(journal_path):
    """(index, attempt, outcome, start_ms) of every TaskFinished record of a journal."""
    data = journal_path.read_bytes()
    records, offset = [], 32
    while offset + 8 <= len(data):
        length = struct.unpack_from("<I", data, offset)[0]
        if data[offset + 8] == 3:
            index, attempt, _, outcome, _, _, start_ms, _, _ = struct.unpack_from(
                "<QIiBiiqq?", data, offset + 9)
            records.append((index, attempt, outcome, start_ms))
        offset += 8 + length
    return records


ENV = ROOT_CONSENT_ENV if IS_ROOT else {}


def test_resume_restores_interrupted_lines_the_stop_journaled_but_did_not_write(sandbox):
    manifest = sandbox.write("manifest.yaml", MANIFEST)
    run_dir = sandbox.path / "run"
    test_began_ms = time.time() * 1000
    command = [jobrunner_binary(), "--progress", "log", "--out", str(run_dir), str(manifest)]
    process = subprocess.Popen(["timeout", "-k", str(KILL_AFTER_S), "60"] + command,
                               cwd=sandbox.path, env={**os.environ, **ENV},
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        started_log = run_dir / "logs" / "slow.1.out"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                started_log.exists() and started_log.read_text() == "started\n"):
            time.sleep(0.05)
        expect(started_log.exists(), "the slow task did not start within 30 s")
        time.sleep(0.3)  # let the quick tasks' results reach the file
        process.send_signal(signal.SIGTERM)  # `timeout` passes it on to jobrunner
        stdout, stderr = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    sandbox.runs.append(Run(command, sandbox.path, process.returncode, stdout.decode(),
                            stderr.decode(), 0.0, run_dir))

    slow_index = 3
    journaled = [r for r in finished_records(run_dir / "journal") if r[0] == slow_index]
    expect_equal([r[:3] for r in journaled], [(slow_index, 1, INTERRUPTED)],
                 "journal records of the slow task's end (the stop's interrupted record)")
    # Its start_ms is when the attempt began if its worker had reported the start by then
    # (journal version 3), else 0: never a time outside this test.
    start_ms = journaled[0][3]
    expect(start_ms == 0 or test_began_ms <= start_ms <= time.time() * 1000,
           f"start_ms of the interrupted record is 0 or a time of this run, not {start_ms}")
    # The state a SIGKILL right after the journal sync leaves: none of the lines written after it.
    results = run_dir / "results.jsonl"
    kept = [line for line in results.read_text().splitlines(keepends=True)
            if '"outcome":"interrupted"' not in line and not line.startswith('{"summary"')]
    results.write_text("".join(kept))

    resume = [jobrunner_binary(), "--progress", "log", "--resume", str(run_dir), str(manifest)]
    rc, stdout, stderr, elapsed = execute(resume, sandbox.path, 60, ENV)
    run = Run(resume, sandbox.path, rc, stdout, stderr, elapsed, run_dir)
    sandbox.runs.append(run)
    expect_equal(rc, 0, "exit status of --resume")
    run.attempts = read_all_attempts(results)
    slow = [(a["attempt"], a["outcome"]) for a in run.attempts_of("slow")]
    expect_equal(slow, [(1, "interrupted"), (2, "succeeded")],
                 "attempts of the slow task in results.jsonl (attempt 1 ran: logs/slow.1.out "
                 "says 'started')")


def read_all_attempts(path):
    """Attempt lines of a results.jsonl that may hold several summary lines."""
    return [record for record in map(json.loads, path.read_text().splitlines())
            if "summary" not in record]


if __name__ == "__main__":
    run_tests(globals())
