"""Resources and placement on real runs: `gpus:` with --gpus-per-worker (no GPU needed: the ids
are only handed out and set as CUDA_VISIBLE_DEVICES), `cores:` against a worker's slots,
commands and in-process kinds alike, `tags:` and `node:` against --worker-tags and host names,
and a task no worker can run ending the run with exit 2 before anything runs.

Overlap is read from the start and end times in results.jsonl (millisecond resolution: a task
starting in the millisecond another ended does not overlap it).
"""

import socket
from datetime import datetime

from harness import (IS_ROOT, Run, execute, expect, expect_equal, expect_in, jobrunner_binary,
                     read_results, run_tests)


def when(stamp):
    """A results.jsonl time ("2026-11-23T17:39:35.109Z") as a datetime."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def overlap(a, b):
    """Two attempts ran at the same time."""
    return when(a["start"]) < when(b["end"]) and when(b["start"]) < when(a["end"])


def succeeded_once_each(run, count):
    """Every task succeeded on its only attempt; returns the attempts."""
    expect_equal(run.rc, 0, "exit status")
    expect_equal(len(run.attempts), count, "attempts")
    for a in run.attempts:
        expect_equal(a["outcome"], "succeeded", f"outcome of {a['task']}")
    return run.attempts


def stdout_of(run, attempt):
    return run.output(attempt, "stdout").decode().strip()


GPU_TASKS = """\
    version: 1
    tasks:
      - id: gpu-{n}
        command: 'echo "$CUDA_VISIBLE_DEVICES"; sleep 0.3'
        gpus: 1
        matrix: {n: [0, 1, 2, 3, 4, 5]}
      - id: cpu-{n}
        command: 'echo "[$CUDA_VISIBLE_DEVICES]"'
        env: {CUDA_VISIBLE_DEVICES: "from-manifest"}
        matrix: {n: [0, 1]}
    """


def test_tasks_on_a_one_gpu_worker_never_overlap_and_each_sees_its_gpu(sandbox):
    """Six `gpus: 1` tasks with --gpus-per-worker 1 and 3 slots per worker (cores are not what
    limits them). Proves: on each worker no two GPU tasks overlap; each task's
    CUDA_VISIBLE_DEVICES is a single id of its worker (workers of one host get distinct ids
    0, 1, 2, ...), and tasks that overlap have different ids; a task without gpus: keeps its
    manifest's value."""
    manifest = sandbox.write("gpus.yaml", GPU_TASKS)
    run = sandbox.run(manifest, "--gpus-per-worker", "1", "--slots", "3")
    attempts = succeeded_once_each(run, 8)
    gpu = [a for a in attempts if a["task"].startswith("gpu-")]
    workers = sorted(sandbox.worker_ranks())
    expected_ids = {str(i) for i in range(len(workers))}
    id_of_worker = {}
    for a in gpu:
        seen = stdout_of(run, a)
        expect(seen in expected_ids, f"{a['task']} saw CUDA_VISIBLE_DEVICES={seen!r}, expected "
                                     f"one of {sorted(expected_ids)}")
        # A worker's one GPU is always the same id.
        expect_equal(id_of_worker.setdefault(a["worker"], seen), seen,
                     f"GPU id of worker {a['worker']}")
    for i, a in enumerate(gpu):
        for b in gpu[i + 1:]:
            if a["worker"] == b["worker"]:
                expect(not overlap(a, b), f"{a['task']} and {b['task']} overlapped on worker "
                                          f"{a['worker']}: {a['start']}..{a['end']} and "
                                          f"{b['start']}..{b['end']}")
            elif overlap(a, b):
                expect(stdout_of(run, a) != stdout_of(run, b),
                       f"{a['task']} and {b['task']} ran at once on the same GPU")
    for a in attempts:
        if a["task"].startswith("cpu-"):
            expect_equal(stdout_of(run, a), "[from-manifest]", f"stdout of {a['task']}")


CORE_TASKS = """\
    version: 1
    tasks:
      - id: small-a{n}
        command: "sleep 0.2"
        matrix: {n: {range: [0, 6]}}
      - id: big-{n}
        command: 'echo "$OMP_NUM_THREADS"; sleep 0.3'
        cores: 4
        matrix: {n: [0, 1]}
      - id: small-b{n}
        command: "sleep 0.2"
        matrix: {n: {range: [0, 6]}}
      - id: pair-{n}
        command: 'echo "$OMP_NUM_THREADS"'
        cores: 2
        env: {OMP_NUM_THREADS: "7"}
        matrix: {n: [0, 1]}
      - id: kind-{n}
        kind: sleep
        args: {duration: 200ms}
        cores: 4
        matrix: {n: [0, 1]}
    """


