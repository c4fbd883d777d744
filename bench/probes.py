"""W4 and W6: measurements taken inside a running MPI job through /proc.

W4 watches rank 0 from launch to its first task; W6 samples each rank's CPU time while every
task sleeps.
"""

import os
import signal
import time

import measure
import report
import systems
from systems import write_manifest


# --- W4 ---------------------------------------------------------------------------------------


def w4_scale(bench):
    at_largest = None
    for exponent in range(4, bench.config.scale_max + 1):
        tasks = 10 ** exponent
        workload = f"W4 scale 10^{exponent} tasks"
        manifest = write_manifest(bench.path(f"w4-{exponent}.yaml"), ["/bin/true"], tasks)

        bench.log(f"{workload}: jobrunner --check")
        m = measure.run(bench.systems.jobrunner_check(manifest), 60 + tasks * 1e-5)
        bench.rows.append(report.row_from(
            m, workload, "jobrunner --check", tasks,
            "parse + id-uniqueness check, no MPI; tasks/s = ids checked per second"))

        bench.log(f"{workload}: jobrunner -n 2 until the first task")
        first = _first_task(bench, workload, manifest, tasks)
        bench.rows.append(first["row"])
        at_largest = (exponent, first)

    if at_largest:
        exponent, first = at_largest
        where = f"at 10^{exponent}" + (" (10^7 needs default sizes)" if exponent < 7 else "")
        rss, delay = first.get("rss_mb"), first.get("first_task_s")
        bench.targets.append(report.Target(
            "W4: rank 0 peak RSS < 200 MB at 10^7 tasks",
            f"{rss:.0f} MB {where}" if rss else "not measured",
            rss < 200 if rss and exponent >= 7 else None))
        bench.targets.append(report.Target(
            "W4: first task within 1 s of launch at 10^7 tasks",
            f"{delay:.2f} s {where}" if delay is not None else "not measured",
            delay <= 1.0 if delay is not None and exponent >= 7 else None))
    w4_command_list(bench)


def w4_command_list(bench):
    """A command list of 10^scale_max lines (about 29 bytes each, 290 MB at 10^7), given as it
    is: rank 0 reads it once, copies it into the run directory and indexes it."""
    exponent = bench.config.scale_max
    lines = 10 ** exponent
    workload = f"W4 command list of 10^{exponent} lines"
    path = bench.path(f"w4-list-{exponent}.txt")
    with open(path, "w") as f:
        step = 100_000
        for start in range(0, lines, step):
            f.write("".join(f"echo task {i:07d} >/dev/null\n"
                            for i in range(start, min(lines, start + step))))
    bench.log(f"{workload}: jobrunner -n 2 until the first task")
    first = _first_task(bench, workload, path, lines)
    bench.rows.append(first["row"])
    where = f"at 10^{exponent}" + (" (10^7 needs default sizes)" if exponent < 7 else "")
    rss, delay = first.get("rss_mb"), first.get("first_task_s")
    bench.targets.append(report.Target(
        "W4: a command list of 10^7 lines: first task within 1 s of launch, rank 0 < 200 MB",
        f"{delay:.2f} s, {rss:.0f} MB {where}" if delay is not None and rss else "not measured",
        delay <= 1.0 and rss < 200 if delay is not None and rss and exponent >= 7 else None))


def _first_task(bench, workload, manifest, tasks):
    """Launches jobrunner -n 2, waits for the first result, drains the run with SIGUSR1.
    Rank 0's VmHWM is sampled all along (it only grows, so the last sample is its peak)."""
    system = "jobrunner -n 2: launch → first task"
    out = bench.path("run")
    argv = bench.systems.jobrunner(2, manifest, out, "--drain-grace", "0s")
    running = measure.Running(argv, 120 + tasks * 2e-5)
    results = os.path.join(out, "results.jsonl")
    rank0 = measure.wait_for(lambda: measure.mpi_ranks(running.command_pid).get(0), 30)
    rss = cpu_at_first = None
    deadline = time.monotonic() + running.timeout_s
    while rank0 and time.monotonic() < deadline and running.alive():
        rss = measure.peak_rss_mb(rank0) or rss
        if os.path.exists(results) and os.path.getsize(results) > 0:
            cpu_at_first = measure.cpu_seconds(rank0)
            break
        time.sleep(0.02)
    running.signal(signal.SIGUSR1)  # drain: no new task starts, the run exits with status 4
    while rank0 and running.alive():
        rss = measure.peak_rss_mb(rank0) or rss
        time.sleep(0.02)
    m = running.wait()
    spans = systems.jobrunner_attempts(out)
    if m.returncode not in (0, 4) or m.timed_out or not spans:
        why = m.problem() or "no attempt in results.jsonl"
        return {"row": report.Row(workload, system, note=f"failed: {why}")}
    first_task_s = min(start for start, _ in spans) - m.start_epoch
    row = report.Row(workload, system, wall_s=first_task_s, cpu_s=cpu_at_first, rss_mb=rss,
                     note=f"wall = launch → first task's start (results.jsonl); CPU s = rank 0's "
                          f"by the first result; RSS = rank 0's VmHWM; then drained "
                          f"(whole run {m.wall_s:.2f} s)")
    return {"row": row, "rss_mb": rss, "first_task_s": first_task_s}


