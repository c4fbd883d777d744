"""`kind: python`: Python functions run in warm interpreters on every worker.

Covers results as JSON (numbers staying numbers) and as pickles, read back with python/jobrunner;
setup once per interpreter; an exception retried and then succeeding; a segfaulting function
whose interpreter is replaced; a timeout; --resume after kill -9 keeping every result; and
missing modules, functions and interpreters reported before anything runs. The functions are in
tests/e2e/python/tasks.py.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import REPO_ROOT, expect, expect_equal, expect_in, run_tests
from reliability import (expect_each_succeeded_exactly_once, read_all_results, resume,
                         start_jobrunner, wait_until_dead)

TASKS = Path(__file__).resolve().parent / "python"
PYTHON_PACKAGE = REPO_ROOT / "python"
HELPER_MARK = "jobrunner's Python helper"  # the first line of the helper's source, in its argv


def manifest(sandbox, tasks, name="m.yaml", extra=""):
    """A manifest whose python.path is tests/e2e/python, with `tasks` (YAML text) below tasks:."""
    text = f"version: 1\npython:\n  path: [{TASKS}]\n{extra}tasks:\n{tasks}"
    return sandbox.write(name, text)


def helpers_in(sandbox):
    """Pids of Python helpers still alive whose working directory is the sandbox. Rank 0's check
    before the run runs the same source with the argument `check`: it is no helper."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not any(HELPER_MARK in arg for arg in argv) or "check" in argv:
                continue
            if Path(os.readlink(entry / "cwd")) == sandbox.path:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def read_back(run_dir, *args):
    """`python3 -m jobrunner results RUN_DIR ARGS` with python/ on PYTHONPATH: its stdout lines."""
    env = dict(os.environ, PYTHONPATH=str(PYTHON_PACKAGE))
    out = subprocess.run([sys.executable, "-m", "jobrunner", "results", str(run_dir), *args],
                         env=env, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.splitlines()


def test_results_are_json_with_numbers_kept_or_pickled_and_read_back_in_python(sandbox):
    """A 2 x 3 matrix of fit() with alpha and seed from the matrix, plus 3 functions returning
    what JSON cannot hold. Proves: each result is in results.jsonl with alpha a float and seed an
    int, as written in the manifest (and a quoted matrix value stays a string); setup ran once
    per interpreter before the first call; the interpreters were reused (fewer pids than tasks);
    stdout went to each task's own log; the pickles are data/<task>.<attempt>.pickle, gathered by
    gather: concat, and python/jobrunner reads every value back, from Python and from
    `python3 -m jobrunner results`."""
    m = manifest(sandbox, """\
          - id: fit-{alpha}-{seed}
            kind: python
            args: {function: "tasks:fit", kwargs: {alpha: "{alpha}", seed: "{seed}"}}
            matrix: {alpha: [0.1, 1.5], seed: {range: [0, 3]}}
          - id: quoted
            kind: python
            args: {function: "tasks:fit", args: ["{v}", 2], kwargs: {scale: 3}}
            matrix: {v: ["7"]}
          - id: shapes-{n}
            kind: python
            args: {function: "tasks:shapes", args: ["{n}"]}
            matrix: {n: [1, 2, 3]}
            gather: concat
        """, extra="  setup: tasks:init\n")
    run = sandbox.run(m, "--slots", "2")
    expect_equal(run.rc, 0, "exit status")
    pids = set()
    for alpha in (0.1, 1.5):
        for seed in range(3):
            a = run.only_attempt(f"fit-{alpha}-{seed}")
            expect_equal(a["outcome"], "succeeded", f"fit-{alpha}-{seed}")
            result = a["result"]
            expect_equal((result["alpha"], result["seed"]), (alpha, seed), "arguments")
            expect_equal(result["types"], ["float", "int"], "argument types")
            expect_equal(result["setups"], 1, "setup calls in this interpreter")
            expect_equal(run.output(a, "stdout").decode(), f"fitting alpha={alpha} seed={seed}\n",
                         "the task's stdout")
            pids.add(result["pid"])
    workers = max(1, sandbox.np - 1)
    expect(len(pids) <= 2 * workers, f"{len(pids)} interpreters for 6 tasks on {workers} "
                                     f"worker(s) of 2 slots: not reused")
    quoted = run.only_attempt("quoted")["result"]
    expect_equal(quoted["types"], ["str", "int"], "a quoted matrix value stays a string")
    expect_equal(quoted["alpha"] * 1, "7", "the string itself")

    sys.path.insert(0, str(PYTHON_PACKAGE))
    try:
        import jobrunner
        values = {r.task: r for r in jobrunner.results(run.run_dir)}
    finally:
        sys.path.remove(str(PYTHON_PACKAGE))
    expect_equal(len(values), 10, "results read back")
    for n in (1, 2, 3):
        a = run.only_attempt(f"shapes-{n}")
        expect_equal(a["data"], f"data/shapes-{n}.1.pickle", "the pickle's path")
        expect("result" not in a, f"a pickled value has no JSON result: {a}")
        value = values[f"shapes-{n}"].value
        expect_equal(value, {"n": n, "bytes": bytes(range(n)), "set": set(range(n)),
                             "pair": (n, -n), "complex": complex(n, 1)}, "the unpickled value")
    expect_equal(values["fit-1.5-2"].value["score"], 3.0, "a JSON value read back")
    gathered = (run.run_dir / "gathered/shapes.out").read_bytes()
    sizes = sum((run.run_dir / f"data/shapes-{n}.1.pickle").stat().st_size for n in (1, 2, 3))
    expect_equal(len(gathered), sizes, "gather: concat of the pickles")
    lines = read_back(run.run_dir)
    expect_in("fit-0.1-2\tsucceeded\t{'alpha': 0.1, 'seed': 2", "\n".join(lines),
              "python3 -m jobrunner results")
    expect_in("shapes-2\tsucceeded\t{'n': 2, 'bytes': b'\\x00\\x01'", "\n".join(lines),
              "python3 -m jobrunner results, a pickled value")
    expect_equal(helpers_in(sandbox), [], "Python helpers left after the run")


def test_an_exception_fails_the_attempt_with_its_traceback_and_the_retry_succeeds(sandbox):
    """flaky() raises on attempt 1 and returns on attempt 2 (retries: 1). Proves: attempt 1 is
    failed with the exception's type and message, named on the console; its stderr log holds
    what it wrote and the traceback; attempt 2 succeeded with its result; exit status 0."""
    m = manifest(sandbox, """\
          - id: flaky
            kind: python
            retries: 1
            args: {function: "tasks:flaky", kwargs: {attempt: "{attempt}"}}
        """)
    run = sandbox.run(m, "--retry-backoff", "10ms")
    expect_equal(run.rc, 0, "exit status")
    first, second = run.attempts_of("flaky")
    expect_equal(first["outcome"], "failed", "attempt 1")
    expect_equal(first["error"], "RuntimeError: attempt 1 is meant to fail (traceback in the "
                                 "task's stderr log)", "attempt 1's error")
    log = run.output(first, "stderr").decode()
    expect_in("about to fail\n", log, "what the function wrote to stderr")
    expect_in("Traceback (most recent call last):", log, "the traceback")
    expect_in('tasks.py", line', log, "the traceback's frame in the user's module")
    expect_in("task flaky attempt 1 on rank", run.stderr, "the console")
    expect_in("failed: RuntimeError: attempt 1 is meant to fail", run.stderr, "the console")
    expect_equal((second["outcome"], second["result"]), ("succeeded", "attempt 2 worked"),
                 "attempt 2")


def test_a_segfault_costs_its_attempt_and_a_new_interpreter_runs_the_rest(sandbox):
    """30 calls of crash(n, bad=7) on 1 slot per worker: n = 7 segfaults its interpreter.
    Proves: that attempt is signaled (11) with an error saying the interpreter died, and its
    stderr log holds the Python stack of the crash; the 29 others succeed; the worker rank
    lives on (exit status 1 for the one failure, not a lost run); no helper is left."""
    m = manifest(sandbox, """\
          - id: crash-{n}
            kind: python
            args: {function: "tasks:crash", kwargs: {n: "{n}", bad: 7}}
            matrix: {n: {range: [0, 30]}}
        """)
    run = sandbox.run(m, "--slots", "1")
    expect_equal(run.rc, 1, "exit status (one task failed)")
    bad = run.only_attempt("crash-7")
    expect_equal((bad["outcome"], bad["signal"]), ("signaled", 11), "the segfaulting task")
    expect_equal(bad["error"], "the Python interpreter died (SIGSEGV) while running tasks:crash; "
                               "a new one takes its place", "its error")
    expect_in("Segmentation fault", run.output(bad, "stderr").decode(), "the crash's stack")
    expect_in("the Python interpreter died (SIGSEGV)", run.stderr, "the console")
    for n in range(30):
        if n != 7:
            expect_equal(run.only_attempt(f"crash-{n}")["outcome"], "succeeded", f"crash-{n}")
    expect_equal(helpers_in(sandbox), [], "Python helpers left after the run")


def test_a_call_past_its_timeout_is_stopped_and_its_interpreter_replaced(sandbox):
    """hang(60) with timeout: 1s next to quick calls. Proves: it is timed_out within seconds,
    with the stack of the stuck call (hang in tasks.py) in its stderr log; the other calls
    succeed; the run ends long before 60 s; no helper is left."""
    m = manifest(sandbox, """\
          - id: hang
            kind: python
            timeout: 1s
            args: {function: "tasks:hang", args: [60]}
          - id: quick-{n}
            kind: python
            args: {function: "tasks:pause", kwargs: {n: "{n}", seconds: 0.01}}
            matrix: {n: {range: [0, 5]}}
        """)
    run = sandbox.run(m, "--slots", "2", "--kill-grace", "1s")
    expect_equal(run.rc, 1, "exit status")
    expect(run.elapsed_s < 30, f"the run took {run.elapsed_s:.1f}s")
    hang = run.only_attempt("hang")
    expect_equal(hang["outcome"], "timed_out", "the hung call")
    expect(1 <= hang["duration_s"] < 20, f"stopped after {hang['duration_s']}s")
    expect_in('tasks.py", line', run.output(hang, "stderr").decode(), "the stuck call's stack")
    expect_in("in hang", run.output(hang, "stderr").decode(), "the stuck call's stack")
    for n in range(5):
        expect_equal(run.only_attempt(f"quick-{n}")["result"], {"n": n, "square": n * n},
                     f"quick-{n}")
    expect_equal(helpers_in(sandbox), [], "Python helpers left after the run")


def test_resume_after_kill_9_keeps_every_result(sandbox):
    """300 calls of 20 ms on 2 slots; after 60 results, SIGKILL to mpirun's process group (the
    ranks then end by themselves; the interpreters, in process groups of their own, are left to
    the orphan guard); then resumed. Proves: no interpreter outlives the killed run; after the
    resume each task succeeded exactly once, and every success line, those the first run wrote
    and those restored from its journal included, carries the task's result."""
    tasks = 300
    m = manifest(sandbox, f"""\
          - id: p-{{n}}
            kind: python
            args: {{function: "tasks:pause", kwargs: {{n: "{{n}}", seconds: 0.02}}}}
            matrix: {{n: {{range: [0, {tasks}]}}}}
        """)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "2", m, name="first") as bg:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and bg.process.poll() is None:
            bg.descendants()
            results = run_dir / "results.jsonl"
            if results.exists() and results.read_bytes().count(b"\n") >= 60:
                break
            time.sleep(0.01)
        expect(bg.process.poll() is None, "the run ended before it could be killed")
        everything = bg.descendants() | bg.known
        helpers = set(helpers_in(sandbox))
        expect(helpers, "no Python helper was running when the run was killed")
        os.killpg(bg.pid, signal.SIGKILL)
        left = wait_until_dead(everything | helpers, limit_s=20)
        expect(not left, f"processes of the killed run alive 20 s after SIGKILL: {left}")
    run = resume(sandbox, run_dir, m, "--slots", "2")
    expect_equal(run.rc, 0, "exit status of the resume")
    attempts, _ = read_all_results(run_dir)
    succeeded = expect_each_succeeded_exactly_once(attempts, tasks)
    for index, a in succeeded.items():
        expect_equal(a.get("result"), {"n": index, "square": index * index},
                     f"the result of {a['task']} ({'restored' if a.get('recovered') else 'run'})")
    expect_equal(helpers_in(sandbox), [], "Python helpers left after the resume")


