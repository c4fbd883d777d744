"""The crash campaign: for each seed, a run is killed with SIGKILL at a random moment (rank 0, a
worker rank, mpirun, or the whole process tree at once), then resumed to its end. Every seed
must end with every task succeeded exactly once, no task run again after its success, and no
log overwritten (no two executions of one task share an attempt number, which names its log).

Every task execution appends "<task> <attempt>" to executions.log before it does anything else,
and prints the same to its stdout, so that both the executions and the logs can be checked
against results.jsonl.

    tests/e2e/test_crash_campaign.py --np 2 --seeds 200 [--first-seed 1]

runs the long campaign (the README's "Building and testing" shows it); ctest runs 3 seeds at
np 1 and 2 (np 4 shows nothing more, at twice the cost).
"""

import os
import random
import signal
import sys
import time
from pathlib import Path

from harness import expect, expect_equal, run_tests
from reliability import (expect_each_succeeded_exactly_once, read_all_results, resume, skip,
                         start_jobrunner, wait_for, wait_until_dead)


def take_option(name, default):
    """Removes `--name N` from the command line (run_tests parses the rest); returns N."""
    if name in sys.argv:
        at = sys.argv.index(name)
        value = int(sys.argv[at + 1])
        del sys.argv[at:at + 2]
        return value
    return default


SEEDS = take_option("--seeds", 3)
FIRST_SEED = take_option("--first-seed", 1)
TASKS = 40
VICTIMS = ("rank0", "worker", "mpirun", "tree")


def rank_of(pid):
    """The MPI rank of a jobrunner process (OMPI_COMM_WORLD_RANK), or None."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environment = f.read().split(b"\0")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().split(b"\0")
    except OSError:
        return None
    if b"--orphan-guard" in command or not any(b"jobrunner" in word for word in command[:1]):
        return None
    for entry in environment:
        if entry.startswith(b"OMPI_COMM_WORLD_RANK="):
            return int(entry.split(b"=", 1)[1])
    return None


def ranks(bg):
    """{rank: pid} of the run's jobrunner ranks now."""
    found = {}
    for pid in bg.descendants():
        rank = rank_of(pid)
        if rank is not None:
            found[rank] = pid
    return found


def kill(bg, victim, np):
    """SIGKILL to `victim` of the background run; returns what was killed, in words."""
    if victim == "tree":
        bg.kill_everything()
        return "the whole tree"
    if victim == "mpirun":
        bg.signal(signal.SIGKILL)
        return "mpirun"
    pids = ranks(bg)
    workers = sorted(r for r in pids if r > 0)
    rank = workers[0] if victim == "worker" and np > 1 and workers else 0
    if rank not in pids:
        bg.kill_everything()
        return f"the whole tree (rank {rank} not found)"
    os.kill(pids[rank], signal.SIGKILL)
    return f"rank {rank}"


def check_seed(sandbox, run_dir, executions_path):
    attempts, _ = read_all_results(run_dir)
    succeeded = expect_each_succeeded_exactly_once(attempts, TASKS)
    executions = [tuple(line.split()) for line in executions_path.read_text().splitlines()
                  if line.strip()]
    seen = set()
    for task, attempt in executions:
        expect((task, attempt) not in seen,
               f"task {task} attempt {attempt} ran twice: its log was overwritten")
        seen.add((task, attempt))
    last_run = {}
    for task, attempt in executions:
        last_run[task] = max(last_run.get(task, 0), int(attempt))
    for index, line in succeeded.items():
        expect_equal(last_run.get(line["task"]), line["attempt"],
                     f"last execution of {line['task']} (its success is attempt "
                     f"{line['attempt']})")
        if line.get("stdout"):
            text = (Path(run_dir) / line["stdout"]).read_text().split()
            expect_equal(text, [line["task"], str(line["attempt"])],
                         f"log of {line['task']} attempt {line['attempt']}")


def test_every_seed_killed_at_random_resumes_to_exactly_one_success_per_task(sandbox):
    """SEEDS seeds (FIRST_SEED on); each picks a victim and a moment (counted from the first
    task's start), kills, resumes (up to three times, should a resume itself stop early) and
    checks the invariants above."""
    if sandbox.np > 2:
        skip("np 1 and 2 cover every victim; runs at np 1 and 2")
        return
    executions = sandbox.path / "executions.log"
    manifest = sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: t-{{n}}
            command: "echo $JOBRUNNER_TASK_ID $JOBRUNNER_ATTEMPT >> {executions};
              echo $JOBRUNNER_TASK_ID $JOBRUNNER_ATTEMPT; sleep 0.05"
            retries: 2
            matrix:
              n: {{range: [0, {TASKS}]}}
        """)
    summary = []
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS):
        rng = random.Random(seed)
        victim = rng.choice(VICTIMS if sandbox.np > 1 else ("rank0", "mpirun", "tree"))
        moment = rng.uniform(0, 1.0)  # after the first task started: the run takes about 1 s
        run_dir = sandbox.path / f"run-{seed}"
        executions.write_text("")
        with start_jobrunner(sandbox, "--out", run_dir, manifest, name=f"seed-{seed}") as bg:
            wait_for(lambda: executions.read_text(), 60, "a task started")
            time.sleep(moment)
            rank_pids = list(ranks(bg).values())
            what = kill(bg, victim, sandbox.np)
            bg.wait(limit_s=30, check=False)
            bg.kill_everything()
        # Ranks whose mpirun was killed are no longer its descendants and may run on (even to
        # the run's end) until they notice; a resume before they are gone is refused as "in
        # use by another jobrunner", as it should be. Wait as a user would.
        expect_equal(wait_until_dead(rank_pids, 60), [],
                     f"seed {seed}: ranks still alive a minute after {what} was killed")
        if not (run_dir / "journal").exists():
            summary.append((seed, what, round(moment, 2), "killed before the journal"))
            continue
        for _ in range(3):
            final = resume(sandbox, run_dir, manifest, limit_s=120)
            if final.rc != 4:
                break
        expect_equal(final.rc, 0, f"seed {seed} ({what} at {moment:.2f}s): exit status of "
                                  f"the resume")
        check_seed(sandbox, run_dir, executions)
        summary.append((seed, what, round(moment, 2), "ok"))
    print(f"    (seed, killed, at s, result): {summary}", flush=True)


if __name__ == "__main__":
    run_tests(globals())
