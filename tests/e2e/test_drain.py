"""Stopping a run from outside: SIGUSR1 (drain), --time-limit, SIGTERM and SIGKILL to mpirun.

Signals go to mpirun, as a batch system or a user would send them; mpirun forwards SIGUSR1 to
every rank and answers SIGTERM by terminating the job. Measured with Open MPI 4.1 here: the
ranks get SIGTERM about 1 s after mpirun does, and SIGKILL 1 s after that if they ignore it,
but within a few milliseconds once one rank has exited non-zero (a worker exits 143 at once);
mpirun itself then exits 1. Each test ends by resuming the run to completion: the stop must
leave a run directory from which every task succeeds exactly once.
"""

import os
import signal
import time

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (count_result_lines, expect_each_succeeded_exactly_once,
                         kill_process_groups, process_group_members, read_all_results,
                         only_at_np_2, read_journal, read_pids, resume, run_jobrunner,
                         start_jobrunner,
                         wait_for, wait_until_dead, wait_until_groups_gone)


def sleepers(sandbox, count, seconds, name="manifest.yaml", where="."):
    """`count` tasks that append their pid ($$, also their process group) to WHERE/pids and to
    WHERE/started/<n>, then sleep `seconds` unless a file WHERE/resumed exists (so that resumes
    are quick). WHERE is relative to the sandbox, where mpirun starts."""
    (sandbox.path / where / "started").mkdir(parents=True, exist_ok=True)
    return sandbox.write(name, f"""\
        version: 1
        tasks:
          - id: s-{{n}}
            command: "echo $$ >> {where}/pids; echo $$ > {where}/started/{{n}};
              test -e {where}/resumed || sleep {seconds}"
            matrix:
              n: {{range: [0, {count}]}}
        """)


def started_count(sandbox, where="."):
    return len(os.listdir(sandbox.path / where / "started"))


def wait_for_new_start(sandbox, at_least, limit_s=60):
    """Waits until at least `at_least` tasks have started, then for one more to start, so the
    newest task has all its run time ahead of it."""
    wait_for(lambda: started_count(sandbox) >= at_least, limit_s,
             f"{at_least} tasks started")
    now = started_count(sandbox)
    wait_for(lambda: started_count(sandbox) > now, limit_s, "one more task started",
             interval_s=0.002)


def finish_by_resuming(sandbox, run_dir, manifest, tasks, *args, where="."):
    """Resumes (quickly: the sleepers see `resumed`) and checks every task succeeded once."""
    (sandbox.path / where / "resumed").write_text("")
    final = resume(sandbox, run_dir, manifest, *args, limit_s=120)
    expect_equal(final.rc, 0, "exit status of the resume")
    attempts, summaries = read_all_results(run_dir)
    expect_each_succeeded_exactly_once(attempts, tasks)
    expect_equal(summaries[-1]["succeeded_total"], tasks, "succeeded_total after the resume")
    return final


def test_sigusr1_drains_interrupts_what_outlives_the_grace_and_resume_finishes(sandbox):
    """24 tasks of `sleep 1`, 4 slots per worker, --drain-grace 300ms. SIGUSR1 reaches mpirun
    right after a task started, so that task cannot finish within the grace. Proves: mpirun
    exits 4; stderr says "draining" and shows `jobrunner --resume <dir> <manifest>`; at least
    one attempt is "interrupted" in results.jsonl and the journal; no task process is left
    once mpirun has ended; the summary says exit_status 4 with tasks not run; and a resume runs
    the rest with exit 0, each task succeeding exactly once."""
    tasks = 24
    manifest = sleepers(sandbox, tasks, 1)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "4", "--drain-grace", "300ms",
                         manifest) as bg:
        wait_for_new_start(sandbox, 1)
        # Not while tasks are being spawned: see test_the_drain_signal_never_kills_a_task_...
        time.sleep(0.05)
        bg.signal(signal.SIGUSR1)
        bg.wait(limit_s=60)
        run = bg.as_run(run_dir)
    expect_equal(run.rc, 4, "exit status of mpirun after the drain")
    expect_in("draining", run.stderr, "stderr")
    expect_in(f"jobrunner --resume {run_dir} {manifest}", run.stderr, "resume hint")
    interrupted = [a for a in run.attempts if a["outcome"] == "interrupted"]
    expect(interrupted, f"no interrupted attempt: {run.attempts}")
    _, records, _ = read_journal(run_dir / "journal")
    journaled = {(r["index"], r["attempt"]) for _, _, r in records
                 if r["type"] == "TaskFinished" and r["outcome"] == "interrupted"}
    for a in interrupted:
        expect((a["index"], a["attempt"]) in journaled, f"{a} is not in the journal")
    expect_equal(run.summary["exit_status"], 4, "summary exit_status")
    expect(run.summary["outcomes"]["not_run"] > 0, f"nothing left to run: {run.summary}")
    left = wait_until_groups_gone(read_pids(sandbox.path / "pids"), limit_s=5)
    kill_process_groups(left)
    expect_equal(left, [], "task processes alive after the drained run ended")
    finish_by_resuming(sandbox, run_dir, manifest, tasks)


