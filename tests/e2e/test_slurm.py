"""Real Slurm: the batch templates in scripts/slurm/ on a private Slurm cluster on one machine.

Each test starts its own cluster in a fresh temporary directory: a munged with its own key and
socket, a slurmctld, and four slurmd "fake nodes" n1..n4 (four CPUs each), every daemon in the
foreground as a child of this process, on ports nobody is listening on, with all state, spool,
logs and sockets under that directory, so it never meets another Slurm or munge on the machine.
The test then submits scripts/slurm/jobrunner.sbatch (mpirun inside the job) and
scripts/slurm/jobrunner-srun.sbatch (srun --mpi=pmix) with sbatch, side by side, and reads the
run directories and the jobs' output files. The cluster is torn down in a `finally`, always:
every job cancelled, the daemons stopped by pid, then whatever is left of the jobs (this process
is a child subreaper, so orphaned slurmstepd and job processes become its children) killed.

The fake nodes share this machine's hostname, so the jobs run with OMPI_MCA_btl=self,tcp (Open
MPI's shared-memory transport would mix up their segments) and slurm.conf gives each node its
own TmpFS (Slurm's PMIx plugin keeps per-node sockets there).

The daemons run as the user running the test (as an ordinary user, slurmd starts that user's
own jobs). Needs the Debian packages slurmctld, slurmd, slurm-client and munge
(scripts/install-deps); without them, or when the daemons cannot run as this ordinary user
(tried first), every test is skipped with a SKIP line.
The tests choose their own ranks, so they run only under `--np 2`.

    python3 tests/e2e/test_slurm.py --np 2 [test_name ...]   # JOBRUNNER_BIN=build/jobrunner
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
from collections import Counter, defaultdict
from pathlib import Path

from harness import REPO_ROOT, Run, expect, expect_equal, expect_in, jobrunner_binary, \
    run_tests
from reliability import read_all_results

TEMPLATES = {
    "mpirun": REPO_ROOT / "scripts" / "slurm" / "jobrunner.sbatch",
    "srun": REPO_ROOT / "scripts" / "slurm" / "jobrunner-srun.sbatch",
}
RUNS_UNDER_NP = 2
NODES = ("n1", "n2", "n3", "n4")
CPUS_PER_NODE = 4
# Bounds on waiting for the daemons, and for the jobs of one test.
DAEMONS_READY_WITHIN_S = 30
PR_SET_CHILD_SUBREAPER = 36
CLIENT_LIMIT_S = 30


def report(text):
    print(textwrap.indent("info: " + text, "    "), flush=True)


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


# ---------------------------------------------------------------------------------------------
# Submitting the templates


def job_env(**settings):
    """The environment a test submits with (sbatch exports it to the job)."""
    env = {"JOBRUNNER": os.path.abspath(jobrunner_binary()),
           # The fake nodes share one host: Open MPI's shared-memory segments would collide.
           "OMPI_MCA_btl": "self,tcp"}
    if os.geteuid() == 0:  # mpirun has --allow-run-as-root; srun's ranks read only these
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(settings)
    return env


def submit(cluster, sandbox, style, name, args, sbatch_options=(), env=None):
    """sbatch the template of `style` ("mpirun" or "srun") from the sandbox; returns the job id."""
    command = ["sbatch", "--parsable", f"--job-name={name}", *sbatch_options,
               str(TEMPLATES[style]), *args]
    _, out, _ = cluster.client(command, cwd=sandbox.path, env=env)
    return int(out.strip().split(";")[0])


def output_of(sandbox, job_id):
    """The job's output file: the template's default, jobrunner-<job id>.out in the submit dir."""
    path = sandbox.path / f"jobrunner-{job_id}.out"
    return path.read_text(errors="replace") if path.exists() else ""


def record(sandbox, style, job_id, run_dir, cluster):
    """Adds the job as a harness Run, so that a failing test shows its output."""
    info = cluster.job(job_id)
    rc = int(info.get("ExitCode", "-1:0").split(":")[0])
    run = Run([f"sbatch {TEMPLATES[style].name} (job {job_id}, {info.get('JobState')})"],
              sandbox.path, rc, output_of(sandbox, job_id), cluster.log_tail(8), 0.0, run_dir)
    sandbox.runs.append(run)
    return info


def manifest(tasks, command):
    return textwrap.dedent(f"""\
        version: 1
        tasks:
          - id: t-{{n}}
            command: {command!r}
            matrix:
              n: {{range: [0, {tasks}]}}
        """)


def expect_each_task_succeeded_once(run_dir, tasks, what):
    """Every task t-0..t-<tasks-1> succeeded exactly once over every run in run_dir, and its only
    other attempts are `interrupted` ones; returns (attempts, summaries)."""
    attempts, summaries = read_all_results(run_dir)
    by_task = defaultdict(list)
    for attempt in attempts:
        by_task[attempt["task"]].append(attempt)
    expect_equal(sorted(by_task), sorted(f"t-{n}" for n in range(tasks)),
                 f"{what}: tasks in results.jsonl")
    for task, its in by_task.items():
        outcomes = Counter(a["outcome"] for a in its)
        expect_equal(outcomes["succeeded"], 1, f"{what}: succeeded attempts of {task}: {its}")
        expect_equal(set(outcomes) - {"succeeded", "interrupted"}, set(),
                     f"{what}: outcomes of {task} other than succeeded/interrupted: {its}")
    expect(summaries, f"{what}: no summary line in {run_dir}/results.jsonl")
    expect_equal(summaries[-1]["exit_status"], 0, f"{what}: the last summary's exit_status")
    expect_equal(summaries[-1]["succeeded_total"], tasks,
                 f"{what}: the last summary's succeeded_total")
    return attempts, summaries


# ---------------------------------------------------------------------------------------------
# Tests


def test_a_manifest_completes_through_sbatch(sandbox):
    """Both templates, side by side, on the templates' own geometry (2 nodes x 2 ranks): each job
    completes with exit code 0, its run directory (the default, jobrunner-out/<job name>-<job
    id> under the submit directory) holds every task succeeded once, and tasks ran on both of
    the job's nodes (each task prints the Slurm node it ran on)."""
    tasks = 24
    sandbox.write("manifest.yaml", manifest(tasks, "echo $SLURMD_NODENAME; sleep 0.2"))
    with Cluster(sandbox) as cluster:
        jobs = {}
        for style in TEMPLATES:
            name = f"jr-complete-{style}"
            jobs[style] = (name, submit(cluster, sandbox, style, name, ["manifest.yaml"],
                                        env=job_env(DRAIN_GRACE="5s")))
        done = cluster.wait_until_done([name for name, _ in jobs.values()], 90)
        for style, (name, job_id) in jobs.items():
            run_dir = sandbox.path / "jobrunner-out" / f"{name}-{job_id}"
            info = record(sandbox, style, job_id, run_dir, cluster)
            expect(done, f"{style}: the job did not end within 90s")
            expect_equal(info["JobState"], "COMPLETED", f"{style}: state of job {job_id}")
            expect_equal(info["ExitCode"], "0:0", f"{style}: exit code of job {job_id}")
            expect_equal(info["NumNodes"], "2", f"{style}: nodes of job {job_id}")
            expect_equal(cluster.jobs_named(name), [job_id],
                         f"{style}: jobs named {name} (no continuation)")
            attempts, summaries = expect_each_task_succeeded_once(run_dir, tasks, style)
            expect_equal(len(summaries), 1, f"{style}: summary lines")
            nodes = Counter((run_dir / a["stdout"]).read_text().strip() for a in attempts)
            expect_equal(set(nodes), cluster.hostnames(info["NodeList"]),
                         f"{style}: nodes the tasks ran on")
            report(f"{style}: job {job_id} on {info['NodeList']}, tasks per node "
                   f"{dict(sorted(nodes.items()))}")


