"""Trouble on the workers: tasks that crash, a worker rank killed outright, a worker on which
tasks keep failing (retired by --max-worker-failures), and work piling up on one worker while
the others idle."""

import os
import signal
import time

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (expect_each_succeeded_exactly_once, kill_process_groups, read_all_results,
                         read_pids, resume, skip, start_jobrunner, wait_for, wait_until_groups_gone)


def test_tasks_that_segfault_abort_or_are_sigkilled_do_not_take_their_worker_down(sandbox):
    """A python3 that dereferences NULL (a real SIGSEGV), one that calls abort() (SIGABRT), and
    a shell that gets SIGKILL as from the OOM killer, each printing its parent's pid (the worker
    rank that spawned it) first; then 30 short tasks that print theirs. Proves: the run ends
    with exit 1; the three are "signaled" with 11, 6 and 9 and no exit code; every other task
    succeeds; and on the worker of each crash, tasks started after the crash still ran in the
    same process (same parent pid), so no worker rank was replaced or lost. (The crashing tasks
    run 0.2 s first: a task that ends at once would make its worker take a long queue of the
    later tasks, see test_a_quick_first_task_does_not_make_its_worker_hoard_long_tasks.)"""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: segv
            command: >-
              ulimit -c 0; echo $PPID; sleep 0.2;
              exec python3 -c 'import ctypes; ctypes.string_at(0)'
          - id: abort
            command: "ulimit -c 0; echo $PPID; sleep 0.2; exec python3 -c 'import os; os.abort()'"
          - id: oom
            command: "echo $PPID; sleep 0.2; kill -KILL $$"
          - id: after-{n}
            command: "echo $PPID; sleep 0.05"
            matrix:
              n: {range: [0, 30]}
        """)
    run = sandbox.run("manifest.yaml", limit_s=120)
    expect_equal(run.rc, 1, "exit status")
    for task, number in (("segv", 11), ("abort", 6), ("oom", 9)):
        attempt = run.only_attempt(task)
        expect_equal((attempt["outcome"], attempt["signal"], attempt["exit_code"]),
                     ("signaled", number, None), f"outcome, signal, exit code of {task}")
    parent = {}
    for a in run.attempts:
        parent[a["task"]] = int(run.output(a, "stdout").split()[0])
    for n in range(30):
        expect_equal(run.only_attempt(f"after-{n}")["outcome"], "succeeded", f"after-{n}")
    expect_equal(run.summary["outcomes"]["signaled"], 3, "summary signaled")
    expect_equal(run.summary["outcomes"]["succeeded"], 30, "summary succeeded")
    for task in ("segv", "abort", "oom"):
        crash = run.only_attempt(task)
        later = [a for a in run.attempts if a["task"].startswith("after-")
                 and a["worker"] == crash["worker"] and a["start"] > crash["end"]]
        expect(later, f"no task started on worker {crash['worker']} after {task} crashed there")
        expect_equal({parent[a["task"]] for a in later}, {parent[task]},
                     f"parent pids of the tasks on worker {crash['worker']} after {task}")
    expect_equal(len(set(parent.values())), len(sandbox.worker_ranks()),
                 "distinct worker processes that ran tasks")


def test_a_worker_rank_killed_with_sigkill_ends_the_job_and_resume_finishes(sandbox):
    """Six tasks record their parent pid (the worker rank that runs them) and their own pid,
    then sleep 5 s (unless `resumed` exists). A worker rank (with -n 1, the only rank) gets
    SIGKILL. Open MPI cannot go on without a rank, so: mpirun must exit non-zero within 10 s;
    then --resume completes every task exactly once with exit 0. Task processes of the killed
    run that outlive it are listed (the killed rank cannot kill them) and then killed."""
    tasks = 6
    manifest = sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: w-{{n}}
            command: "echo $PPID >> ppids; echo $$ >> pids; test -e resumed || sleep 5"
            matrix:
              n: {{range: [0, {tasks}]}}
        """)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, manifest) as bg:
        try:
            wait_for(lambda: read_pids(sandbox.path / "ppids"), 60, "a task started")
            time.sleep(0.3)  # the dispatch reaches the journal
            victim = read_pids(sandbox.path / "ppids")[0]
            expect(victim in bg.descendants(), f"pid {victim} is not a rank of this run")
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            rc = bg.wait(limit_s=30)
            took = time.monotonic() - killed_at
            bg.as_run(run_dir)
            left = wait_until_groups_gone(read_pids(sandbox.path / "pids"), limit_s=2)
        finally:
            kill_process_groups(read_pids(sandbox.path / "pids"))
    print(f"    mpirun exit status {rc} {took:.1f}s after SIGKILL to rank pid {victim}; "
          f"{len(left)} task processes outlived the job", flush=True)
    expect(rc != 0, f"mpirun exit status {rc} after a rank was killed")
    expect(took < 10, f"mpirun took {took:.1f}s to end after a rank was killed")
    (sandbox.path / "resumed").write_text("")
    final = resume(sandbox, run_dir, manifest, limit_s=60)
    expect_equal(final.rc, 0, "exit status of the resume")
    attempts, summaries = read_all_results(run_dir)
    expect_each_succeeded_exactly_once(attempts, tasks)
    expect_equal(summaries[-1]["succeeded_total"], tasks, "succeeded_total")