def test_the_drain_signal_never_kills_a_task_that_is_starting(sandbox):
    """20000 tasks of `true` with 8 slots per worker, so tasks start all the time; SIGUSR1 to
    mpirun once 500 have finished. mpirun signals each rank's process group, and a task is in
    its rank's group until posix_spawn has moved it into its own, so a task that is being
    started can get the SIGUSR1 meant for jobrunner and die of it. Proves: the run exits 4 and
    every attempt line is "succeeded" or "interrupted": none is "signaled" with signal 10, which
    would count as the task's own failure (with retries 0 it fails for good and the resume
    exits 1). The window is short, so up to 3 runs are made; the first failure is reported."""
    manifest = sandbox.write("churn.yaml", """\
        version: 1
        tasks:
          - id: t-{n}
            command: ["true"]
            matrix:
              n: {range: [0, 20000]}
        """)
    for trial in range(3):
        run_dir = sandbox.path / f"churn-{trial}"
        with start_jobrunner(sandbox, "--out", run_dir, "--slots", "8", "--drain-grace", "1s",
                             manifest, name=f"churn-{trial}") as bg:
            wait_for(lambda: count_result_lines(run_dir) >= 500, 60, "500 tasks finished")
            bg.signal(signal.SIGUSR1)
            bg.wait(limit_s=60)
            run = bg.as_run(run_dir)
        expect_equal(run.rc, 4, f"trial {trial}: exit status")
        bad = [a for a in run.attempts if a["outcome"] not in ("succeeded", "interrupted")]
        expect_equal(bad, [], f"trial {trial}: attempts ended otherwise than succeeded or "
                              f"interrupted (signal 10 is the drain's SIGUSR1)")


def test_a_drain_lets_running_tasks_finish_within_the_grace(sandbox):
    """12 tasks of `sleep 1`, 2 slots per worker, --drain-grace 20s; SIGUSR1 after the first
    task started. Proves: the tasks running at the drain finish as "succeeded" (none is
    interrupted), no further task starts, the run exits 4 well before the 20 s grace, and a
    resume finishes the rest."""
    tasks = 12
    manifest = sleepers(sandbox, tasks, 1)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "2", "--drain-grace", "20s",
                         manifest) as bg:
        wait_for_new_start(sandbox, 0)
        time.sleep(0.05)  # not while tasks are being spawned (see above)
        bg.signal(signal.SIGUSR1)
        bg.wait(limit_s=60)
        run = bg.as_run(run_dir)
    expect_equal(run.rc, 4, "exit status")
    expect(run.elapsed_s < 15, f"the drain waited for its whole grace: {run.elapsed_s:.1f}s")
    outcomes = sorted({a["outcome"] for a in run.attempts})
    expect_equal(outcomes, ["succeeded"], "outcomes of the attempts that ran")
    expect_equal(len(run.attempts), started_count(sandbox), "attempt lines vs tasks started")
    expect(len(run.attempts) < tasks, f"every task ran despite the drain: {len(run.attempts)}")
    finish_by_resuming(sandbox, run_dir, manifest, tasks)


def test_time_limit_drains_on_its_own_before_the_limit(sandbox):
    """60 tasks of `sleep 1` cannot fit in --time-limit 6s (2 slots per worker) with
    --drain-grace 1s. Proves: the run drains by itself and ends with exit 4 before the limit
    by its own clock (summary wall_s < 6; mpirun's start-up and exit come on top), after some
    tasks succeeded; it says the time limit is near and how to resume; then a resume (with more
    slots, so it is quick) finishes every task exactly once."""
    tasks = 60
    manifest = sleepers(sandbox, tasks, 1)
    run_dir = sandbox.path / "run"
    run = run_jobrunner(sandbox, "--out", run_dir, "--slots", "2", "--time-limit", "6s",
                        "--drain-grace", "1s", manifest, run_dir=run_dir, limit_s=60)
    expect_equal(run.rc, 4, "exit status")
    expect(run.summary["wall_s"] < 6, f"the run took {run.summary['wall_s']}s by its own "
                                      f"clock, past its 6 s limit")
    expect(run.elapsed_s < 20, f"mpirun took {run.elapsed_s:.1f}s")
    expect_in("time limit", run.stderr, "stderr")
    expect_in(f"jobrunner --resume {run_dir} {manifest}", run.stderr, "resume hint")
    expect(run.summary["succeeded_total"] > 0, f"no task ran: {run.summary}")
    expect(run.summary["outcomes"]["not_run"] > 0, f"summary: {run.summary}")
    finish_by_resuming(sandbox, run_dir, manifest, tasks, "--slots", "20")