def test_a_run_past_its_time_limit_drains_and_continues_in_a_new_job(sandbox):
    """Both templates, side by side, each given a 1-minute limit (on the sbatch command line,
    which the continuation must carry over) and more work than fits: Slurm signals the batch
    shell (--signal=B:USR1@20), the run drains and the job exits 4, the job submits its
    continuation, which resumes the run in the same run directory; the run ends with every task
    succeeded exactly once (other attempts only `interrupted`). The mpirun job relies on the
    signal alone (TIME_LIMIT=none); the srun job also passes jobrunner the time left
    (TIME_LIMIT=auto), so either may start its drain."""
    tasks, slots = 450, 3  # about 50 s of `sleep 1` on 3 workers x 3 slots
    sandbox.write("manifest.yaml", manifest(tasks, "sleep 1"))
    settings = {"mpirun": {"TIME_LIMIT": "none"}, "srun": {}}
    started = time.monotonic()
    with Cluster(sandbox) as cluster:
        jobs = {}
        for style in TEMPLATES:
            name = f"jr-drain-{style}"
            env = job_env(DRAIN_GRACE="5s", JOBRUNNER_ARGS=f"--slots {slots}",
                          MAX_CONTINUATIONS="4", **settings[style])
            jobs[style] = (name, submit(cluster, sandbox, style, name,
                                        ["manifest.yaml", f"run-{style}"],
                                        ["--time=1", "--signal=B:USR1@20"], env))
        done = cluster.wait_until_done([name for name, _ in jobs.values()], 240)
        elapsed = time.monotonic() - started
        for style, (name, first) in jobs.items():
            run_dir = sandbox.path / f"run-{style}"
            ids = cluster.jobs_named(name)
            infos = {j: record(sandbox, style, j, run_dir, cluster) for j in ids}
            expect(done, f"{style}: jobs {ids} did not all end within 240s")
            expect(len(ids) >= 2, f"{style}: jobs {ids}: the run was not continued")
            expect_equal(ids[0], first, f"{style}: the first job")
            output = output_of(sandbox, first)
            for j in ids[:-1]:
                expect_equal((infos[j]["JobState"], infos[j]["ExitCode"]), ("FAILED", "4:0"),
                             f"{style}: state and exit code of drained job {j}")
                expect_in(f"continuing the run in job {ids[ids.index(j) + 1]} once job {j} "
                          "has ended", output, f"{style}: output of job {j}")
            last = infos[ids[-1]]
            expect_equal((last["JobState"], last["ExitCode"]), ("COMPLETED", "0:0"),
                         f"{style}: state and exit code of the last job {ids[-1]}")
            for j in ids[1:]:
                expect_equal((infos[j]["TimeLimit"], infos[j]["NumNodes"]), ("00:01:00", "2"),
                             f"{style}: time limit and nodes of continuation {j}")
                expect_equal(infos[j]["Dependency"], "(null)",
                             f"{style}: dependency of {j} once it ran")
                expect(not (sandbox.path / f"jobrunner-{j}.out").exists(),
                       f"{style}: continuation {j} wrote its own output file instead of "
                       f"appending to jobrunner-{first}.out")
            drain = re.search(r"warning: ([^:\n]*): draining", output)
            expect(drain, f"{style}: output of job {first} names no drain")
            if style == "mpirun":
                expect_equal(drain.group(1), "signal 10",
                             f"{style}: what started the drain (TIME_LIMIT=none)")
            # The resume command printed at the drain names the launcher that was used.
            launcher = {"mpirun": "mpirun -n 4", "srun": "srun --mpi=pmix -n 4"}[style]
            expect_in(f"{launcher} jobrunner --resume {run_dir} manifest.yaml", output,
                      f"{style}: output of job {first}")
            attempts, summaries = expect_each_task_succeeded_once(run_dir, tasks, style)
            expect_equal(len(summaries), len(ids), f"{style}: summary lines (one per job)")
            for number, summary in enumerate(summaries[:-1], start=1):
                expect_equal(summary["exit_status"], 4, f"{style}: exit_status of run {number}")
            per_run = [s["outcomes"]["succeeded"] for s in summaries]
            interrupted = sum(a["outcome"] == "interrupted" for a in attempts)
            report(f"{style}: jobs {ids}, first drain by {drain.group(1)}, tasks succeeded "
                   f"per job {per_run}, {interrupted} interrupted attempt(s)")
        report(f"both runs finished {elapsed:.0f}s after submission")


# ---------------------------------------------------------------------------------------------
# Main: like harness.run_tests, plus skipping


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


def skip_reason(np):
    if np != RUNS_UNDER_NP:
        return (f"the Slurm tests choose their own rank counts and run once, under "
                f"--np {RUNS_UNDER_NP}; nothing to do for --np {np}")
    return why_not_runnable()


def setup():
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


if __name__ == "__main__":
    run_tests(globals(), skip_reason, setup)
