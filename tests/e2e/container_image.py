"""The jobrunner container image for the end-to-end tests: built with podman by
scripts/container/build-image, into a podman store of the tests' own.

The store is under the build cache (${JOBRUNNER_CACHE:-~/.cache/jobrunner}/podman-<driver>),
with settings that work in restricted machines too (explicit ulimits, which need no
CAP_SYS_RESOURCE; runc, which accepts hybrid cgroup v1 hosts; host networking). The store and
the script's cached base tarball outlive the run, so a second build on the same machine rebuilds
only what changed: nothing at all, or the compile step after a source change. Tests that build
the image share the store, so ctest runs them one at a time (RESOURCE_LOCK jobrunner_image in
tests/CMakeLists.txt).

`why_not_runnable()` says why containers cannot be built here (no podman or mmdebstrap, or
neither root nor a subordinate uid range for rootless podman, or `podman info` failing) and
chooses the storage driver; `build()` builds the image once per test file, and `image()` fails a
test whose image was not built, with the end of the build log.
Used by tests/e2e/test_container.py and tests/e2e/test_slurm_container.py.
"""

import getpass
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from harness import IS_ROOT, REPO_ROOT, execute, expect, expect_equal, read_results

BUILD_SCRIPT = REPO_ROOT / "scripts" / "container" / "build-image"
IMAGE = "localhost/jobrunner:e2e"
CACHE = Path(os.environ.get("JOBRUNNER_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jobrunner")
# A cold build (mmdebstrap, both stages' apt installs, the compile) took 1.5 to 2.5 minutes on
# the project's 2-core machine; ctest's limit for the files that build it is 900 s
# (tests/CMakeLists.txt).
BUILD_LIMIT_S = 780
RUN_LIMIT_S = 120
# Open MPI refuses root without these; a rank started outside mpirun reads only the environment.
ROOT_CONSENT = ["-e", "OMPI_ALLOW_RUN_AS_ROOT=1", "-e", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"]

# Every container of this process carries this label, so that those a killed `podman run` left
# behind (created, never started) can be removed.
LABEL = f"jobrunner-e2e-container={os.getpid()}"

# The environment every podman command runs with (set by why_not_runnable), and how the build
# ended (set by build).
PODMAN_ENV = {}
BUILD = {"error": None, "seconds": None}


# ---------------------------------------------------------------------------------------------
# The podman store and the image


def has_subordinate_ids():
    """Whether /etc/subuid and /etc/subgid give this user a range (rootless podman needs both)."""
    names = {getpass.getuser(), str(os.getuid())}
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return False
        if not any(line.split(":")[0] in names for line in lines if line.strip()):
            return False
    return True


def podman_config(driver):
    """Writes the tests' containers.conf and storage.conf for `driver`; returns their env."""
    config = CACHE / f"podman-{driver}"
    config.mkdir(parents=True, exist_ok=True)
    # The runtime state belongs on a temporary file system, one per user.
    runroot = Path(tempfile.gettempdir()) / f"jobrunner-podman-{os.getuid()}-{driver}"
    runtime = 'runtime = "runc"' if shutil.which("runc") else ""
    engine = f"""\
[engine]
{runtime}
tmp_dir = "{runroot}/libpod"
events_logger = "file"
cgroup_manager = "cgroupfs"
"""
    (config / "containers.conf").write_text(f"""\
[containers]
default_ulimits = ["nofile=10000:10000", "nproc=4096:4096"]
netns = "host"
{engine}""")
    # Podman's own default limits (a raised open-files limit, which a host without
    # CAP_SYS_RESOURCE refuses), for the README's command line as a user types it.
    (config / "containers-default-ulimits.conf").write_text(f"""\
[containers]
netns = "host"
{engine}""")
    (config / "storage.conf").write_text(f"""\
[storage]
driver = "{driver}"
graphroot = "{config}/storage"
rootless_storage_path = "{config}/storage"
runroot = "{runroot}/storage"
""")
    return {"CONTAINERS_CONF": str(config / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(config / "storage.conf"),
            "JOBRUNNER_CACHE": str(CACHE)}


def podman(*args, limit_s=RUN_LIMIT_S, cwd=None, default_ulimits=False):
    """Runs `podman args` with the tests' store: (rc, stdout, stderr, seconds). With
    default_ulimits, without the tests' explicit limits: as podman is when installed."""
    env = dict(PODMAN_ENV)
    if default_ulimits:
        env["CONTAINERS_CONF"] = str(Path(env["CONTAINERS_CONF"]).with_name(
            "containers-default-ulimits.conf"))
    return execute(["podman", *args], cwd or tempfile.gettempdir(), limit_s, env)


def why_not_runnable():
    """None if podman can build and run the image here (and PODMAN_ENV set for it), else why not."""
    if not shutil.which("podman"):
        return "podman is not installed (scripts/install-deps installs it)"
    if not shutil.which("mmdebstrap"):
        return "mmdebstrap is not installed (scripts/install-deps installs it)"
    if not IS_ROOT and not has_subordinate_ids():
        user = getpass.getuser()
        return (f"not root, and rootless podman needs subordinate ids for {user} in /etc/subuid "
                f"and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids "
                f"100000-165535 {user})")
    # Overlay is much faster (a container starts in 0.4 s rather than several seconds with vfs,
    # which copies the image), but refused in some places, e.g. on top of another overlay.
    for driver in ("overlay", "vfs"):
        PODMAN_ENV.update(podman_config(driver))
        rc, _, stderr, _ = podman("info", limit_s=60)
        if rc == 0:
            return None
    return f"podman cannot run here: podman info failed: {stderr.strip()[-500:]}"


def build():
    """Builds the image once with scripts/container/build-image, and prunes earlier builds."""
    log = Path(tempfile.mkstemp(prefix="jobrunner-container-build-", suffix=".log")[1])
    try:
        rc, stdout, stderr, seconds = execute([str(BUILD_SCRIPT), "--tag", IMAGE], REPO_ROOT,
                                              BUILD_LIMIT_S, PODMAN_ENV)
    except Exception as error:  # a hung build fails every test rather than the whole file
        BUILD["error"] = str(error)
        return
    log.write_text(stdout + stderr)
    BUILD["seconds"] = seconds
    if rc != 0:
        tail = "\n".join((stdout + stderr).splitlines()[-40:])
        BUILD["error"] = f"build-image failed ({rc}); full log: {log}\n{tail}"
        return
    log.unlink()
    print(f"built {IMAGE} in {seconds:.0f}s", flush=True)
    # Layers of earlier builds of changed sources; the tagged images and their layers stay.
    podman("image", "prune", "--force", limit_s=120)


def image():
    """The built image's name; fails the test if the build failed."""
    expect(BUILD["error"] is None, f"the image was not built: {BUILD['error']}")
    return IMAGE


# ---------------------------------------------------------------------------------------------
# Helpers


class RunsDirectory:
    """A directory of the sandbox mounted at /runs, writable by the image's user (uid 1000).

    Leaving the `with` removes any container of this process still there, and, rootless, gives
    what the containers wrote (owned by a subordinate uid) back to the user, so that the sandbox
    can be removed."""

    def __init__(self, sandbox):
        self.path = sandbox.path / "runs"

    def __enter__(self):
        self.path.mkdir()
        self.path.chmod(0o777)
        return self.path

    def __exit__(self, *exc):
        rc, stdout, _, _ = podman("ps", "--all", "--quiet", "--filter", f"label={LABEL}")
        if rc == 0 and stdout.split():
            podman("rm", "--force", *stdout.split())
        if not IS_ROOT:
            podman("unshare", "chown", "-R", "0:0", str(self.path))


def expected_task_count(sandbox, manifest):
    """The number of tasks jobrunner --check counts in `manifest`."""
    check = sandbox.run_without_mpirun("--check", str(manifest))
    expect_equal(check.rc, 0, f"exit status of jobrunner --check {manifest}")
    return int(check.stdout.split(" tasks from ")[0].rsplit(" ", 1)[1])


def expect_every_task_succeeded(run_dir, task_count, workers, what):
    """results.jsonl in run_dir: task_count tasks, each ending succeeded, run by `workers`."""
    attempts, summary = read_results(run_dir)
    expect(summary is not None, f"{what}: no summary line in {run_dir}/results.jsonl")
    expect_equal(summary["exit_status"], 0, f"{what}: summary exit_status")
    last = {}
    for attempt in attempts:
        last[attempt["task"]] = attempt
    expect_equal(len(last), task_count, f"{what}: tasks in results.jsonl")
    failed = {task: a["outcome"] for task, a in last.items() if a["outcome"] != "succeeded"}
    expect_equal(failed, {}, f"{what}: tasks whose last attempt did not succeed")
    ranks = Counter(a["worker"] for a in attempts)
    expect_equal(set(ranks), workers, f"{what}: ranks that ran attempts ({dict(ranks)})")
