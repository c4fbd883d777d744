"""Local mode: `jobrunner m.yaml` started without an MPI launcher runs without MPI at all.

Each run holds its one task until the test has looked at the running jobrunner process from the
outside: the Open MPI components it mapped (MPI_Init loads them) and the processes it started (an
MPI singleton forks an orted). Its environment has no launcher's variables: the test removes
them. JOBRUNNER_MPI=1 shows that the same looks do see
MPI when it is there. Registered once: it starts jobrunner without mpirun.
"""

import os
import subprocess
import time

from harness import (IS_ROOT, ROOT_CONSENT_ENV, expect, expect_equal, expect_in,
                     jobrunner_binary, read_results, run_tests)

# How long a run may take to reach its task; generous, for a loaded machine. Not a speed check:
# a run that takes longer fails as hung.
START_LIMIT_S = 60

# The task says it started, then waits for the test's word (or gives up after a minute).
HOLDING_MANIFEST = """\
version: 1
tasks:
  - id: held
    command: "touch started; for i in $(seq 600); do [ -e go ] && exit 0; sleep 0.1; done; exit 1"
"""


def launcher_free_environment(extra=None):
    """This process's environment without any launcher's variables, plus `extra`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OMPI_", "PMIX_", "PMI_", "SLURM_", "JOBRUNNER_MPI"))}
    if IS_ROOT:
        env.update(ROOT_CONSENT_ENV)  # consent only: not a launcher's variable
    env.update(extra or {})
    return env


def children_of(pid):
    """(pid, name) of every process whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue  # ended meanwhile
        name = text[text.index("(") + 1:text.rindex(")")]
        parent = int(text[text.rindex(")") + 2:].split()[1])
        if parent == pid:
            found.append((int(entry), name))
    return found


def mpi_signs(pid):
    """What shows that process `pid` initialised MPI: the Open MPI components MPI_Init loads
    (mca_*.so) in its memory map, and the orted an Open MPI singleton forks."""
    with open(f"/proc/{pid}/maps") as maps:
        components = {line.split()[-1] for line in maps if "/mca_" in line}
    signs = [f"mapped {path}" for path in sorted(components)]
    signs += [f"child {name} ({child})" for child, name in children_of(pid) if name == "orted"]
    return signs


def run_held(sandbox, env, *args):
    """Starts jobrunner on the holding manifest; once its task has started, returns what
    mpi_signs says of the jobrunner process, then lets the task end and returns
    (signs, exit status, stderr, run directory)."""
    sandbox.write("held.yaml", HOLDING_MANIFEST)
    run_dir = sandbox.path / f"run-{len(list(sandbox.path.glob('run-*'))) + 1}"
    started, go = sandbox.path / "started", sandbox.path / "go"
    started.unlink(missing_ok=True)
    go.unlink(missing_ok=True)
    command = [jobrunner_binary(), "--progress", "none", "--out", str(run_dir), *args, "held.yaml"]
    process = subprocess.Popen(command, cwd=sandbox.path, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while not started.exists():
            if process.poll() is not None:
                raise AssertionError(f"jobrunner ended ({process.returncode}) before its task "
                                     f"started: {process.stderr.read().decode(errors='replace')}")
            expect(time.monotonic() < deadline, f"the task did not start in {START_LIMIT_S}s")
            time.sleep(0.05)
        signs = mpi_signs(process.pid)
        go.touch()
        _, stderr = process.communicate(timeout=START_LIMIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return signs, process.returncode, stderr.decode(errors="replace"), run_dir


def test_without_a_launcher_jobrunner_runs_its_tasks_without_mpi(sandbox):
    """No launcher variable: no Open MPI component mapped, no orted, and the run is complete."""
    signs, rc, stderr, run_dir = run_held(sandbox, launcher_free_environment())
    expect_equal(signs, [], "signs of MPI in the jobrunner process")
    expect_equal(rc, 0, f"exit status (stderr: {stderr})")
    attempts, summary = read_results(run_dir)
    expect_equal([(a["task"], a["worker"], a["outcome"]) for a in attempts],
                 [("held", 0, "succeeded")], "attempts")
    expect_equal(summary["outcomes"]["succeeded"], 1, "summary")


def test_jobrunner_mpi_1_initialises_mpi_without_a_launcher(sandbox):
    """JOBRUNNER_MPI=1 starts Open MPI as a singleton: the same looks see it, and the run ends
    as in local mode."""
    signs, rc, stderr, run_dir = run_held(sandbox,
                                          launcher_free_environment({"JOBRUNNER_MPI": "1"}))
    expect(signs, "JOBRUNNER_MPI=1 showed no sign of MPI: the check itself sees nothing")
    expect_equal(rc, 0, f"exit status (stderr: {stderr})")
    attempts, _ = read_results(run_dir)
    expect_equal([(a["task"], a["worker"]) for a in attempts], [("held", 0)], "attempts")


def test_local_flag_runs_without_mpi_where_a_launcher_of_one_rank_says_otherwise(sandbox):
    """--local wins over a launcher's variables when they speak of one rank."""
    env = launcher_free_environment({"PMIX_RANK": "0", "SLURM_STEP_NUM_TASKS": "1"})
    signs, rc, stderr, _ = run_held(sandbox, env, "--local")
    expect_equal(signs, [], "signs of MPI in the jobrunner process")
    expect_equal(rc, 0, f"exit status (stderr: {stderr})")


def test_local_flag_is_refused_in_a_job_of_several_ranks(sandbox):
    """Under a launcher of two ranks, --local would make each rank run every task: exit 2."""
    sandbox.write("held.yaml", HOLDING_MANIFEST)
    completed = subprocess.run(
        [jobrunner_binary(), "--local", "--out", str(sandbox.path / "refused"), "held.yaml"],
        cwd=sandbox.path, env=launcher_free_environment({"OMPI_COMM_WORLD_SIZE": "2"}),
        stdin=subprocess.DEVNULL, capture_output=True, timeout=START_LIMIT_S, check=False)
    expect_equal(completed.returncode, 2, "exit status")
    expect_in("--local", completed.stderr.decode(), "stderr")
    expect(not (sandbox.path / "started").exists(), "the task ran")
    expect(not (sandbox.path / "refused").exists(), "a run directory was made")


if __name__ == "__main__":
    run_tests(globals())
