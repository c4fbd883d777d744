"""The command line with which each system runs the same work, and what its output tells.

Everything gets 2 slots in total: jobrunner `-n 3` (coordinator + 2 workers with 1 slot each) or
`-n 1` (one process, 2 slots), the C reference with 2 children in flight, `parallel -j2`,
`xargs -P2`, mpi4py.futures with 2 worker ranks, Dask with 2 single-thread worker processes,
joblib with 2 worker processes.
"""

import datetime
import json
import os
import re

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
# The Debian packages python3-mpi4py and python3-distributed install for the system python,
# which is not necessarily the first python3 in PATH.
DEBIAN_PYTHON = "/usr/bin/python3"
AS_ROOT = os.geteuid() == 0
# mpiexec as root needs consent, either as a flag or through these variables.
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def mpirun(ranks, launcher="mpirun"):
    return [launcher, "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + (
        ["--allow-run-as-root"] if AS_ROOT else [])


class Systems:
    def __init__(self, jobrunner_bin, spawn_ref_bin, mpi_hello_bin, missing_packages):
        self.jobrunner_bin = jobrunner_bin
        self.spawn_ref_bin = spawn_ref_bin
        self.mpi_hello_bin = mpi_hello_bin
        self.missing = set(missing_packages)

    def missing_reason(self, package):
        """Why a peer cannot run ('' when it can)."""
        return f"Debian package {package} did not install" if package in self.missing else ""

    def jobrunner(self, ranks, manifest, out, *flags):
        # 2 slots on this box in total: 1 per worker with 2 workers, 2 when one process does all.
        slots = 1 if ranks >= 3 else 2
        return mpirun(ranks) + [self.jobrunner_bin, "-q", "--slots", str(slots), "--out", out,
                                *flags, manifest]

    def jobrunner_local(self, manifest, out, *flags):
        """jobrunner started without a launcher: local mode, no MPI (one process, 2 slots)."""
        return [self.jobrunner_bin, "-q", "--slots", "2", "--out", out, *flags, manifest]

    def jobrunner_check(self, manifest):
        return [self.jobrunner_bin, "--check", manifest]

    def spawn_ref(self, in_flight, count, command):
        return [self.spawn_ref_bin, str(in_flight), str(count), *command]

    def mpi_hello(self):
        return mpirun(3) + [self.mpi_hello_bin]

    @staticmethod
    def xargs(argfile, command):
        # Each run gets one line of argfile as an extra argument, which /bin/true ignores.
        return ["xargs", "-P2", "-n1", "-a", argfile, *command]

    @staticmethod
    def parallel(argfile, command, joblog):
        # -N0: read one line of argfile per job but pass none of it to the command.
        return ["parallel", "--will-cite", "-j2", "-N0", "--joblog", joblog, *command,
                "::::", argfile]

    @staticmethod
    def mpi4py(count, command, chunksize=1):
        script = os.path.join(BENCH_DIR, "pool_mpi4py.py")
        return mpirun(3, "mpiexec") + [DEBIAN_PYTHON, "-m", "mpi4py.futures", script,
                                       f"--chunksize={chunksize}", str(count), *command]

    @staticmethod
    def joblib(count):
        return [DEBIAN_PYTHON, os.path.join(BENCH_DIR, "pool_joblib.py"), str(count)]

    @staticmethod
    def dask(count, command):
        return [DEBIAN_PYTHON, os.path.join(BENCH_DIR, "pool_dask.py"), str(count), *command]


def write_manifest(path, command, count, retries=0):
    """A manifest of `count` tasks t-0 .. t-<count-1>, each running the argv `command`."""
    with open(path, "w") as f:
        f.write("version: 1\n")
        f.write("tasks:\n")
        f.write("  - id: t-{n}\n")
        f.write(f"    command: {json.dumps(command)}\n")  # a JSON list is a YAML flow list
        if retries:
            f.write(f"    retries: {retries}\n")
        f.write(f"    matrix:\n      n: {{range: [0, {count}]}}\n")
    return path


def write_argfile(path, count):
    with open(path, "w") as f:
        f.write("".join(f"{i}\n" for i in range(count)))
    return path


def _epoch(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def jobrunner_records(run_dir):
    """The attempt lines of a run's results.jsonl, as dicts (none if it cannot be read)."""
    records = []
    try:
        with open(os.path.join(run_dir, "results.jsonl")) as f:
            for line in f:
                record = json.loads(line)
                if "summary" not in record:
                    records.append(record)
    except (OSError, ValueError):
        pass
    return records


def jobrunner_attempts(run_dir):
    """(start, end) epoch seconds of every attempt in a run's results.jsonl (1 ms resolution)."""
    return [(_epoch(r["start"]), _epoch(r["end"])) for r in jobrunner_records(run_dir)
            if r.get("start") and r.get("end")]


def jobrunner_summary(run_dir):
    """The summary object at the end of a run's results.jsonl, or None."""
    try:
        with open(os.path.join(run_dir, "results.jsonl")) as f:
            last = f.readlines()[-1]
        return json.loads(last).get("summary")
    except (OSError, ValueError, IndexError):
        return None


def parallel_attempts(joblog):
    """(start, end) epoch seconds of every job in a GNU parallel --joblog."""
    spans = []
    try:
        with open(joblog) as f:
            next(f)  # header
            for line in f:
                fields = line.split("\t")
                start, runtime = float(fields[2]), float(fields[3])
                spans.append((start, start + runtime))
    except (OSError, ValueError, StopIteration, IndexError):
        pass
    return spans


def script_span(stdout):
    """The span_s=... line that pool_mpi4py.py and pool_dask.py print."""
    match = re.search(r"span_s=([0-9.]+)", stdout)
    return float(match.group(1)) if match else None


def out_dir_of(argv):
    return argv[argv.index("--out") + 1] if "--out" in argv else None
