"""A private Slurm cluster on one machine, for the end-to-end tests that submit jobs to Slurm.

`with Cluster(sandbox) as cluster:` starts one in a fresh temporary directory: a munged with its
own key and socket, a slurmctld, and four slurmd "fake nodes" n1..n4 (four CPUs each), every
daemon in the foreground as a child of this process, on ports nobody is listening on, with all
state, spool, logs and sockets under that directory, so it never meets another Slurm or munge on
the machine. When the `with` ends the cluster is torn down, always: every job cancelled, the
daemons stopped by pid, then whatever is left of the jobs killed (after `become_subreaper()`,
orphaned slurmstepd and job processes become children of the test process, so the teardown
finds every one of them).

The fake nodes share this machine's hostname, so jobs with several ranks need
OMPI_MCA_btl=self,tcp (Open MPI's shared-memory transport would mix up their segments), and
slurm.conf gives each node its own TmpFS under the cluster's directory (Slurm's PMIx plugin keeps
per-node sockets there).

The daemons run as the user running the test (as an ordinary user, slurmd starts that user's
own jobs). Needs the Debian packages slurmctld, slurmd, slurm-client and munge
(scripts/install-deps); `why_not_runnable()` says why a cluster cannot run here, or None.
Used by tests/e2e/test_slurm.py and tests/e2e/test_slurm_container.py.
"""

import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from harness import expect

NODES = ("n1", "n2", "n3", "n4")
CPUS_PER_NODE = 4
# Bounds on waiting for the daemons, and on each Slurm client command.
DAEMONS_READY_WITHIN_S = 30
PR_SET_CHILD_SUBREAPER = 36
CLIENT_LIMIT_S = 30


def free_port():
    """A TCP port nothing listens on now (the kernel's choice, so it is not a well-known one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid):
    """Pids whose parent is `pid`, from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            children.append(int(entry))
    return children