def test_a_worker_where_tasks_keep_failing_is_retired(sandbox):
    """Every task fails on worker rank 1 and succeeds elsewhere (retries 2);
    --max-worker-failures 2. Proves: the run exits 0; the summary lists retired_workers [1];
    stderr warns that rank 1 gets no more tasks; every success ran on another rank; rank 1 ran
    only a few attempts (the two that retired it plus what it had queued) and none of the last
    half of the tasks. Needs two workers besides rank 1: runs at np >= 3 (np 4 in CI)."""
    if sandbox.np < 3:
        skip(f"retiring rank 1 needs another worker to take its tasks; np {sandbox.np} < 3")
        return
    tasks = 40
    sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: r-{{n}}
            command: "sleep 0.05; test $JOBRUNNER_WORKER_RANK != 1"
            retries: 2
            matrix:
              n: {{range: [0, {tasks}]}}
        """)
    run = sandbox.run("manifest.yaml", "--max-worker-failures", "2", "--retry-backoff", "10ms",
                      limit_s=120)
    expect_equal(run.rc, 0, "exit status")
    expect_equal(run.summary["retired_workers"], [1], "summary retired_workers")
    expect_in("worker rank 1", run.stderr, "warning about the retired worker")
    expect_in("gets no more tasks", run.stderr, "warning about the retired worker")
    on_rank_1 = [a for a in run.attempts if a["worker"] == 1]
    expect(all(a["outcome"] == "failed" for a in on_rank_1), f"rank 1 attempts: {on_rank_1}")
    expect(len(on_rank_1) <= 6, f"rank 1 ran {len(on_rank_1)} attempts after all")
    late = sorted({a["index"] for a in on_rank_1 if a["index"] >= tasks // 2})
    expect_equal(late, [], "tasks of the second half that rank 1 ran")
    succeeded = [a for a in run.attempts if a["outcome"] == "succeeded"]
    expect_equal(len(succeeded), tasks, "successes")
    expect(all(a["worker"] != 1 for a in succeeded), "a success on rank 1")


def test_a_quick_first_task_does_not_make_its_worker_hoard_long_tasks(sandbox):
    """A manifest whose first task is `true` (a setup step) and then 12 tasks of `sleep 0.6`,
    one slot per worker. README: "tasks longer than half a second get no prefetch, so none
    waits behind another while a worker is idle". Proves: the 0.6 s tasks spread over the
    workers (none runs more than 6 of the 12), instead of queuing on the worker whose first
    task took a millisecond while the other workers idle. Needs two workers or more: np >= 3."""
    if sandbox.np < 3:
        skip(f"balance needs two workers or more; np {sandbox.np} < 3")
        return
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: setup
            command: ["true"]
          - id: work-{n}
            command: "sleep 0.6"
            matrix:
              n: {range: [0, 12]}
        """)
    run = sandbox.run("manifest.yaml", "--slots", "1", limit_s=120)
    expect_equal(run.rc, 0, "exit status")
    per_worker = {}
    for a in run.attempts:
        if a["task"].startswith("work-"):
            per_worker[a["worker"]] = per_worker.get(a["worker"], 0) + 1
    print(f"    0.6 s tasks per worker: {dict(sorted(per_worker.items()))}; "
          f"run took {run.elapsed_s:.1f}s", flush=True)
    expect(max(per_worker.values()) <= 6,
           f"one worker ran {max(per_worker.values())} of the 12 0.6 s tasks while others "
           f"idled: {per_worker}; the setup task ran on worker "
           f"{run.only_attempt('setup')['worker']}")


if __name__ == "__main__":
    run_tests(globals())