def test_a_four_core_task_never_shares_a_four_slot_worker(sandbox):
    """Small tasks, two `cores: 4` commands and two `cores: 4` in-process sleep kinds, with 4
    slots per worker. Proves: while a 4-core task runs, nothing else runs on its worker; a
    4-core command sees OMP_NUM_THREADS=4; a task whose env sets OMP_NUM_THREADS keeps it."""
    manifest = sandbox.write("cores.yaml", CORE_TASKS)
    run = sandbox.run(manifest, "--slots", "4")
    attempts = succeeded_once_each(run, 18)
    for big in attempts:
        if not big["task"].startswith(("big-", "kind-")):
            continue
        for other in attempts:
            if other is not big and other["worker"] == big["worker"]:
                expect(not overlap(big, other),
                       f"{other['task']} ({other['start']}..{other['end']}) ran beside 4-core "
                       f"{big['task']} ({big['start']}..{big['end']}) on worker {big['worker']}")
        if big["task"].startswith("big-"):
            expect_equal(stdout_of(run, big), "4", f"OMP_NUM_THREADS of {big['task']}")
    for a in attempts:
        if a["task"].startswith("pair-"):
            expect_equal(stdout_of(run, a), "7", f"OMP_NUM_THREADS of {a['task']}")


TAGGED = """\
    version: 1
    tasks:
      - id: red-{n}
        command: "true"
        tags: [red]
        matrix: {n: {range: [0, 6]}}
      - id: blue-{n}
        command: "true"
        tags: [blue]
        matrix: {n: {range: [0, 6]}}
      - id: here-{n}
        command: "true"
        node: HOST
        matrix: {n: {range: [0, 3]}}
    """


def run_mpmd(sandbox, manifest, contexts, limit_s=60):
    """Runs mpirun with one application context per (ranks, extra flags) in `contexts`, every
    one running the same manifest into one run directory; returns the Run."""
    run_dir = sandbox.path / f"run-{len(sandbox.runs) + 1}"
    command = ["mpirun", "--oversubscribe", "--bind-to", "none"]
    if IS_ROOT:
        command.append("--allow-run-as-root")
    for i, (ranks, flags) in enumerate(contexts):
        if i > 0:
            command.append(":")
        command += ["-n", str(ranks), jobrunner_binary(), "--progress", "log", "--out",
                    str(run_dir), *flags, str(manifest)]
    rc, stdout, stderr, elapsed = execute(command, sandbox.path, limit_s)
    run = Run(command, sandbox.path, rc, stdout, stderr, elapsed, run_dir)
    sandbox.runs.append(run)
    run.attempts, run.summary = read_results(run_dir)
    return run


def test_worker_tags_and_node_route_tasks(sandbox):
    """Tasks with `tags: [red]`, `tags: [blue]` and `node: <this host>`. With one or two ranks
    the single worker has --worker-tags red,blue; with more, rank 1 has red and the others blue
    (an MPMD mpirun line, each part with its own flags). Proves: every task runs once and
    succeeds; red tasks run only on red workers, blue ones only on blue workers; the host name
    is every worker's implicit node: tag."""
    manifest = sandbox.write("tags.yaml", TAGGED.replace("HOST", socket.gethostname()))
    if sandbox.np <= 2:
        run = sandbox.run(manifest, "--worker-tags", "red,blue")
        attempts = succeeded_once_each(run, 15)
        return
    run = run_mpmd(sandbox, manifest, [(1, []), (1, ["--worker-tags", "red"]),
                                       (sandbox.np - 2, ["--worker-tags", "blue"])])
    attempts = succeeded_once_each(run, 15)
    for a in attempts:
        if a["task"].startswith("red-"):
            expect_equal(a["worker"], 1, f"worker of {a['task']}")
        if a["task"].startswith("blue-"):
            expect(a["worker"] >= 2, f"{a['task']} ran on red worker {a['worker']}")


NEVER_FITS = {
    "cores": ("      cores: 64\n", "it asks for 64 cores, which no worker has"),
    "gpus": ("      gpus: 1\n", "it asks for 1 core, 1 GPU, which no worker has (no worker has "
                                "GPUs: see --gpus-per-worker)"),
    "memory": ("      memory: 1000T\n", "it asks for 1 core, 1000T memory, which no worker has"),
    "tags": ("      tags: [gpu, nosuch]\n", "(no worker has tags gpu, nosuch; see --worker-tags)"),
}


def test_a_task_no_worker_can_run_ends_the_run_with_exit_2(sandbox):
    """A runnable task, then an entry asking for more cores, GPUs (none on this machine:
    CUDA_VISIBLE_DEVICES is emptied), memory, or tags than any worker has. Proves, for each:
    exit 2 on every rank, promptly (the run's time limit catches a hang), nothing ran, and the
    error names the entry's position, its first task, what it asks and the largest worker."""
    for name, (field, why) in NEVER_FITS.items():
        manifest = sandbox.write(f"{name}.yaml", "version: 1\ntasks:\n"
                                 "  - id: fine\n    command: \"true\"\n"
                                 "  - id: huge-{n}\n    command: \"true\"\n"
                                 "    matrix: {n: [0, 1]}\n" + field.replace("      ", "    "))
        run = sandbox.run(manifest, env={"CUDA_VISIBLE_DEVICES": ""}, limit_s=30)
        expect_equal(run.rc, 2, f"exit status ({name})")
        expect_equal(run.attempts, [], f"attempts ({name})")
        expect_in(f"{manifest}:5:5: task huge-0 (and the rest of its entry) can never run: ",
                  run.stderr, f"error ({name})")
        expect_in(why, run.stderr, f"error ({name})")
        expect_in("; the largest worker has ", run.stderr, f"error ({name})")


if __name__ == "__main__":
    run_tests(globals())