def test_a_drain_kills_running_calls_and_resume_runs_them_again(sandbox):
    """6 calls of pause(n, 30 s) on 1 slot per worker, --drain-grace 300ms; SIGUSR1 once the
    interpreters run. Proves: mpirun exits 4 within seconds; the running calls are interrupted;
    no interpreter is left; and a resume with the calls made short finishes every task once."""
    def write(seconds):
        return manifest(sandbox, f"""\
              - id: p-{{n}}
                kind: python
                args: {{function: "tasks:pause", kwargs: {{n: "{{n}}", seconds: {seconds}}}}}
                matrix: {{n: {{range: [0, 6]}}}}
            """)
    m = write(30)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "1", "--drain-grace", "300ms", m,
                         name="drained") as bg:
        workers = max(1, sandbox.np - 1)
        deadline = time.monotonic() + 30
        while len(helpers_in(sandbox)) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(len(helpers_in(sandbox)) >= workers, "the interpreters never started")
        time.sleep(0.5)  # the calls are running
        bg.signal(signal.SIGUSR1)
        bg.wait(limit_s=60)
        run = bg.as_run(run_dir)
    expect_equal(run.rc, 4, "exit status after the drain")
    expect(run.elapsed_s < 25, f"the drain took {run.elapsed_s:.1f}s")
    outcomes = sorted(a["outcome"] for a in run.attempts)
    expect(outcomes and set(outcomes) == {"interrupted"}, f"outcomes: {outcomes}")
    expect_equal(helpers_in(sandbox), [], "Python helpers left after the drain")
    run = resume(sandbox, run_dir, write(0.01), "--force")  # the same tasks, made short
    expect_equal(run.rc, 0, "exit status of the resume")
    attempts, _ = read_all_results(run_dir)
    expect_each_succeeded_exactly_once(attempts, 6)


