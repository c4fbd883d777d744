"""End-to-end test harness for jobrunner: runs the real binary under mpirun on real manifests.

Each test is a function named test_* that takes a Sandbox: a fresh temporary directory holding
the test's manifests, in which mpirun is started and under which every run directory lives.
Nothing is written into the repository.

    def test_something(sandbox):
        sandbox.write("manifest.yaml", "...")
        run = sandbox.run("manifest.yaml", "--retry-backoff", "10ms")
        expect_equal(run.rc, 0, "exit status")

A test file ends with `if __name__ == "__main__": run_tests(globals())` and is run as
`python3 test_file.py --np N [test_name ...]`. It prints one PASS or FAIL line per test, then
"N passed, N failed" alone on a line, and exits 1 if any test failed.

The binary is found through the environment variable JOBRUNNER_BIN, which ctest sets to
$<TARGET_FILE:jobrunner>. Every process the harness starts runs under `timeout -k 10 LIMIT`, so
nothing can hang CI; a run that reaches its limit fails the test with a message saying it hung.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIMIT_S = 60
# After `timeout` sends SIGTERM, it waits this long before SIGKILL.
KILL_AFTER_S = 10
# Exit statuses of `timeout` when it had to stop the command: SIGTERM (124) or SIGKILL (128+9).
TIMEOUT_STATUSES = (124, 137)
IS_ROOT = os.geteuid() == 0
# Open MPI refuses to run as root without both of these (mpirun has --allow-run-as-root instead,
# but a process started without mpirun reads only the environment).
ROOT_CONSENT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}

# Runs one rank and records its exit status in the directory given as $1, so a test can see how
# every rank ended, not only the one mpirun reports.
RANK_STATUS_WRAPPER = """\
status_dir=$1
shift
"$@"
status=$?
echo "$status" > "$status_dir/rank-$OMPI_COMM_WORLD_RANK"
exit "$status"
"""


class Hung(Exception):
    """A process had to be stopped by `timeout`: it did not finish within its limit."""


class Skipped(Exception):
    """Raised by a test that this machine cannot run (its message says why): reported SKIP."""


def jobrunner_binary():
    """The jobrunner binary under test, from JOBRUNNER_BIN."""
    path = os.environ.get("JOBRUNNER_BIN")
    if not path:
        raise RuntimeError("JOBRUNNER_BIN is not set; run through ctest, or set it to "
                           "build/jobrunner")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"JOBRUNNER_BIN={path} is not an executable file; build it first")
    return path


def expect(condition, message):
    """Fails the test with `message` unless `condition` holds (unlike assert, survives -O)."""
    if not condition:
        raise AssertionError(message)


def expect_equal(actual, expected, what):
    """Fails the test unless actual == expected, showing both."""
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_in(part, whole, what):
    """Fails the test unless `part` occurs in `whole`, showing both."""
    if part not in whole:
        raise AssertionError(f"{what}: expected to contain {part!r}, got {whole!r}")


@dataclass
class Run:
    """What one process (usually mpirun) did: exit status, output and, if any, its results."""

    command: list
    cwd: Path
    rc: int
    stdout: str
    stderr: str
    elapsed_s: float
    run_dir: Path = None
    attempts: list = field(default_factory=list)  # attempt lines of results.jsonl, in file order
    summary: dict = None  # the summary line's "summary" object, None without one
    rank_statuses: dict = None  # rank -> exit status, when every rank's status was recorded

    def attempts_of(self, task):
        """Every attempt of `task`, by attempt number."""
        return sorted((a for a in self.attempts if a["task"] == task), key=lambda a: a["attempt"])

    def only_attempt(self, task):
        """The single attempt of `task`; fails the test if it ran any other number of times."""
        attempts = self.attempts_of(task)
        expect_equal(len(attempts), 1, f"number of attempts of task {task!r}")
        return attempts[0]

    def output(self, attempt, stream):
        """The bytes of an attempt's "stdout" or "stderr" file, named relative to the run dir."""
        name = attempt[stream]
        expect(name is not None, f"task {attempt['task']!r} has no {stream} file: {attempt}")
        return (self.run_dir / name).read_bytes()

    def describe(self):
        """A few lines saying what ran and how it ended, for a failing test's report."""
        lines = [f"command: {shlex.join(self.command)}",
                 f"cwd: {self.cwd}",
                 f"exit status: {self.rc} after {self.elapsed_s:.1f}s"]
        if self.rc < 0:
            lines.append(f"`timeout` itself was killed by signal {-self.rc}: something outside "
                         "the test killed it")
        if self.rank_statuses is not None:
            lines.append(f"rank exit statuses: {self.rank_statuses}")
        if self.summary is not None:
            lines.append(f"summary: {json.dumps(self.summary)}")
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            tail = text.splitlines()[-20:]
            lines.append(f"{name} (last {len(tail)} lines):")
            lines.extend("  | " + line for line in tail)
        return "\n".join(lines)


