"""W1, W2, W3, W5 and W7: the same tasks run to completion by jobrunner and its peers.

Each contender runs `repeat` times (the slow peers once), interleaved with the others
(A B C A B C ...) so that a change in the machine's load hits all of them alike; its row shows
the run with the median wall time.
"""

import json
import os
import shutil
from dataclasses import dataclass
from typing import Callable

import measure
import report
import systems
from systems import write_argfile, write_manifest


@dataclass
class Contender:
    system: str
    argv: Callable[[], list]  # called once per run: each run gets a fresh run directory
    timeout_s: float
    env: dict = None
    # Called after each run: returns notes and numbers learned from its output (into m.extra).
    inspect: Callable = None
    reference: bool = False
    unavailable: str = ""
    runs_tasks: bool = True  # False for a baseline that runs none (no tasks/s, no ratio)
    # False: run once whatever --repeat says. For the slow peers, whose gap to jobrunner is far
    # larger than the run-to-run noise, repeats would only cost minutes.
    repeats: bool = True
    tasks: int = None  # when it runs fewer tasks than the workload's count


class Bench:
    """What every workload needs: sizes, the systems, a scratch directory, the output lists."""

    def __init__(self, config, systems_, tmp, log):
        self.config = config
        self.systems = systems_
        self.tmp = tmp
        self.log = log
        self.rows = []
        self.targets = []
        self._counter = 0

    def path(self, name):
        self._counter += 1
        return os.path.join(self.tmp, f"{self._counter:04d}-{name}")

    def compare(self, workload, group, tasks, contenders, repeat=None):
        """Runs the contenders, appends one row each; returns {system: chosen Measurement}.
        `repeat` runs each (default: --repeat)."""
        repeat = repeat or self.config.repeat
        runs = {c.system: [] for c in contenders}
        for attempt in range(repeat):
            for c in contenders:
                if c.unavailable or (attempt > 0 and not c.repeats):
                    continue
                runs_of_c = repeat if c.repeats else 1
                self.log(f"{workload}: {c.system} (run {attempt + 1}/{runs_of_c})")
                m = measure.run(c.argv(), c.timeout_s, env=c.env)
                if m.ok and c.inspect:
                    m.extra = c.inspect(m)
                runs[c.system].append(m)
                if not m.ok:
                    self.log(f"  failed: {m.problem()}")
        chosen = {}
        for c in contenders:
            if c.unavailable:
                self.rows.append(report.unavailable(workload, c.system, c.unavailable))
                continue
            ok = [m for m in runs[c.system] if m.ok]
            m = _median(ok) if ok else runs[c.system][0]
            chosen[c.system] = m
            notes = [m.extra.get("note", "")]
            if len(ok) > 1:
                walls = sorted(x.wall_s for x in ok)
                notes.append(f"median of {len(ok)} (wall {walls[0]:.2f}–{walls[-1]:.2f} s)")
            note = "; ".join(n for n in notes if n)
            if c.runs_tasks:
                row = report.row_from(m, workload, c.system, c.tasks or tasks, note, group,
                                      c.reference)
            else:
                row = report.row_from(m, workload, c.system, note=note)
            self.rows.append(row)
        return chosen

    # --- contenders that recur ---------------------------------------------------------------

    def jobrunner(self, ranks, manifest, tasks, *flags, reference=False, label=""):
        """jobrunner under mpirun -n `ranks`; ranks 0: started alone, in local mode (no MPI)."""
        def argv():
            if ranks == 0:
                return self.systems.jobrunner_local(manifest, self.path("run"), *flags)
            return self.systems.jobrunner(ranks, manifest, self.path("run"), *flags)

        def inspect(m):
            out = systems.out_dir_of(m.argv)
            extra = _describe_spans(systems.jobrunner_attempts(out), tasks, m, "results.jsonl")
            retired = (systems.jobrunner_summary(out) or {}).get("retired_workers")
            if retired:
                extra["note"] += f"; retired worker rank(s) {retired} (--max-worker-failures)"
            shutil.rmtree(out, ignore_errors=True)  # 10^4 results each: keep /tmp small
            return extra

        name = (f"jobrunner -n {ranks}" if ranks else "jobrunner (local mode)") + (
            f" {label}" if label else "")
        return Contender(name, argv, 30 + tasks * 0.01, inspect=inspect, reference=reference)

    def parallel(self, command, tasks, argfile):
        def argv():
            return self.systems.parallel(argfile, command, self.path("joblog"))

        def inspect(m):
            return _describe_spans(systems.parallel_attempts(m.argv[m.argv.index("--joblog") + 1]),
                                   tasks, m, "joblog")

        return Contender("GNU parallel -j2", argv, 60 + tasks * 0.05, inspect=inspect,
                         unavailable=self.systems.missing_reason("parallel"), repeats=False)

    def spawn_ref(self, command, tasks):
        return Contender("C reference (posix_spawn, K=2)",
                         lambda: self.systems.spawn_ref(2, tasks, command), 30 + tasks * 0.01)