def test_a_time_limit_shorter_than_the_drain_grace_still_gets_work_done(sandbox):
    """--time-limit 30s with the default --drain-grace (60s): the drain point, 30 - 60 - 10 s,
    is before the start. Then the run starts no task, exits 4 and asks to be resumed, and every
    resume with the same flags does the same: the run can never finish. Proves that jobrunner
    either refuses the combination (exit 2 naming --time-limit) or still runs tasks."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: t-{n}
            command: ["true"]
            matrix:
              n: {range: [0, 3]}
        """)
    run_dir = sandbox.path / "run"
    run = run_jobrunner(sandbox, "--out", run_dir, "--time-limit", "30s", manifest,
                        run_dir=run_dir)
    if run.rc == 2:
        expect_in("--time-limit", run.stderr, "message")
        return
    expect(run.summary is not None and run.summary["succeeded_total"] > 0,
           f"exit status {run.rc} and no task ran (summary {run.summary}): a run with "
           f"--time-limit 30s and the default --drain-grace 60s drains before it starts")


def sigterm_trial(sandbox, trial):
    """One run of 8 sleepers stopped by SIGTERM to mpirun: (ranks left, task processes left)."""
    where = f"trial-{trial}"
    tasks = 8
    manifest = sleepers(sandbox, tasks, 30, name=f"{where}.yaml", where=where)
    run_dir = sandbox.path / where / "run"
    pids = sandbox.path / where / "pids"
    busy = 2 * max(1, sandbox.np - 1)
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "2", manifest, name=where) as bg:
        try:
            wait_for(lambda: started_count(sandbox, where) >= busy, 60, f"{busy} tasks started")
            # Steady state: the workers' waits have grown to their 10 ms maximum, as in any
            # run of long tasks (and the dispatches are in the journal, synced every 50 ms).
            time.sleep(1.5)
            task_groups = read_pids(pids)
            ranks = bg.descendants() - set(process_group_members(task_groups))
            bg.signal(signal.SIGTERM)
            left_ranks = wait_until_dead(ranks, limit_s=10)
            left_tasks = wait_until_groups_gone(task_groups, limit_s=1)
            bg.wait(limit_s=15, check=False)
            if bg.timed_out:
                print("    note: mpirun did not exit within 15 s of SIGTERM although its ranks "
                      "had ended (Open MPI hang in PMIx_server_finalize); killed", flush=True)
            run = bg.as_run(run_dir)
        finally:
            kill_process_groups(read_pids(pids))
    print(f"    trial {trial}: mpirun exit status after SIGTERM {run.rc}, "
          f"{len(left_tasks)} task processes left", flush=True)
    if not left_ranks and not left_tasks:
        read_journal(run_dir / "journal")  # the header and every whole record decode
        finish_by_resuming(sandbox, run_dir, manifest, tasks, where=where)
    return left_ranks, left_tasks


def test_sigterm_to_mpirun_ends_every_rank_and_task_and_the_run_resumes(sandbox):
    """8 tasks that would sleep 30 s, 2 slots per worker; SIGTERM to mpirun 1.5 s after every
    slot is busy. Proves: every rank and every task process (each task's whole process group,
    found from the pids the tasks recorded) is gone within 10 s; mpirun ends (if mpirun itself
    hangs in Open MPI's PMIx_server_finalize after its ranks are gone, that is reported and
    mpirun is killed, not failed: it is not jobrunner's doing); the journal reads back; and a
    resume finishes every task exactly once. With several workers (np >= 3) the outcome
    depends on a race, so up to 3 runs are made and the first failure is reported."""
    trials = 3 if sandbox.np >= 3 else 1
    for trial in range(trials):
        left_ranks, left_tasks = sigterm_trial(sandbox, trial)
        expect_equal(left_ranks, [], f"trial {trial}: processes of the run alive 10 s after "
                                     f"SIGTERM to mpirun")
        expect_equal(left_tasks, [], f"trial {trial}: task processes alive after every rank had "
                                     f"ended (orphaned: they keep running outside the run)")


def test_sigkill_to_mpirun_leaves_no_task_running(sandbox):
    """SIGKILL to mpirun's process group (as a batch system ending a job might send) while 4
    tasks run that would sleep 30 s. Open MPI's ranks notice their launcher is gone and exit
    (status 195) within about a second. Proves: every rank ends within 10 s, their tasks end too
    (none keeps running unsupervised, to be run a second time, concurrently, by the resume),
    and the resume then finishes every task exactly once."""
    tasks = 4
    manifest = sleepers(sandbox, tasks, 30)
    run_dir = sandbox.path / "run"
    busy = min(tasks, 2 * max(1, sandbox.np - 1))
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "2", manifest) as bg:
        try:
            wait_for(lambda: started_count(sandbox) >= busy, 60, f"{busy} tasks started")
            time.sleep(0.2)
            ranks = bg.descendants()
            os.killpg(bg.pid, signal.SIGKILL)
            bg.wait(limit_s=10)
            left_ranks = wait_until_dead(ranks - set(process_group_members(
                read_pids(sandbox.path / "pids"))), limit_s=10)
            left_tasks = wait_until_groups_gone(read_pids(sandbox.path / "pids"), limit_s=3)
            bg.as_run(run_dir)
        finally:
            kill_process_groups(read_pids(sandbox.path / "pids"))
    expect_equal(left_ranks, [], "ranks alive 10 s after SIGKILL to mpirun")
    expect_equal(left_tasks, [], "task processes still running after their ranks had ended")
    finish_by_resuming(sandbox, run_dir, manifest, tasks)


if __name__ == "__main__":
    run_tests(globals())