def read_results(run_dir):
    """Attempt lines and the summary of run_dir/results.jsonl; ([], None) if there is none."""
    path = run_dir / "results.jsonl"
    if not path.exists():
        return [], None
    attempts, summary = [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AssertionError(f"{path}:{number} is not JSON ({error}): {line!r}") from None
        expect(summary is None, f"{path}:{number}: a line after the summary line: {line!r}")
        if "summary" in record:
            summary = record["summary"]
        else:
            attempts.append(record)
    return attempts, summary


def execute(command, cwd, limit_s, env=None, stdin_bytes=None):
    """Runs `command` under `timeout -k 10 limit_s` in `cwd`; raises Hung if it had to be stopped.

    Returns (rc, stdout, stderr, elapsed seconds); stdin is /dev/null, or `stdin_bytes` when
    given. `timeout` signals its whole process group, so ranks are stopped along with mpirun.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    timed = ["timeout", "-k", str(KILL_AFTER_S), str(limit_s)] + command
    started = time.monotonic()
    stdin = {"input": stdin_bytes} if stdin_bytes is not None else {"stdin": subprocess.DEVNULL}
    completed = subprocess.run(timed, cwd=cwd, env=full_env, capture_output=True, check=False,
                               **stdin)
    elapsed = time.monotonic() - started
    stdout = completed.stdout.decode(errors="replace")
    stderr = completed.stderr.decode(errors="replace")
    if completed.returncode in TIMEOUT_STATUSES and elapsed >= limit_s:
        raise Hung(f"hung: {shlex.join(command)} did not finish within {limit_s}s and was "
                   f"killed by timeout\nstderr:\n{stderr[-3000:]}")
    return completed.returncode, stdout, stderr, elapsed


class Sandbox:
    """A test's temporary directory, and the way to run jobrunner in it."""

    def __init__(self, path, np):
        self.path = path
        self.np = np
        self.runs = []  # every Run so far, the last one reported if the test fails

    def write(self, name, text):
        """Writes `text`, dedented, to a file in the sandbox; returns its path."""
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def worker_ranks(self):
        """The ranks that run tasks under mpirun -n NP: rank 0 alone, or ranks 1..NP-1."""
        return {0} if self.np == 1 else set(range(1, self.np))

    def run(self, manifest, *args, limit_s=DEFAULT_LIMIT_S, env=None, out=None,
            every_rank_status=False, stdin_bytes=None):
        """Runs `mpirun -n NP ... jobrunner --progress log --out <dir> [args] manifest`.

        mpirun starts in the sandbox, with `env` added to the environment and `stdin_bytes`, if
        given, on its stdin (mpirun passes it to rank 0). Unless `out` names one, each run gets
        a new --out directory in the sandbox: run, run-2, ...
        With every_rank_status, mpirun is told not to kill the other ranks when one exits
        non-zero, each rank's exit status is recorded in rank_statuses, and rc is rank 0's
        status (jobrunner's own exit status), since mpirun then reports 0 whatever the ranks did.
        """
        run_dir = out or self.path / ("run" if not self.runs else f"run-{len(self.runs) + 1}")
        mpirun = ["mpirun", "-n", str(self.np), "--oversubscribe", "--bind-to", "none"]
        if IS_ROOT:
            mpirun.append("--allow-run-as-root")
        status_dir = None
        if every_rank_status:
            status_dir = Path(tempfile.mkdtemp(prefix="rank-status-", dir=self.path))
            wrapper = self.path / "rank-status.sh"
            wrapper.write_text(RANK_STATUS_WRAPPER)
            mpirun += ["--mca", "orte_abort_on_non_zero_status", "0",
                       "/bin/sh", str(wrapper), str(status_dir)]
        command = mpirun + [jobrunner_binary(), "--progress", "log", "--out", str(run_dir),
                            *args, str(manifest)]
        rc, stdout, stderr, elapsed = execute(command, self.path, limit_s, env, stdin_bytes)
        result = Run(command, self.path, rc, stdout, stderr, elapsed, run_dir)
        self.runs.append(result)
        if status_dir is not None:
            result.rank_statuses = {int(p.name.split("-")[1]): int(p.read_text())
                                    for p in status_dir.iterdir()}
            result.rc = result.rank_statuses.get(0, rc)
        result.attempts, result.summary = read_results(run_dir)
        return result

    def run_without_mpirun(self, *args, limit_s=30, stdin_bytes=None):
        """Runs `jobrunner args` directly in the sandbox, as a single process."""
        command = [jobrunner_binary(), *args]
        env = ROOT_CONSENT_ENV if IS_ROOT else None
        rc, stdout, stderr, elapsed = execute(command, self.path, limit_s, env, stdin_bytes)
        result = Run(command, self.path, rc, stdout, stderr, elapsed)
        self.runs.append(result)
        return result


def run_tests(namespace, skip_reason=None, setup=None):
    """Runs every test_* function of a test module; exits 0 only if all of them passed.

    `skip_reason(np)`, if given, may return why this machine or rank count cannot run the
    module: every test is then reported skipped. `setup()` runs once before the tests."""
    parser = argparse.ArgumentParser(description="Runs jobrunner end-to-end tests.")
    parser.add_argument("--np", type=int, default=1, help="ranks for mpirun -n (default: 1)")
    parser.add_argument("names", nargs="*", help="run only these tests")
    options = parser.parse_args()
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    unknown = set(options.names) - {name for name, _ in tests}
    if unknown:
        parser.error(f"no such test: {', '.join(sorted(unknown))}")
    if options.names:
        tests = [(name, fn) for name, fn in tests if name in options.names]
    reason = skip_reason(options.np) if skip_reason is not None else None
    if reason is not None:
        for name, _ in tests:
            print(f"SKIP {name}: {reason}", flush=True)
        print(f"0 passed, 0 failed ({len(tests)} skipped)", flush=True)
        sys.exit(0)
    try:
        jobrunner_binary()
    except RuntimeError as error:
        sys.exit(f"error: {error}")
    if setup is not None:
        setup()

    passed = failed = skipped = 0
    for name, test in tests:
        ok, report, seconds = run_one(test, options.np)
        if ok is None:
            skipped += 1
            print(f"SKIP {name}: {report}", flush=True)
            continue
        print(f"{'PASS' if ok else 'FAIL'} {name} ({seconds:.1f}s)", flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
            print(textwrap.indent(report, "    "), flush=True)
    print(f"{passed} passed, {failed} failed" + (f" ({skipped} skipped)" if skipped else ""),
          flush=True)
    sys.exit(1 if failed else 0)


def run_one(test, np):
    """Runs one test in a fresh sandbox: (passed, failure report, seconds); passed is None, and
    the report the reason, for a test that raised Skipped.

    A failing test's sandbox is kept, and named in the report, so its run directories can be
    inspected; a passing test's is removed.
    """
    path = Path(tempfile.mkdtemp(prefix=f"jobrunner-e2e-{test.__name__}-"))
    sandbox = Sandbox(path, np)
    started = time.monotonic()
    try:
        test(sandbox)
    except Skipped as why:
        shutil.rmtree(path)
        return None, str(why), time.monotonic() - started
    except Hung as error:
        report = str(error)
    except Exception:  # any error fails this test alone; the others still run
        report = traceback.format_exc().rstrip()
        if sandbox.runs:
            report += "\nlast run:\n" + sandbox.runs[-1].describe()
    else:
        shutil.rmtree(path)
        return True, "", time.monotonic() - started
    return False, f"{report}\nsandbox kept: {path}", time.monotonic() - started