def _median(measurements):
    ordered = sorted(measurements, key=lambda m: m.wall_s)
    return ordered[(len(ordered) - 1) // 2]


def _describe_spans(spans, tasks, m, source):
    """Notes from per-attempt start/end times: the in-run span and the start-up before it."""
    if not spans:
        return {"note": f"no attempt times in {source}"}
    first = min(s for s, _ in spans)
    last = max(e for _, e in spans)
    span = max(last - first, 1e-3)
    startup = first - m.start_epoch
    note = (f"in-run {tasks / span:,.0f} tasks/s over {span:.2f} s (first start → last end); "
            f"first task {startup:.2f} s after launch")
    return {"note": note, "span_s": span, "startup_s": startup}


def _script_inspect(tasks):
    def inspect(m):
        span = systems.script_span(m.stdout)
        if not span:
            return {}
        return {"note": f"in-run {tasks / span:,.0f} tasks/s over {span:.2f} s (first submit → "
                        f"last result)", "span_s": span}
    return inspect


def _rate(m, tasks):
    return tasks / m.wall_s if m and m.ok and m.wall_s > 0 else None


def _in_run_rate(m, tasks):
    return tasks / m.extra["span_s"] if m and m.ok and m.extra.get("span_s") else None


# --- W1 ---------------------------------------------------------------------------------------


def probe_kinds(bench):
    """Whether this jobrunner accepts in-process task kinds: '' if so, else why not."""
    manifest = bench.path("kind-probe.yaml")
    with open(manifest, "w") as f:
        f.write("version: 1\ntasks:\n  - id: t-{n}\n    kind: noop\n"
                "    matrix:\n      n: {range: [0, 10]}\n")
    m = measure.run(bench.systems.jobrunner_check(manifest), 30)
    if m.ok:
        return ""
    return f"task kinds not implemented (--check on `kind: noop`: {m.stderr.strip()[-120:]})"


def w1_noop(bench, kinds_missing):
    if kinds_missing:
        bench.rows.append(report.unavailable("W1 in-process noop", "jobrunner -n 3",
                                             kinds_missing))
        return
    tasks = bench.config.tasks * 10
    manifest = bench.path("w1.yaml")
    with open(manifest, "w") as f:
        f.write("version: 1\ntasks:\n  - id: t-{n}\n    kind: noop\n"
                f"    matrix:\n      n: {{range: [0, {tasks}]}}\n")
    s = bench.systems
    # The peers run a Python function that does nothing, one task per message (chunksize 1),
    # with fewer tasks: at their rate the full count would take minutes.
    peer_tasks = max(1000, tasks // 20)
    chosen = bench.compare(f"W1 noop ×{tasks:,} (peers ×{peer_tasks:,})", "W1", tasks, [
        bench.jobrunner(3, manifest, tasks, reference=True),
        bench.jobrunner(1, manifest, tasks),
        Contender("mpi4py.futures (2 workers, chunksize 1)",
                  lambda: s.mpi4py(peer_tasks, ["--noop"]), 60 + peer_tasks * 0.01,
                  env=systems.MPI_ENV, inspect=_script_inspect(peer_tasks),
                  unavailable=s.missing_reason("python3-mpi4py"), repeats=False,
                  tasks=peer_tasks),
        Contender("Dask LocalCluster (2 procs × 1 thread)", lambda: s.dask(peer_tasks, ["--noop"]),
                  120 + peer_tasks * 0.02, inspect=_script_inspect(peer_tasks),
                  unavailable=s.missing_reason("python3-distributed"), repeats=False,
                  tasks=peer_tasks),
    ])
    jr_rate = _rate(chosen.get("jobrunner -n 3"), tasks)
    if jr_rate:
        bench.targets.append(report.Target(
            "W1: jobrunner -n 3 ≥ 100,000 no-op tasks/s end to end",
            f"{jr_rate:,.0f} tasks/s", jr_rate >= 100_000))
    # The peers run fewer tasks, so their launch cost weighs more in their end-to-end rate: the
    # target compares rates between the first task's start and the last one's end, where launch
    # and tear-down (the same mpirun for jobrunner and mpi4py) count for neither side.
    jr = chosen.get("jobrunner -n 3")
    jr_in_run = _in_run_rate(jr, tasks)
    for peer in ("mpi4py.futures (2 workers, chunksize 1)", "Dask LocalCluster (2 procs × 1 thread)"):
        p = chosen.get(peer)
        peer_in_run, peer_rate = _in_run_rate(p, peer_tasks), _rate(p, peer_tasks)
        if jr_in_run and peer_in_run:
            measured = (f"{jr_in_run / peer_in_run:,.0f}× in-run ({jr_in_run:,.0f} vs "
                        f"{peer_in_run:,.0f} tasks/s)")
            if jr_rate and peer_rate:
                measured += f"; {jr_rate / peer_rate:,.0f}× end to end at their task counts"
            bench.targets.append(report.Target(
                f"W1: jobrunner -n 3 ≥ 50× {peer}", measured, jr_in_run >= 50 * peer_in_run))


# --- W2 ---------------------------------------------------------------------------------------

MPI_ALONE = "Open MPI alone: mpirun -n 3 of MPI_Init + MPI_Finalize (bench/mpi_hello.c)"


def w2_true(bench):
    tasks = bench.config.tasks
    command = ["/bin/true"]
    manifest = write_manifest(bench.path("w2.yaml"), command, tasks)
    argfile = write_argfile(bench.path("w2.args"), tasks)
    s = bench.systems
    chosen = bench.compare(f"W2 /bin/true ×{tasks:,}", "W2", tasks, [
        bench.jobrunner(3, manifest, tasks, reference=True),
        bench.jobrunner(1, manifest, tasks),
        bench.spawn_ref(command, tasks),
        Contender("xargs -P2", lambda: s.xargs(argfile, command), 30 + tasks * 0.01),
        bench.parallel(command, tasks, argfile),
        Contender("mpi4py.futures (2 workers, chunksize 1)", lambda: s.mpi4py(tasks, command),
                  60 + tasks * 0.03, env=systems.MPI_ENV, inspect=_script_inspect(tasks),
                  unavailable=s.missing_reason("python3-mpi4py"), repeats=False),
        Contender("Dask LocalCluster (2 procs × 1 thread)", lambda: s.dask(tasks, command),
                  120 + tasks * 0.05, inspect=_script_inspect(tasks),
                  unavailable=s.missing_reason("python3-distributed"), repeats=False),
        Contender(MPI_ALONE, s.mpi_hello, 60, runs_tasks=False),
    ])
    _spawn_targets(bench, chosen, tasks, chosen.get(MPI_ALONE))
    jr_rate = _rate(chosen.get("jobrunner -n 3"), tasks)
    for peer in ("GNU parallel -j2", "xargs -P2"):
        peer_rate = _rate(chosen.get(peer), tasks)
        if jr_rate and peer_rate:
            bench.targets.append(report.Target(
                f"W2: jobrunner -n 3 faster than {peer}",
                f"{jr_rate:,.0f} vs {peer_rate:,.0f} tasks/s", jr_rate > peer_rate))
    if bench.config.w2_long > tasks:
        w2_long(bench, command, chosen.get(MPI_ALONE))


def w2_long(bench, command, hello):
    """The same tasks ×w2_long: Open MPI's fixed start-up (a third of a second) weighs little
    here, as in the long runs users make. Only jobrunner and the C reference, once each: at
    this length the run-to-run noise is small."""
    tasks = bench.config.w2_long
    manifest = write_manifest(bench.path("w2-long.yaml"), command, tasks)
    contenders = [bench.jobrunner(3, manifest, tasks, reference=True),
                  bench.jobrunner(1, manifest, tasks), bench.spawn_ref(command, tasks)]
    for c in contenders:
        c.repeats = False
    chosen = bench.compare(f"W2 /bin/true ×{tasks:,} (long run)", "W2-long", tasks, contenders)
    _spawn_targets(bench, chosen, tasks, hello, label=f" at ×{tasks:,}")


def _spawn_targets(bench, chosen, tasks, hello, label=""):
    """W2's target: each jobrunner row against the C reference, end to end, without Open MPI's
    fixed cost (the `mpi_hello` row), and in-run."""
    ref_rate = _rate(chosen.get("C reference (posix_spawn, K=2)"), tasks)
    for ranks in (3, 1):
        jr = chosen.get(f"jobrunner -n {ranks}")
        rate, in_run = _rate(jr, tasks), _in_run_rate(jr, tasks)
        if not (rate and ref_rate):
            continue
        measured = f"{rate / ref_rate:.0%} end to end ({rate:,.0f} vs {ref_rate:,.0f}/s)"
        if hello and hello.ok and jr.wall_s > hello.wall_s:
            without = tasks / (jr.wall_s - hello.wall_s)
            measured += f"; {without / ref_rate:.0%} without Open MPI's start-up and tear-down"
        if in_run:
            measured += f"; in-run (first start → last end) {in_run / ref_rate:.0%}"
        bench.targets.append(report.Target(
            f"W2: jobrunner -n {ranks} ≥ 90% of the C reference's tasks/s{label}", measured,
            rate >= 0.9 * ref_rate))


# --- W3 ---------------------------------------------------------------------------------------

W3_DURATIONS = [("1ms", 0.001), ("10ms", 0.01), ("100ms", 0.1), ("1s", 1.0)]
W3_TARGETS = {"10ms": 1.05, "100ms": 1.01}


def w3_sleep(bench, kinds_missing):
    for label, seconds in W3_DURATIONS:
        # An even number of tasks whose ideal makespan on 2 slots, tasks / 2 × d, is about span_s.
        per_slot = max(1, round(bench.config.span_s / seconds))
        tasks, ideal = 2 * per_slot, per_slot * seconds
        command = ["sleep", f"{seconds:g}"]
        manifest = write_manifest(bench.path(f"w3-{label}.yaml"), command, tasks)
        argfile = write_argfile(bench.path(f"w3-{label}.args"), tasks)
        contenders = [bench.jobrunner(3, manifest, tasks, reference=True),
                      bench.spawn_ref(command, tasks),
                      bench.parallel(command, tasks, argfile)]
        for c in contenders:
            c.timeout_s += ideal * 3
        workload = f"W3 sleep {label} ×{tasks:,} (ideal {ideal:.2f} s)"
        before = len(bench.rows)
        chosen = bench.compare(workload, f"W3 {label}", tasks, contenders)
        efficiency = {}  # system -> makespan / ideal
        for row, c in zip(bench.rows[before:], contenders):
            m = chosen.get(c.system)
            if m and m.ok:
                span = m.extra.get("span_s") or m.wall_s  # spawn_ref: no per-task times
                efficiency[c.system] = span / ideal
                row.note = "; ".join(n for n in [
                    f"makespan/ideal {span / ideal:.3f} (wall/ideal {m.wall_s / ideal:.3f})",
                    row.note] if n)
        jobrunner, floor = contenders[0].system, contenders[1].system
        if label in W3_TARGETS and jobrunner in efficiency:
            measured = f"{efficiency[jobrunner]:.3f} (first start → last end)"
            if floor in efficiency:
                measured += f"; C reference {efficiency[floor]:.3f}"
            bench.targets.append(report.Target(
                f"W3: jobrunner makespan/ideal ≤ {W3_TARGETS[label]} at {label} (process tasks)",
                measured, efficiency[jobrunner] <= W3_TARGETS[label]))
        if kinds_missing:
            continue
        # The same sleeps in-process (`kind: sleep`): no process per task.
        kind_manifest = bench.path(f"w3-{label}-kind.yaml")
        with open(kind_manifest, "w") as f:
            f.write("version: 1\ntasks:\n  - id: t-{n}\n    kind: sleep\n"
                    f"    args: {{duration: {label}}}\n"
                    f"    matrix:\n      n: {{range: [0, {tasks}]}}\n")
        in_process = bench.jobrunner(3, kind_manifest, tasks, label="(kind: sleep)")
        in_process.timeout_s += ideal * 3
        before = len(bench.rows)
        chosen = bench.compare(f"W3 kind: sleep {label} ×{tasks:,} (ideal {ideal:.2f} s)",
                               f"W3 {label} in-process", tasks, [in_process])
        m = chosen.get(in_process.system)
        if m and m.ok:
            span = m.extra.get("span_s") or m.wall_s
            for row in bench.rows[before:]:
                row.note = "; ".join(n for n in [
                    f"makespan/ideal {span / ideal:.3f} (wall/ideal {m.wall_s / ideal:.3f})",
                    row.note] if n)
    if kinds_missing:
        bench.rows.append(report.unavailable("W3 in-process sleep (`kind: sleep`)",
                                             "jobrunner -n 3", kinds_missing))


# --- W5 ---------------------------------------------------------------------------------------

# Fails attempt 1 of every task whose index n has n % 100 < FAIL: FAIL=1 fails 1% of the tasks
# once, FAIL=0 none, for the same shell work.
FLAKY = "[ {attempt} -gt 1 ] || [ $(( {n} % 100 )) -ge FAIL ] || exit 1"


def w5_overheads(bench):
    tasks = bench.config.tasks
    manifest = write_manifest(bench.path("w5.yaml"), ["/bin/true"], tasks)
    chosen = bench.compare(f"W5 journal, /bin/true ×{tasks:,}", "W5 journal", tasks, [
        bench.jobrunner(3, manifest, tasks, reference=True, label="(journal)"),
        bench.jobrunner(3, manifest, tasks, "--no-journal", label="--no-journal")])
    _overhead_target(bench, chosen, "jobrunner -n 3 (journal)", "jobrunner -n 3 --no-journal",
                     "W5: cost of the journal (journal vs --no-journal)")

    none = write_manifest(bench.path("w5-none.yaml"), ["sh", "-c", FLAKY.replace("FAIL", "0")],
                          tasks, retries=1)
    some = write_manifest(bench.path("w5-1pct.yaml"), ["sh", "-c", FLAKY.replace("FAIL", "1")],
                          tasks, retries=1)
    # Every failing task fails on whichever worker runs attempt 1, so each worker soon "has"
    # --max-worker-failures tasks that failed there and succeeded elsewhere, and one of them is
    # retired; the third row turns that off to show the cost of the retries alone.
    chosen = bench.compare(f"W5 retries, sh -c ×{tasks:,}", "W5 retries", tasks, [
        bench.jobrunner(3, none, tasks, "--retry-backoff", "0s", reference=True,
                        label="0% failing"),
        bench.jobrunner(3, some, tasks, "--retry-backoff", "0s", label="1% failing once"),
        bench.jobrunner(3, some, tasks, "--retry-backoff", "0s", "--max-worker-failures", "0",
                        label="1% failing once, --max-worker-failures 0")])
    for label in ("1% failing once", "1% failing once, --max-worker-failures 0"):
        _overhead_target(bench, chosen, f"jobrunner -n 3 {label}", "jobrunner -n 3 0% failing",
                         f"W5: cost of {label} (retries 1, --retry-backoff 0s)")


def _overhead_target(bench, chosen, slow, fast, name):
    a, b = chosen.get(slow), chosen.get(fast)
    if not (a and b and a.ok and b.ok):
        bench.targets.append(report.Target(name, "a run failed"))
        return
    text = f"{(a.wall_s / b.wall_s - 1) * 100:+.1f}% wall"
    if a.extra.get("span_s") and b.extra.get("span_s"):
        text += f", {(a.extra['span_s'] / b.extra['span_s'] - 1) * 100:+.1f}% in-run span"
    bench.targets.append(report.Target(name + " (reported, no target)", text))
    for row in bench.rows:
        if row.system == slow and row.group.startswith("W5"):
            row.note = f"overhead {text}; " + row.note


# --- W7 ---------------------------------------------------------------------------------------

PY_CHUNK_1 = "mpi4py.futures (2 workers, chunksize 1)"
PY_CHUNK_64 = "mpi4py.futures (2 workers, chunksize 64)"
PY_JOBLIB = "joblib Parallel(n_jobs=2)"
PY_NOOP = "import sys; sys.path.insert(0, {dir!r}); import py_tasks; py_tasks.noop()"


def write_python_manifest(path, count):
    """`count` calls of bench/py_tasks.py's noop() as `kind: python` tasks."""
    with open(path, "w") as f:
        f.write("version: 1\n")
        f.write(f"python: {{path: [{json.dumps(systems.BENCH_DIR)}]}}\n")
        f.write("tasks:\n  - id: t-{n}\n    kind: python\n")
        f.write('    args: {function: "py_tasks:noop"}\n')
        f.write(f"    matrix:\n      n: {{range: [0, {count}]}}\n")
    return path


def w7_python(bench):
    """Python functions: jobrunner's warm interpreters against the Python pools people use, every
    system timed as a whole command (interpreter and MPI start-up included, as a user waits for
    them). The target compares jobrunner at `python_calls` with the peers at the issue's 20,000
    calls; the peers also run `python_calls` calls, so that both sides of the same work show.
    Then the same function as a command."""
    calls = bench.config.python_calls
    peer_calls = min(calls, bench.config.python_peer_calls)
    manifest = write_python_manifest(bench.path("w7.yaml"), calls)
    s = bench.systems
    no_mpi4py = s.missing_reason("python3-mpi4py")

    def peers(n):
        label = f" ×{n:,}"
        return [
            Contender(PY_CHUNK_1 + label, lambda: s.mpi4py(n, ["--noop"]), 120 + n * 0.01,
                      env=systems.MPI_ENV, inspect=_script_inspect(n), unavailable=no_mpi4py,
                      repeats=False, tasks=n),
            Contender(PY_CHUNK_64 + label, lambda: s.mpi4py(n, ["--noop"], chunksize=64),
                      60 + n * 0.002, env=systems.MPI_ENV, inspect=_script_inspect(n),
                      unavailable=no_mpi4py, tasks=n),
            Contender(PY_JOBLIB + label, lambda: s.joblib(n), 60 + n * 0.002,
                      inspect=_script_inspect(n), unavailable=s.missing_reason("python3-joblib"),
                      tasks=n),
        ]

    at_issue_count = peers(peer_calls)
    same_count = peers(calls) if calls != peer_calls else []
    for peer in same_count:
        if peer.system.startswith(PY_CHUNK_1):
            peer.unavailable = peer.unavailable or "its rate does not depend on the count"
    chosen = bench.compare(f"W7 Python no-op ×{calls:,} (peers ×{peer_calls:,} and ×{calls:,})",
                           "W7", calls, [
        bench.jobrunner(3, manifest, calls, reference=True, label="kind: python"),
        bench.jobrunner(1, manifest, calls, label="kind: python"),
        *at_issue_count, *same_count,
    ])
    jr_rate = _rate(chosen.get("jobrunner -n 3 kind: python"), calls)
    if jr_rate:
        bench.targets.append(report.Target(
            "W7: jobrunner -n 3 kind: python ≥ 40,000 calls/s end to end (whole command)",
            f"{jr_rate:,.0f} calls/s", jr_rate >= 40_000))
    for peer in at_issue_count + same_count:
        peer_rate = _rate(chosen.get(peer.system), peer.tasks)
        if not (jr_rate and peer_rate):
            continue
        target = peer in at_issue_count
        bench.targets.append(report.Target(
            f"W7: jobrunner -n 3 kind: python ×{calls:,} ahead of {peer.system} (whole command)"
            + ("" if target else " (reported: the same count of calls)"),
            f"{jr_rate:,.0f} vs {peer_rate:,.0f} calls/s ({jr_rate / peer_rate:.1f}×)",
            jr_rate > peer_rate if target else None))

    commands = bench.config.python_commands
    command = [systems.DEBIAN_PYTHON, "-c", PY_NOOP.format(dir=systems.BENCH_DIR)]
    command_manifest = write_manifest(bench.path("w7-command.yaml"), command, commands)
    contender = bench.jobrunner(3, command_manifest, commands, label="command: python3 -c")
    contender.repeats = False
    contender.timeout_s = 60 + commands * 0.1  # an interpreter start per task, on 2 slots
    chosen_command = bench.compare(f"W7 the same call as `command: python3 -c` ×{commands:,}",
                                   "W7", commands, [contender])
    command_rate = _rate(chosen_command.get(contender.system), commands)
    if jr_rate and command_rate:
        bench.targets.append(report.Target(
            "W7: kind: python ≥ 20× faster per task than command: python3 -c (jobrunner -n 3)",
            f"{1e6 / jr_rate:,.0f} µs vs {1e6 / command_rate:,.0f} µs per task "
            f"({jr_rate / command_rate:,.0f}×)", jr_rate >= 20 * command_rate))


# --- W8 ---------------------------------------------------------------------------------------

W8_RUNS = 10
W8_TARGET_S = 0.050
W8_FIRST_TASK_TARGET_S = 0.020


def w8_one_task(bench):
    """One /bin/true, launch to exit: what a user waits for when a tool is started for a little
    work. Local mode (no MPI), mpirun -n 1, xargs, GNU parallel and the C reference, W8_RUNS runs
    each whatever --repeat says, interleaved; the median is shown."""
    command = ["/bin/true"]
    manifest = write_manifest(bench.path("w8.yaml"), command, 1)
    argfile = write_argfile(bench.path("w8.args"), 1)
    s = bench.systems
    local = bench.jobrunner(0, manifest, 1, reference=True)
    parallel = bench.parallel(command, 1, argfile)
    parallel.repeats = True  # one task: ten runs cost seconds
    chosen = bench.compare("W8 one /bin/true, launch to exit", "W8", 1, [
        local,
        bench.jobrunner(1, manifest, 1),
        Contender("xargs -P2", lambda: s.xargs(argfile, command), 30),
        parallel,
        bench.spawn_ref(command, 1),
    ], repeat=W8_RUNS)
    m = chosen.get(local.system)
    if not (m and m.ok):
        bench.targets.append(report.Target("W8: a one-task run in local mode", "the run failed"))
        return
    bench.targets.append(report.Target(
        f"W8: jobrunner (local mode) runs one task, launch to exit, in < {W8_TARGET_S * 1000:.0f} ms "
        f"(median of {W8_RUNS})", f"{m.wall_s * 1000:.1f} ms", m.wall_s < W8_TARGET_S))
    first = m.extra.get("startup_s")
    if first is not None:
        bench.targets.append(report.Target(
            f"W8: its first task starts < {W8_FIRST_TASK_TARGET_S * 1000:.0f} ms after launch "
            "(the median run)", f"{first * 1000:.0f} ms (results.jsonl's start, 1 ms resolution)",
            first < W8_FIRST_TASK_TARGET_S))