# --- W6 ---------------------------------------------------------------------------------------


def w6_idle(bench):
    seconds = bench.config.idle_s
    workload = f"W6 idle CPU, 2 × sleep {seconds:g}"
    command = ["sleep", f"{seconds:g}"]
    manifest = write_manifest(bench.path("w6.yaml"), command, 2)
    # The same sleeps as Python calls (time.sleep in the workers' interpreters), so that the
    # ranks' own cost while `kind: python` work runs is measured too.
    python_manifest = bench.path("w6-python.yaml")
    with open(python_manifest, "w") as f:
        f.write("version: 1\ntasks:\n  - id: t-{n}\n    kind: python\n"
                f'    args: {{function: "time:sleep", args: [{seconds:g}]}}\n'
                "    matrix:\n      n: {range: [0, 2]}\n")
    s = bench.systems
    contenders = [
        ("jobrunner -n 3", lambda: s.jobrunner(3, manifest, bench.path("run")), None, True),
        ("jobrunner -n 3 kind: python",
         lambda: s.jobrunner(3, python_manifest, bench.path("run")), None, True),
        ("mpi4py.futures (2 workers)", lambda: s.mpi4py(2, command), systems.MPI_ENV, False),
    ]
    for system, argv, env, is_jobrunner in contenders:
        if not is_jobrunner and s.missing_reason("python3-mpi4py"):
            bench.rows.append(report.unavailable(workload, system,
                                                 s.missing_reason("python3-mpi4py")))
            continue
        bench.log(f"{workload}: {system}")
        m, shares, window = _idle_shares(argv(), env, seconds)
        row = report.row_from(m, workload, system, group="W6",
                              reference=system == "jobrunner -n 3")
        if shares:
            row.note = (f"share of a core while the tasks sleep ({window:.1f} s window): "
                        + ", ".join(f"{name} {share:.2%}" for name, share in shares.items()))
        elif m.ok:
            row.note = "could not find the ranks and their sleeping tasks"
        bench.rows.append(row)
        if is_jobrunner and shares:
            worst = max((v, k) for k, v in shares.items() if k.startswith("rank"))
            what = "Python calls" if "python" in system else "tasks"
            bench.targets.append(report.Target(
                f"W6: each jobrunner rank < 2% of a core while its {what} sleep",
                ", ".join(f"{k} {v:.2%}" for k, v in shares.items() if k.startswith("rank")),
                worst[0] < 0.02))


def _idle_shares(argv, env, seconds):
    """Runs an MPI job whose 2 tasks sleep `seconds`; returns its Measurement and the share of a
    core each rank (and the launcher) used while both tasks slept."""
    running = measure.Running(argv, seconds + 90, env=env)
    ranks = measure.wait_for(lambda: _three_ranks(running.command_pid), 30)
    busy = ranks and measure.wait_for(
        lambda: sum(1 for pid in ranks.values() if measure.children(pid)) >= 2, 30)
    shares, window = {}, 0.0
    if busy:
        pids = {f"rank {r}": pid for r, pid in sorted(ranks.items())}
        pids["mpirun"] = running.command_pid
        before = {name: measure.cpu_seconds(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        # Stop sampling well before the tasks end (they started within the last few ms).
        time.sleep(max(1.0, seconds - 1.5))
        after = {name: measure.cpu_seconds(pid) for name, pid in pids.items()}
        window = time.monotonic() - t0
        shares = {name: (after[name] - before[name]) / window for name in pids
                  if before[name] is not None and after[name] is not None}
    return running.wait(), shares, window


def _three_ranks(launcher_pid):
    ranks = measure.mpi_ranks(launcher_pid)
    return ranks if len(ranks) == 3 else None