def test_a_missing_module_function_or_interpreter_is_a_clear_error_before_anything_runs(sandbox):
    """--check and a run, with a module that does not exist, a function the module lacks,
    arguments the function does not take, and an interpreter that does not exist. Proves: each
    is exit status 2 with file:line:column and the task named; the run writes no result."""
    cases = {
        "module": ('{function: "nosuch.mod:fit"}', "",
                   "m.yaml:7:22: task t: no module named 'nosuch.mod'"),
        "function": ('{function: "tasks:nosuch"}', "",
                     "m.yaml:7:22: task t: module 'tasks' has no attribute 'nosuch'"),
        "arguments": ('{function: "tasks:fit", kwargs: {alpha: 1, gama: 2}}', "",
                      "m.yaml:7:43: task t: tasks:fit(alpha, seed, scale=1): missing a required "
                      "argument: 'seed'"),
        "interpreter": ('{function: "tasks:fit"}', "  executable: /nonexistent/python3\n",
                        "m.yaml:4:15: task t is kind: python, but the interpreter cannot run: no "
                        "such file or directory: /nonexistent/python3"),
    }
    for name, (args, extra, message) in cases.items():
        m = manifest(sandbox, f"  - id: t\n    kind: python\n    args: {args}\n",
                     name=f"{name}/m.yaml", extra=extra)
        check = sandbox.run_without_mpirun("--check", str(m))
        expect_equal(check.rc, 2, f"{name}: --check's exit status")
        expect_in(message.replace("m.yaml", str(m)), check.stderr, f"{name}: --check")
        if name in ("module", "interpreter"):  # the run checks as --check does
            run = sandbox.run(m)
            expect_equal(run.rc, 2, f"{name}: the run's exit status")
            expect_in(message.replace("m.yaml", str(m)), run.stderr, f"{name}: the run")
            expect_equal(run.attempts, [], f"{name}: results")


if __name__ == "__main__":
    run_tests(globals())
