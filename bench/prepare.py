"""Getting everything a benchmark run needs: the peers (Debian packages), jobrunner built in
Release into build-release/, and the two C references (spawn_ref, mpi_hello)."""

import os
import shutil
import subprocess
import sys

# Debian package -> what in it the benchmark runs.
PEER_PACKAGES = {
    "parallel": "GNU parallel",
    "python3-mpi4py": "mpi4py.futures",
    "python3-distributed": "Dask (LocalCluster)",
    "python3-joblib": "joblib (Parallel)",
    "time": "/usr/bin/time",
}


def _installed(package):
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, timeout=30
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


def install_peers(log):
    """Installs the peer packages that are missing; quiet and idempotent. Returns the packages
    that are still missing afterwards (their rows then say so)."""
    missing = [p for p in PEER_PACKAGES if not _installed(p)]
    if not missing:
        return []
    log(f"installing {' '.join(missing)} with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                       + missing, env=env, timeout=900,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        detail = getattr(e, "stderr", b"") or b""
        log(f"apt-get failed: {e} {detail.decode(errors='replace').strip()[-300:]}")
    return [p for p in missing if not _installed(p)]


def build_jobrunner(root, log):
    """Configures and builds the jobrunner target only, in Release, into build-release/
    (the tests, which others may be editing, are not built). Returns the binary's path."""
    build_dir = os.path.join(root, "build-release")
    log("building jobrunner (Release) in build-release/")
    steps = [
        ["cmake", "-S", root, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 1), "--target", "jobrunner"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            sys.exit(f"bench: {' '.join(step)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return os.path.join(build_dir, "jobrunner")


def build_references(root, log):
    """Compiles bench/spawn_ref.c and bench/mpi_hello.c into build-release/ when missing or
    older than their source. Returns (spawn_ref, mpi_hello) paths."""
    built = []
    for name, compiler in (("spawn_ref", shutil.which("cc") or "gcc"), ("mpi_hello", "mpicc")):
        source = os.path.join(root, "bench", name + ".c")
        binary = os.path.join(root, "build-release", name)
        if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
            log(f"compiling bench/{name}.c")
            subprocess.run([compiler, "-O2", "-Wall", "-Wextra", "-o", binary, source],
                           check=True, timeout=120)
        built.append(binary)
    return tuple(built)
