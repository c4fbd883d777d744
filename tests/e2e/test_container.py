"""The container image: built without a Docker daemon by scripts/container/build-image, it runs
the example manifest out of the box, and its ranks can be started from outside the image.

The image is built once per run of this file (in setup), with podman, into the tests' own podman
store under the build cache, by tests/e2e/container_image.py (which says how); a second run on
the same machine rebuilds only what changed.

The checks: `podman run IMAGE` with no arguments runs config/demo.yaml on 3 ranks as the
image's unprivileged user into the mounted /runs, and every task succeeds on worker ranks 1 and
2; `kind: python` tasks run in the image, and python3 -m jobrunner reads them back; the runtime
image holds no -dev package and no compiler, and has Open MPI's PMIx client; and
ranks started by the host's mpirun, one container each (the way `srun --mpi=pmix` starts them
under Slurm: the launcher's PMIx server on the host, the client in the image), run the example
just as well.

Skipped, with the reason, where containers cannot be built: no podman or mmdebstrap, or neither
root nor a subordinate uid range for rootless podman, or `podman info` failing. A failing build
fails every test, with the end of the build log.
The file picks its own ranks, so ctest registers it once (E2E_OWN_RANKS).

    python3 tests/e2e/test_container.py [test_name ...]   # JOBRUNNER_BIN=build/jobrunner
"""

import os

from container_image import (LABEL, PODMAN_ENV, ROOT_CONSENT, RUN_LIMIT_S, RunsDirectory, build,
                             expect_every_task_succeeded, expected_task_count, image, podman,
                             why_not_runnable)
from harness import IS_ROOT, REPO_ROOT, execute, expect_equal, expect_in, run_tests



# ---------------------------------------------------------------------------------------------
# Tests


def test_image_runs_the_demo_out_of_the_box(sandbox):
    """`podman run --rm --ulimit nofile=10000:10000 --ulimit nproc=4096:4096 -v RUNS:/runs
    IMAGE`, the README's line, with podman's own default limits (which a host without
    CAP_SYS_RESOURCE, such as the project's test machine, refuses without the two --ulimit),
    runs /examples/demo.yaml on 3 ranks into /runs: every task succeeds on worker ranks 1 and 2,
    and the files belong to the image's unprivileged user."""
    tag = image()
    tasks = expected_task_count(sandbox, REPO_ROOT / "config" / "demo.yaml")
    with RunsDirectory(sandbox) as runs:
        rc, stdout, stderr, _ = podman("run", "--rm", "--ulimit", "nofile=10000:10000",
                                       "--ulimit", "nproc=4096:4096", "--label", LABEL, "-v",
                                       f"{runs}:/runs", tag, default_ulimits=True)
        expect_equal(rc, 0, f"exit status of podman run {tag}\nstdout:\n{stdout}\nstderr:\n"
                     f"{stderr[-3000:]}")
        expect_in(f"{tasks} succeeded", stdout, "summary printed by the run")
        run_dirs = list((runs / "jobrunner-out").glob("demo-*"))
        expect_equal(len(run_dirs), 1, f"run directories under {runs}/jobrunner-out")
        expect_every_task_succeeded(run_dirs[0], tasks, {1, 2}, "demo in the image")
        owner = (run_dirs[0] / "results.jsonl").stat().st_uid
        if IS_ROOT:  # rootless, uid 1000 of the container is a subordinate uid of the user
            expect_equal(owner, 1000, "owner of results.jsonl (the image's user)")


def test_image_runs_python_functions_and_reads_their_results(sandbox):
    """A manifest of `kind: python` tasks and its module in /runs, run by the image's own mpirun
    on 3 ranks: every task succeeds on worker ranks 1 and 2 (the image's python3 runs them), and
    `python3 -m jobrunner results` in the image reads a JSON value and a pickled one back."""
    tag = image()
    with RunsDirectory(sandbox) as runs:
        (runs / "squares.py").write_text(
            "def square(n):\n    return n * n\n\n"
            "def pair(n):\n    return (n, str(n))\n")
        (runs / "py.yaml").write_text(
            "version: 1\ntasks:\n"
            "  - id: square-{n}\n    kind: python\n"
            "    args: {function: \"squares:square\", args: [\"{n}\"]}\n"
            "    matrix: {n: {range: [0, 20]}}\n"
            "  - id: pair\n    kind: python\n    args: {function: \"squares:pair\", args: [7]}\n")
        script = ("mpirun -n 3 jobrunner --progress log --out /runs/py /runs/py.yaml && "
                  "python3 -m jobrunner results /runs/py")
        rc, stdout, stderr, _ = podman("run", "--rm", "--label", LABEL, "-v", f"{runs}:/runs",
                                       tag, "sh", "-c", script)
        expect_equal(rc, 0, f"exit status of the run in {tag}\nstdout:\n{stdout}\nstderr:\n"
                     f"{stderr[-3000:]}")
        expect_every_task_succeeded(runs / "py", 21, {1, 2}, "kind: python in the image")
        expect_in("square-19\tsucceeded\t361", stdout, "a JSON result read back")
        expect_in("pair\tsucceeded\t(7, '7')", stdout, "a pickled result read back")


