"""kill -9 of the whole run right after tasks are dispatched, then --resume, over many seeds.

A task may start only once the journal record of its dispatch is on disk: otherwise a crash in
between leaves a resume that does not know the attempt number was used, runs the task again as
the same attempt, overwrites its log and leaves the first execution without a results line.

Every task appends "<id> <attempt> <token>" (a token unique to that execution) to a side file
outside the run directory, then prints it, so the test knows every execution, even those whose
run was killed. The run is killed (SIGSTOP then SIGKILL to every process, as a power cut)
the moment the side file reaches a random number of executions, i.e. just after the latest
dispatch, and resumed; twice, then resumed to the end. Then:
  - every task succeeded exactly once (interrupted lines allowed below the success),
  - no two executions share a (task, attempt): no attempt number was ever used twice,
  - every execution has its results.jsonl line (its own attempt),
  - every log file holds exactly the token of the one execution it belongs to: none was
    overwritten or written by two executions.

CI runs CRASH_SEEDS seeds per rank count. The long campaign runs many more:
    JOBRUNNER_CRASH_SEEDS=50 JOBRUNNER_BIN=build/jobrunner \
        python3 tests/e2e/test_crash_after_dispatch.py --np 2
and JOBRUNNER_E2E_SEED=N replays one seed.
"""

import os
import time
from collections import defaultdict
from pathlib import Path

from harness import expect, expect_equal, run_tests
from reliability import (expect_each_succeeded_exactly_once, read_all_results, resume,
                         seeded, start_jobrunner, wait_until_dead)

TASKS = 150
CRASH_SEEDS = 2
KILLS_PER_SEED = 2

MANIFEST = """\
    version: 1
    tasks:
      - id: t-{{n}}
        command: 'line="t-{{n}} $JOBRUNNER_ATTEMPT $$-$(date +%s%N)"; echo "$line" >> {executions}; echo "$line"'
        matrix:
          n: {{range: [0, {tasks}]}}
    """


def seeds(np):
    if os.environ.get("JOBRUNNER_E2E_SEED"):
        return [int(os.environ["JOBRUNNER_E2E_SEED"])]
    count = int(os.environ.get("JOBRUNNER_CRASH_SEEDS", CRASH_SEEDS))
    return [7000 + 100 * np + k for k in range(count)]


def executions(path):
    """[(task id, attempt, token)] the tasks recorded, in the order they started."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            found.append((parts[0], int(parts[1]), parts[2]))
    return found


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def run_and_kill(sandbox, args, side_file, target, name):
    """Starts jobrunner with `args` and kills every process of it once `side_file` has `target`
    lines; returns False when the run ended before that."""
    with start_jobrunner(sandbox, *args, name=name) as bg:
        deadline = time.monotonic() + 120
        polls = 0
        while bg.process.poll() is None and count_lines(side_file) < target:
            expect(time.monotonic() < deadline, f"{name}: no execution {target} within 120 s")
            if polls % 50 == 0:
                bg.descendants()  # remember the ranks while mpirun still parents them
            polls += 1
            time.sleep(0.001)
        if bg.process.poll() is not None:
            bg.wait(limit_s=10)
            bg.as_run()
            return False
        ranks = bg.descendants()
        bg.kill_everything()
        left = wait_until_dead(ranks, limit_s=20)
        expect(not left, f"{name}: processes still alive 20 s after the kill: {left}")
        bg.as_run()
        return True


def test_a_kill_right_after_dispatch_never_reuses_an_attempt_or_overwrites_a_log(sandbox):
    """See the module's docstring: per seed, two kills of the whole run just after a random
    dispatch, a resume after each, then a resume to the end; every execution accounted for."""
    for seed in seeds(sandbox.np):
        rng = seeded(seed)
        side_file = sandbox.path / f"executions-{seed}"
        manifest = sandbox.write(f"m-{seed}.yaml",
                                 MANIFEST.format(executions=side_file, tasks=TASKS))
        run_dir = sandbox.path / f"run-{seed}"
        args = ["--out", run_dir, manifest]
        for kill in range(KILLS_PER_SEED):
            started = count_lines(side_file)
            target = started + rng.randint(1, max(1, (TASKS - started) // 2))
            if not run_and_kill(sandbox, args, side_file, target, f"seed-{seed}-kill-{kill}"):
                break
            args = ["--resume", run_dir, manifest]
        final = resume(sandbox, run_dir, manifest, limit_s=120)
        expect_equal(final.rc, 0, f"seed {seed}: exit status of the final resume")
        attempts, _ = read_all_results(run_dir)
        expect_each_succeeded_exactly_once(attempts, TASKS)
        check_every_execution_accounted_for(run_dir, executions(side_file), attempts, seed)


def check_every_execution_accounted_for(run_dir, ran, attempts, seed):
    by_attempt = defaultdict(list)
    for task, attempt, token in ran:
        by_attempt[(task, attempt)].append(token)
    reused = {key: tokens for key, tokens in by_attempt.items() if len(tokens) > 1}
    expect(not reused, f"seed {seed}: attempt numbers used by more than one execution "
                       f"(a resume ran them again as the same attempt): {sorted(reused)[:5]}")
    lines = {(a["task"], a["attempt"]): a for a in attempts}
    missing = sorted(key for key in by_attempt if key not in lines)
    expect(not missing, f"seed {seed}: executions without a results.jsonl line: {missing[:5]}")
    # A log is empty when its execution was killed between its two writes (the kill comes the
    # moment the side file grows); otherwise it holds that execution's line and nothing else.
    logs = Path(run_dir) / "logs"
    for (task, attempt), tokens in by_attempt.items():
        log = logs / f"{task}.{attempt}.out"
        if log.exists() and log.read_text():
            expect_equal(log.read_text().split(), [task, str(attempt), tokens[0]],
                         f"seed {seed}: {log.name} holds its own execution's output only")
    for log in logs.glob("*.out"):
        words = log.read_text().split()
        if not words:
            continue
        expect(len(words) == 3 and log.name == f"{words[0]}.{words[1]}.out",
               f"seed {seed}: {log.name} holds {words}, not one execution of its own")
        expect((words[0], int(words[1])) in by_attempt,
               f"seed {seed}: {log.name} is from no recorded execution")


if __name__ == "__main__":
    run_tests(globals())