def descendants_of(pid):
    """Every process below `pid`."""
    found, todo = [], [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


class Cluster:
    """A private Slurm cluster in a new temporary directory: munged, slurmctld and slurmd
    n1..n4 (see above). Used as `with Cluster(sandbox) as cluster:`; when the `with` ends the
    cluster is torn down and its directory removed, its logs first copied into the sandbox if
    the test failed (the harness keeps a failing test's sandbox)."""

    def __init__(self, sandbox):
        # Short, because Slurm and PMIx put Unix sockets under it (at most 107 bytes a path).
        self.base = Path(tempfile.mkdtemp(prefix="jrslurm-"))
        self.sandbox = sandbox
        self.daemons = {}  # name -> Popen
        self.conf = self.base / "slurm.conf"
        # The daemons run as whoever runs the test: as an ordinary user, slurmd can start that
        # user's own jobs, which is all a test needs.
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    # --- bringing it up and down -------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, *_):
        try:
            self.stop()
        finally:
            if exc_type is not None and self.sandbox is not None:
                shutil.copytree(self.base / "log", self.sandbox.path / "slurm-log",
                                dirs_exist_ok=True)
            shutil.rmtree(self.base, ignore_errors=True)
        return False

    def start(self):
        d = self.base
        for sub in ["munge", "ctld", "log"] + [f"spool/{n}" for n in NODES] + \
                [f"tmp/{n}" for n in NODES]:
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        host = socket.gethostname().split(".")[0]
        nodes = "\n".join(
            f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={free_port()} "
            f"CPUs={CPUS_PER_NODE} RealMemory=1000 State=UNKNOWN" for n in NODES)
        self.conf.write_text(textwrap.dedent(f"""\
            ClusterName=jrtest
            SlurmctldHost=localhost
            SlurmctldPort={free_port()}
            SlurmUser={self.user}
            SlurmdUser={self.user}
            AuthType=auth/munge
            CredType=cred/munge
            AuthInfo=socket={d}/munge/munge.sock
            StateSaveLocation={d}/ctld
            SlurmdSpoolDir={d}/spool/%n
            SlurmctldPidFile={d}/slurmctld.pid
            SlurmdPidFile={d}/slurmd-%n.pid
            SlurmctldLogFile={d}/log/slurmctld.log
            SlurmdLogFile={d}/log/slurmd-%n.log
            TmpFS={d}/tmp/%n
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            SlurmdParameters=config_overrides
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            JobCompType=jobcomp/none
            MpiDefault=none
            ReturnToService=2
            SchedulerParameters=sched_interval=1
            SlurmdTimeout=30
            InactiveLimit=0
            KillWait=5
            MinJobAge=600
            """) + nodes + "\nPartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE "
                                "State=UP\n")
        self.spawn("munged", ["munged", "--foreground", "--force", f"--key-file={key}",
                              f"--socket={d}/munge/munge.sock",
                              f"--pid-file={d}/munge/munged.pid",
                              f"--log-file={d}/munge/munged.log",
                              f"--seed-file={d}/munge/munge.seed"])
        self.wait_for(lambda: (d / "munge" / "munge.sock").exists(), "munged's socket")
        self.spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        for n in NODES:
            self.spawn(f"slurmd-{n}", ["slurmd", "-D", "-f", str(self.conf), "-N", n])
        self.wait_for(self.all_idle, "every node idle in sinfo")

    def spawn(self, name, command):
        log = open(self.base / "log" / f"{name}.console", "wb")
        with log:
            self.daemons[name] = subprocess.Popen(command, env=self.env(), stdin=subprocess.DEVNULL,
                                                  stdout=log, stderr=subprocess.STDOUT)

    def wait_for(self, ready, what):
        deadline = time.monotonic() + DAEMONS_READY_WITHIN_S
        while time.monotonic() < deadline:
            for name, daemon in self.daemons.items():
                expect(daemon.poll() is None,
                       f"{name} exited with {daemon.returncode} while waiting for {what}:\n"
                       + self.log_tail())
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {DAEMONS_READY_WITHIN_S}s:\n" + self.log_tail())

    def all_idle(self):
        rc, out, _ = self.client(["sinfo", "-h", "-N", "-o", "%N %T"], check=False)
        states = dict(line.split() for line in out.splitlines() if line.strip())
        return rc == 0 and set(states) == set(NODES) and set(states.values()) == {"idle"}

    def stop(self):
        """Cancels every job, stops the daemons by pid and kills whatever the jobs left."""
        try:
            if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
                self.client(["scancel", "--user", str(os.geteuid())], check=False)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    rc, out, _ = self.client(["squeue", "-h", "-o", "%i"], check=False)
                    if rc != 0 or not out.strip():
                        break
                    time.sleep(0.2)
        finally:
            # slurmds first, then slurmctld, then munged, which the others talk to to the end.
            order = [n for n in self.daemons if n.startswith("slurmd")] + \
                    [n for n in ("slurmctld", "munged") if n in self.daemons]
            for name in order:
                daemon = self.daemons[name]
                if daemon.poll() is None:
                    daemon.terminate()
                    try:
                        daemon.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        daemon.kill()
                        daemon.wait()
            # Job processes Slurm left behind (slurmstepd, ranks, tasks) are orphans, and this
            # process is their subreaper: kill them, and reap them.
            deadline = time.monotonic() + 10
            while (left := descendants_of(os.getpid())) and time.monotonic() < deadline:
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                reap_orphans()
                time.sleep(0.05)
            reap_orphans()

    # --- using it ----------------------------------------------------------------------------

    def env(self, extra=None):
        """This machine's environment without any other Slurm's settings, plus SLURM_CONF."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_"))}
        env["SLURM_CONF"] = str(self.conf)
        env.update(extra or {})
        return env

    def client(self, command, cwd=None, env=None, check=True):
        """Runs a Slurm client command under `timeout`: (rc, stdout, stderr)."""
        completed = subprocess.run(
            ["timeout", "-k", "5", str(CLIENT_LIMIT_S)] + command, cwd=cwd or "/",
            env=self.env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            check=False)
        if check and completed.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {completed.returncode}: "
                                 f"{completed.stderr.strip()}")
        return completed.returncode, completed.stdout, completed.stderr

    def job(self, job_id):
        """scontrol's fields of a job, as a dict."""
        _, out, _ = self.client(["scontrol", "show", "job", "-o", str(job_id)])
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def hostnames(self, nodelist):
        """The nodes of a Slurm node list such as n[1-2]."""
        _, out, _ = self.client(["scontrol", "show", "hostnames", nodelist])
        return set(out.split())

    def jobs_named(self, name):
        """Ids of every job (any state) with this name, in submission order."""
        _, out, _ = self.client(["squeue", "-h", "-t", "all", "-n", name, "-o", "%i"])
        return sorted(int(j) for j in out.split())

    def wait_until_done(self, names, limit_s):
        """Waits until no job of these names is pending or running; False if limit_s passed."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            _, out, _ = self.client(["squeue", "-h", "-n", ",".join(names), "-o", "%i"])
            if not out.strip():
                return True
            time.sleep(0.5)
        return False

    def log_tail(self, lines=15):
        text = []
        for path in sorted((self.base / "log").glob("*")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            if tail:
                text.append(f"{path.name}:")
                text.extend("  | " + line for line in tail)
        return "\n".join(text)


def reap_orphans():
    """Reaps every exited child that is no Popen of ours (orphans this subreaper inherited)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def why_not_runnable():
    """None if a private Slurm cluster can run here, else the reason it cannot."""
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol",
                 "scancel", "sinfo", "mpirun", "timeout"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed or not in PATH (scripts/install-deps installs it)"
    # `srun --mpi=list` needs a configuration file, not a cluster.
    with tempfile.TemporaryDirectory(prefix="jrslurm-") as d:
        conf = Path(d) / "slurm.conf"
        conf.write_text("ClusterName=probe\nSlurmctldHost=localhost\n")
        mpi = subprocess.run(["timeout", "-k", "5", "30", "srun", "--mpi=list"],
                             capture_output=True, text=True, check=False,
                             env={**os.environ, "SLURM_CONF": str(conf)})
    if "pmix" not in mpi.stdout + mpi.stderr:
        return "Slurm's PMIx plugin is missing (`srun --mpi=list` names no pmix)"
    if os.geteuid() != 0:
        # Whether the daemons run as this user depends on the machine: try. As root they must.
        try:
            with Cluster(None):
                pass
        except Exception as error:  # pylint: disable=broad-except
            return (f"Slurm's daemons do not run here as {pwd.getpwuid(os.geteuid()).pw_name} "
                    f"(not root): {str(error)[:2000]}")
    return None


def become_subreaper():
    """Makes this process the reaper of orphaned job processes, and ctest's SIGTERM an exception,
    so that the cluster's teardown runs and finds every process the jobs left."""
    # Orphaned job processes (slurmstepd daemonizes) become this process's children, so that
    # the teardown finds every one of them.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("warning: cannot become a child subreaper", file=sys.stderr, flush=True)

    # ctest's timeout sends SIGTERM: turn it into an exception so that `finally` tears the
    # cluster down.
    def stop(*_):
        print("SIGTERM: stopping; tearing the Slurm cluster down", file=sys.stderr, flush=True)
        sys.exit(128 + signal.SIGTERM)
    signal.signal(signal.SIGTERM, stop)