def test_runtime_image_is_slim_and_has_the_pmix_client(sandbox):
    """The runtime stage runs as uid 1000 and holds no -dev package and no compiler, but Open
    MPI's PMIx client (what `srun --mpi=pmix` talks to) and the examples."""
    tag = image()
    script = ("id -u; echo packages:; dpkg-query -W -f '${Package}\\n'; echo ompi:; ompi_info; "
              "echo files:; ls /examples; command -v g++ c++ cmake make || true")
    rc, stdout, stderr, _ = podman("run", "--rm", tag, "sh", "-c", script)
    expect_equal(rc, 0, f"exit status of the inspection\nstderr:\n{stderr[-2000:]}")
    uid, rest = stdout.split("\npackages:\n", 1)
    packages, rest = rest.split("\nompi:\n", 1)
    ompi_info, files = rest.split("\nfiles:\n", 1)
    expect_equal(uid.strip(), "1000", "uid the image runs as")
    dev = [p for p in packages.split() if p.endswith("-dev")]
    expect_equal(dev, [], "-dev packages in the runtime image")
    expect_in("MCA pmix: ext3x", ompi_info, "ompi_info of the image (PMIx client component)")
    expect_in("demo.yaml", files, "files in /examples")
    expect_equal([line for line in files.splitlines() if line.startswith("/")], [],
                 "compilers and build tools in the runtime image")


def test_host_mpirun_starts_ranks_in_containers(sandbox):
    """The host's mpirun starts 3 ranks, each `podman run IMAGE jobrunner`: the ranks reach
    the host's PMIx server through /tmp, as under `srun --mpi=pmix`, and run the example."""
    tag = image()
    tasks = expected_task_count(sandbox, REPO_ROOT / "config" / "demo.yaml")
    # The ranks must be the user that runs the launcher: PMIx refuses a client of another uid.
    # Rootless, keep-id maps the user to itself in the container (the image's USER would
    # otherwise be a subordinate uid).
    user = ["--user", f"{os.getuid()}:{os.getgid()}"]
    user += ROOT_CONSENT if IS_ROOT else ["--userns", "keep-id"]
    mpirun = ["mpirun", "-n", "3", "--oversubscribe", "--bind-to", "none"]
    if IS_ROOT:
        mpirun.append("--allow-run-as-root")
    with RunsDirectory(sandbox) as runs:
        # Host pid namespace for PMIx's peer checks, /tmp for its sockets and session files,
        # /dev/shm for Open MPI's shared-memory transport between the containers (rather than
        # --ipc host, which rootless podman refuses where the host has no /dev/mqueue).
        command = [*mpirun, "podman", "run", "--rm", "--label", LABEL, "--network", "host",
                   "--pid", "host", "-v", "/tmp:/tmp", "-v", "/dev/shm:/dev/shm",
                   "-v", f"{runs}:/runs",
                   "--env", "OMPI_*", "--env", "PMIX_*", *user, tag,
                   "jobrunner", "--progress", "log", "--out", "/runs/from-host",
                   "/examples/demo.yaml"]
        rc, stdout, stderr, _ = execute(command, sandbox.path, RUN_LIMIT_S, PODMAN_ENV)
        expect_equal(rc, 0, f"exit status of {' '.join(command)}\nstdout:\n{stdout}\nstderr:\n"
                     f"{stderr[-3000:]}")
        expect_every_task_succeeded(runs / "from-host", tasks, {1, 2}, "ranks in containers")


def skip_reason(_np):
    return why_not_runnable()


if __name__ == "__main__":
    run_tests(globals(), skip_reason, build)
