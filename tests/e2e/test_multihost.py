"""Real multi-host runs: jobrunner across three "hosts" made of network namespaces on one machine.

Each test brings up its own hosts with scripts/multihost/netns-up (namespaces <prefix>-node1..3 on
a bridge, the prefix unique to this process and test) and removes them with netns-down in a
`finally`, even when the test fails or the process gets SIGTERM. mpirun runs inside node1 and
starts an orted on every host through scripts/multihost/nsrsh, which also gives each host its
own hostname (node1, node2, node3), so the `host` in results.jsonl is the host a task really ran
on. Every mpirun runs under `timeout -k 10 N`, with the oob keepalive settings that make Open MPI
notice a lost host within seconds.

Needs root (network namespaces); without root, `ip`, or a working `ip netns add` (a container
without CAP_SYS_ADMIN), every test is skipped with a SKIP line and the file exits 0.
The tests pick their own rank counts, so they run only under `--np 2` (ctest runs every e2e file
once per rank count); under any other --np the file prints a SKIP line and exits 0.

    python3 tests/e2e/test_multihost.py --np 2 [test_name ...]   # JOBRUNNER_BIN=build/jobrunner
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace

from harness import (KILL_AFTER_S, REPO_ROOT, Hung, Run, execute, expect, expect_equal,
                     jobrunner_binary, run_tests)
from reliability import read_all_results

SCRIPTS = REPO_ROOT / "scripts" / "multihost"
NSRSH = SCRIPTS / "nsrsh"
# The rank count these tests are registered under (see the module docstring).
RUNS_UNDER_NP = 2
# Namespaces of this file are named jrmh<pid>x<n>-...: <pid> is the test process, so leftovers of
# a test process that no longer exists (killed with -9) can be told apart from a live run's.
PREFIX_PATTERN = re.compile(r"^(jrmh(\d+)x\d+)-")
MPI_OPTIONS = [
    "--mca", "plm_rsh_agent", str(NSRSH),
    "--mca", "btl", "tcp,self",
    "--mca", "btl_tcp_if_include", "mpi0",
    "--mca", "oob_tcp_if_include", "mpi0",
    # Without these, a lost host is noticed only after minutes (Open MPI's default keepalive).
    "--mca", "oob_tcp_keepalive_time", "2",
    "--mca", "oob_tcp_keepalive_intvl", "1",
    "--mca", "oob_tcp_keepalive_probes", "3",
    "--allow-run-as-root",  # the tests run only as root
]
TASKS = 30
HOSTS = ("node1", "node2", "node3")
# Open MPI maps by slot: ranks 0 (the coordinator) and 1 on node1, rank 2 on node2, rank 3 on
# node3, so every host has one worker.
HOSTFILE_3 = "node1 slots=2\nnode2 slots=1\nnode3 slots=1\n"
HOSTFILE_2 = "node1 slots=2\nnode2 slots=1\n"
# How soon mpirun must end after a host dies (measured: about 1 s).
CRASH_NOTICED_WITHIN_S = 15


def manifest(command):
    """TASKS tasks host-0..host-29 running the shell string `command`."""
    return textwrap.dedent(f"""\
        version: 1
        tasks:
          - id: host-{{n}}
            command: {json.dumps(command)}
            matrix:
              n: {{range: [0, {TASKS}]}}
        """)


def all_task_ids():
    return [f"host-{n}" for n in range(TASKS)]


# ---------------------------------------------------------------------------------------------
# Hosts (network namespaces)


def namespaces():
    """Names of every network namespace on the machine."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in listing.stdout.splitlines() if line.strip()]


def pids_in(namespace):
    """Pids of the processes in a network namespace (none if it does not exist)."""
    listing = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True,
                             check=False)
    return [int(pid) for pid in listing.stdout.split()]


class Hosts:
    """N hosts node1..nodeN from netns-up, removed with netns-down when the `with` ends."""

    counter = 0

    def __init__(self, n=3):
        Hosts.counter += 1
        pid = os.getpid()
        self.n = n
        self.prefix = f"jrmh{pid}x{Hosts.counter}"
        self.subnet = f"10.213.{(pid + Hosts.counter) % 250 + 1}"

    def namespace(self, host):
        return f"{self.prefix}-{host}"

    def __enter__(self):
        up = subprocess.run(["timeout", "-k", "5", "30", str(SCRIPTS / "netns-up"), self.prefix,
                             str(self.n), self.subnet], capture_output=True, text=True,
                            check=False)
        if up.returncode != 0:
            self.down()
            raise AssertionError(f"netns-up {self.prefix} failed ({up.returncode}): {up.stderr}")
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def down(self):
        down = subprocess.run(["timeout", "-k", "5", "30", str(SCRIPTS / "netns-down"),
                               self.prefix], capture_output=True, text=True, check=False)
        if down.returncode != 0:
            print(f"    warning: netns-down {self.prefix} failed: {down.stderr.strip()}",
                  flush=True)

    def env(self):
        """Environment for mpirun: tells nsrsh which namespaces are ours."""
        return {"NSRSH_PREFIX": self.prefix}

    def mpirun(self, hostfile, np, *jobrunner_args):
        """`ip netns exec <node1> mpirun ... jobrunner --progress log ARGS` (not yet run)."""
        return (["ip", "netns", "exec", self.namespace("node1"), "mpirun", "--hostfile",
                 str(hostfile), "-n", str(np), "--display-map", *MPI_OPTIONS,
                 os.path.abspath(jobrunner_binary()), "--progress", "log",
                 *[str(a) for a in jobrunner_args]])

    def run(self, sandbox, hostfile, np, *jobrunner_args, run_dir=None, limit_s=60):
        """Runs `mpirun(hostfile, np, ARGS)` to its end and returns its harness Run, also
        appended to sandbox.runs for failure reports."""
        command = self.mpirun(hostfile, np, *jobrunner_args)
        rc, stdout, stderr, elapsed = execute(command, sandbox.path, limit_s, self.env())
        run = Run(command, sandbox.path, rc, stdout, stderr, elapsed, run_dir)
        sandbox.runs.append(run)
        return run

    def processes(self):
        """host -> pids still running in it."""
        return {host: pids for host in HOSTS[:self.n]
                if (pids := pids_in(self.namespace(host)))}

    def wait_until_empty(self, within_s):
        """Waits until no process is left on any host; returns those left after within_s."""
        deadline = time.monotonic() + within_s
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left


def remove_stale_namespaces():
    """netns-down for namespaces of this file whose test process no longer exists."""
    prefixes = {m.groups() for ns in namespaces() if (m := PREFIX_PATTERN.match(ns))}
    for prefix, pid in sorted(prefixes):
        if not Path(f"/proc/{pid}").exists():
            print(f"removing namespaces {prefix}-* left by a test process that is gone",
                  flush=True)
            subprocess.run(["timeout", "-k", "5", "30", str(SCRIPTS / "netns-down"), prefix],
                           check=False)


# ---------------------------------------------------------------------------------------------
# Results


def process_map(stdout):
    """rank -> host from mpirun --display-map (printed once per daemon; every copy must agree)."""
    ranks, host = {}, None
    for line in stdout.splitlines():
        if m := re.search(r"Data for node: (\S+)", line):
            host = m.group(1)
        elif (m := re.search(r"Process rank: (\d+)", line)) and host is not None:
            rank = int(m.group(1))
            expect(ranks.setdefault(rank, host) == host,
                   f"--display-map puts rank {rank} on both {ranks[rank]} and {host}")
    return ranks


def expect_output_names_host(run_dir, attempt):
    """A succeeded attempt's stdout is `hostname` as the task saw it: the host it is recorded on."""
    task = attempt["task"]
    if attempt.get("recovered"):  # rebuilt from the journal: no host
        path = Path(run_dir) / "logs" / f"{task}.{attempt['attempt']}.out"
        expect(path.read_text().strip() in HOSTS, f"{path} holds no host name")
        return
    expect(attempt["host"] in HOSTS, f"host of {task}: {attempt['host']!r}")
    expect(attempt["stdout"] is not None, f"{task} attempt {attempt['attempt']} has no stdout")
    output = (Path(run_dir) / attempt["stdout"]).read_text()
    expect_equal(output, attempt["host"] + "\n",
                 f"output (its hostname) of {task} attempt {attempt['attempt']}")


def report(text):
    print(textwrap.indent("info: " + text, "    "), flush=True)


# ---------------------------------------------------------------------------------------------
# Tests


def test_tasks_run_on_three_hosts_and_each_reports_its_own_hostname(sandbox):
    """node1 (coordinator and a worker), node2 and node3: 30 tasks print `hostname`. Every task
    succeeds once; every host runs some; each task's output is the host its result names."""
    sandbox.write("manifest.yaml", manifest("hostname && sleep 0.2"))
    hostfile = sandbox.write("hosts", HOSTFILE_3)
    run_dir = sandbox.path / "run"
    with Hosts(3) as hosts:
        run = hosts.run(sandbox, hostfile, 4, "--out", run_dir, sandbox.path / "manifest.yaml",
                        run_dir=run_dir)
        rc, stdout, stderr, elapsed = run.rc, run.stdout, run.stderr, run.elapsed_s
        expect_equal(rc, 0, "mpirun exit status")
        left = hosts.wait_until_empty(5)
        expect_equal(left, {}, "processes left on the hosts 5 s after the run")

    ranks = process_map(stdout)
    expect_equal(ranks, {0: "node1", 1: "node1", 2: "node2", 3: "node3"},
                 "Open MPI's rank -> host map")
    run.attempts, summaries = read_all_results(run_dir)
    expect_equal(sorted(a["task"] for a in run.attempts), sorted(all_task_ids()),
                 "tasks in results.jsonl (each exactly once)")
    for attempt in run.attempts:
        expect_equal(attempt["outcome"], "succeeded", f"outcome of {attempt['task']}")
        expect_equal(attempt["host"], ranks[attempt["worker"]],
                     f"host of {attempt['task']}, against the map for worker {attempt['worker']}")
        expect_output_names_host(run_dir, attempt)
    per_host = Counter(a["host"] for a in run.attempts)
    expect_equal(set(per_host), set(HOSTS), "hosts that ran tasks")
    expect_equal(len(summaries), 1, "summary lines")
    expect_equal(summaries[0]["exit_status"], 0, "summary exit_status")
    report(f"rank -> host: {ranks}; tasks per host: {dict(sorted(per_host.items()))}; "
           f"mpirun took {elapsed:.1f}s")


def test_node_setup_runs_once_per_host_and_a_failed_one_takes_its_host_out(sandbox):
    """node1 (coordinator and two workers), node2 and node3, with node_setup and
    node_teardown; the set-up fails on node2. Proves: the set-up ran once per host, by its
    lowest worker rank, with JOBRUNNER_NODE_RANK 0, 1, 2 in rank order; the run names node2 and
    its log; node2 ran no task; every task succeeded once, on node1 and node3, each after its
    host's set-up ended (a task fails without its host's `ready-<host>` file, so node1's second
    worker had to wait); each host's teardown started after its last task; exit status 1."""
    sandbox.write("manifest.yaml", textwrap.dedent(f"""\
        version: 1
        node_setup: "sleep 0.5; test $JOBRUNNER_NODE_HOST != node2 || exit 2; echo $JOBRUNNER_NODE_RANK > {sandbox.path}/ready-$JOBRUNNER_NODE_HOST"
        node_teardown: "echo torn >> {sandbox.path}/torn-$JOBRUNNER_NODE_HOST"
        tasks:
          - id: host-{{n}}
            command: "test -e {sandbox.path}/ready-$(hostname) && sleep 0.1"
            matrix:
              n: {{range: [0, {TASKS}]}}
        """))
    hostfile = sandbox.write("hosts", "node1 slots=3\nnode2 slots=1\nnode3 slots=1\n")
    run_dir = sandbox.path / "run"
    with Hosts(3) as hosts:
        run = hosts.run(sandbox, hostfile, 5, "--out", run_dir, sandbox.path / "manifest.yaml",
                        run_dir=run_dir)
        rc, stdout, stderr, elapsed = run.rc, run.stdout, run.stderr, run.elapsed_s
    expect_equal(rc, 1, "mpirun exit status (a set-up failed)")
    ranks = process_map(stdout)
    expect_equal(ranks, {0: "node1", 1: "node1", 2: "node1", 3: "node2", 4: "node3"},
                 "Open MPI's rank -> host map")
    lines, summaries = read_all_results(run_dir)
    setups = {a["host"]: a for a in lines if a.get("per_worker") == "node_setup"}
    teardowns = {a["host"]: a for a in lines if a.get("per_worker") == "node_teardown"}
    tasks = [a for a in lines if a.get("per_worker") is None]
    expect_equal({h: (a["worker"], a["outcome"]) for h, a in setups.items()},
                 {"node1": (1, "succeeded"), "node2": (3, "failed"), "node3": (4, "succeeded")},
                 "node_setup per host: (worker, outcome)")
    expect_equal({h: (sandbox.path / f"ready-{h}").read_text() for h in ("node1", "node3")},
                 {"node1": "0\n", "node3": "2\n"}, "JOBRUNNER_NODE_RANK of each host")
    expect(f"node set-up on host node2 failed with exit status 2: its workers take no tasks; "
           f"see {run_dir}/logs/node-setup.node2.1.err" in stderr, f"stderr:\n{stderr}")
    expect_equal(sorted(a["task"] for a in tasks), sorted(all_task_ids()),
                 "tasks in results.jsonl (each exactly once)")
    expect(all(a["outcome"] == "succeeded" for a in tasks), f"outcomes: {tasks}")
    per_host = Counter(a["host"] for a in tasks)
    expect(set(per_host) <= {"node1", "node3"}, f"hosts that ran tasks: {per_host}")
    expect_equal({a["worker"] for a in tasks if a["host"] == "node1"}, {1, 2},
                 "node1's workers that ran tasks (the second waited for the first's set-up)")
    for task in tasks:
        expect(task["start"] >= setups[task["host"]]["end"],
               f"{task['task']} started before its host's set-up ended")
    expect_equal(sorted(teardowns), ["node1", "node2", "node3"], "hosts that ran the teardown")
    for host, teardown in teardowns.items():
        ends = [a["end"] for a in tasks if a["host"] == host]
        expect(not ends or teardown["start"] >= max(ends),
               f"{host}'s teardown started before its last task ended")
        expect_equal((sandbox.path / f"torn-{host}").read_text(), "torn\n",
                     f"{host}'s teardown ran once")
    expect_equal(summaries[-1]["exit_status"], 1, "summary exit_status")
    report(f"tasks per host: {dict(sorted(per_host.items()))}; mpirun took {elapsed:.1f}s")


def test_a_host_that_dies_ends_the_run_and_resume_finishes_on_the_others(sandbox):
    """node3 "crashes" (SIGKILL to every process in its namespace) while its tasks run: mpirun
    exits non-zero within seconds, and --resume on node1 and node2 alone completes the run, each
    task succeeding exactly once over both runs, after at most `interrupted` attempts; the tasks
    node3 was running succeed again elsewhere."""
    # On node3 a task runs 30 s, so node3 is certainly mid-task when it dies.
    sandbox.write("manifest.yaml", manifest(
        'hostname && if [ "$(hostname)" = node3 ]; then sleep 30; else sleep 0.3; fi'))
    hostfile_3 = sandbox.write("hosts-3", HOSTFILE_3)
    hostfile_2 = sandbox.write("hosts-2", HOSTFILE_2)
    manifest_path = sandbox.path / "manifest.yaml"
    run_dir = sandbox.path / "run"
    with Hosts(3) as hosts:
        command = hosts.mpirun(hostfile_3, 4, "--out", run_dir, manifest_path)
        limit_s = 45
        # Crash node3 once it runs tasks and node1/node2 have finished a few.
        seen = run_and_fault_node3(sandbox, hosts, command, run_dir, crash_node3, name="run-1",
                                   what="mpirun", verb="crashed", wait_s=20, done_at_least=4,
                                   limit_s=limit_s, end_wait_s=limit_s)
        run, rc, victims, on_node3 = seen.run, seen.run.rc, seen.fault_result, seen.on_node3
        started, crashed_at, exited_at = seen.started, seen.fault_monotonic, seen.ended
        expect(rc is not None, "mpirun did not end after node3 died")
        expect(rc != 0, f"mpirun exited {rc} although node3 died mid-run")
        noticed_s = exited_at - crashed_at
        expect(noticed_s < CRASH_NOTICED_WITHIN_S,
               f"mpirun took {noticed_s:.1f}s to end after node3 died")
        left = hosts.wait_until_empty(5)
        expect_equal(left, {}, "processes left on the hosts 5 s after mpirun ended")
        first_attempts, first_summaries = read_all_results(run_dir)

        resumed = hosts.run(sandbox, hostfile_2, 3, "--resume", run_dir, manifest_path,
                            run_dir=run_dir)
        rc2, stdout2, resume_s = resumed.rc, resumed.stdout, resumed.elapsed_s
        expect_equal(rc2, 0, "exit status of --resume on node1 and node2")

    expect_equal(process_map(stdout2), {0: "node1", 1: "node1", 2: "node2"},
                 "Open MPI's rank -> host map of the resume")
    attempts, summaries = read_all_results(run_dir)
    resumed.attempts = attempts
    expect_equal(attempts[:len(first_attempts)], first_attempts,
                 "the first run's lines, kept as they were")
    by_task = defaultdict(list)
    for attempt in attempts:
        by_task[attempt["task"]].append(attempt)
    expect_equal(sorted(by_task), sorted(all_task_ids()), "tasks in results.jsonl")
    for task, its in by_task.items():
        outcomes = Counter(a["outcome"] for a in its)
        expect_equal(outcomes["succeeded"], 1, f"succeeded attempts of {task}: {its}")
        expect_equal(set(outcomes) - {"succeeded", "interrupted"}, set(),
                     f"outcomes of {task} other than succeeded/interrupted: {its}")
        numbers = [a["attempt"] for a in its]
        expect_equal(len(set(numbers)), len(numbers), f"attempt numbers of {task}: {its}")
        success = next(a for a in its if a["outcome"] == "succeeded")
        expect_equal(success["attempt"], max(numbers), f"{task}: the success is the last attempt")
        expect_output_names_host(run_dir, success)
    for task in sorted(on_node3):
        success = next(a for a in by_task[task] if a["outcome"] == "succeeded")
        expect(success["attempt"] >= 2 and success["host"] in ("node1", "node2"),
               f"{task}, running on node3 when it died, succeeded on {success['host']} in "
               f"attempt {success['attempt']}")
        first_log = run_dir / "logs" / f"{task}.1.out"
        expect_equal(first_log.read_text(), "node3\n", f"{first_log} (attempt 1 ran on node3)")
        first = [a["outcome"] for a in by_task[task] if a["attempt"] == 1]
        expect_equal(first, ["interrupted"], f"outcomes of attempt 1 of {task}")
    resumed_attempts = attempts[len(first_attempts):]
    resume_hosts = {a["host"] for a in resumed_attempts if a["outcome"] == "succeeded"}
    expect(resume_hosts <= {"node1", "node2"}, f"the resume ran tasks on {sorted(resume_hosts)}")
    expect_equal(len(summaries), len(first_summaries) + 1, "summary lines after the resume")
    expect_equal(summaries[-1]["exit_status"], 0, "the resume's summary exit_status")
    expect_equal(summaries[-1]["succeeded_total"], TASKS, "the resume's summary succeeded_total")

    first_done = Counter(a["outcome"] for a in first_attempts)
    report(f"node3 killed {crashed_at - started:.1f}s after start (pids {victims}, running "
           f"{sorted(on_node3)}); mpirun exited {rc} {noticed_s:.1f}s later; first run: "
           f"{dict(first_done)}, {len(first_summaries)} summary line(s); resume on 2 hosts took "
           f"{resume_s:.1f}s")


def crash_node3(hosts):
    return crash(hosts.namespace("node3"))


def run_and_fault_node3(sandbox, hosts, command, run_dir, fault, name, what, verb, wait_s,
                        done_at_least, limit_s, end_wait_s):
    """Runs `command` under `timeout limit_s`, in a session of its own with the hosts'
    environment (output in <name>.stdout and .stderr); once node3 runs tasks and
    `done_at_least` tasks have succeeded (within `wait_s`, else the test fails: "`what` ended
    before node3 could be `verb`"), calls fault(hosts), then waits up to `end_wait_s` for the
    command to end. Whatever happens, nothing of the command outlives this call. Returns what
    it saw: run (a harness Run, appended to sandbox.runs; rc None when the command did not
    end), started, ended and fault_monotonic (time.monotonic()), fault_at (time.time()),
    on_node3 (the task pids seen there) and fault_result (what fault returned)."""
    results = run_dir / "results.jsonl"
    timed = ["timeout", "-k", str(KILL_AFTER_S), str(limit_s)] + command
    out_path, err_path = sandbox.path / f"{name}.stdout", sandbox.path / f"{name}.stderr"
    seen = SimpleNamespace(started=time.monotonic(), on_node3=set())
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen(timed, cwd=sandbox.path, env={**os.environ, **hosts.env()},
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
    rc = None
    try:
        node3 = hosts.namespace("node3")
        deadline = seen.started + wait_s
        while time.monotonic() < deadline and process.poll() is None:
            seen.on_node3 = running_tasks(pids_in(node3))
            done = results.read_text().count('"succeeded"') if results.exists() else 0
            if seen.on_node3 and done >= done_at_least:
                break
            time.sleep(0.05)
        expect(process.poll() is None, f"{what} ended before node3 could be {verb}")
        expect(seen.on_node3, f"node3 ran no task within {wait_s} s")
        seen.fault_at = time.time()
        seen.fault_monotonic = time.monotonic()
        seen.fault_result = fault(hosts)
        try:
            rc = process.wait(timeout=end_wait_s)
        except subprocess.TimeoutExpired:
            pass
        seen.ended = time.monotonic()
    finally:
        if process.poll() is None:  # whatever happens, nothing of this run outlives the test
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    seen.run = Run(command, sandbox.path, rc, out_path.read_text(errors="replace"),
                   err_path.read_text(errors="replace"), seen.ended - seen.started, run_dir)
    sandbox.runs.append(seen.run)
    return seen


def running_tasks(pids):
    """Ids of the jobrunner tasks among `pids` (from JOBRUNNER_TASK_ID in their environment)."""
    tasks = set()
    for pid in pids:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:  # gone already
            continue
        for entry in environ:
            if entry.startswith(b"JOBRUNNER_TASK_ID="):
                tasks.add(entry.split(b"=", 1)[1].decode())
    return tasks


def crash(namespace):
    """SIGKILL to every process in the namespace until none is left: the host is gone."""
    killed = []
    deadline = time.monotonic() + 5
    while (pids := pids_in(namespace)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    expect_equal(pids_in(namespace), [], f"processes left in {namespace} after SIGKILL")
    return killed


# ---------------------------------------------------------------------------------------------
# Main: like harness.run_tests, plus skipping


def why_not_runnable():
    """None if network namespaces can be used here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "unshare", "mpirun", "timeout"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (or not in PATH)"
    probe = f"jrmh{os.getpid()}probe"
    added = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                           check=False)
    if added.returncode != 0:
        return f"'ip netns add' fails here: {added.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


def skip_reason(np):
    if np != RUNS_UNDER_NP:
        return (f"the multi-host tests choose their own rank counts and run once, under "
                f"--np {RUNS_UNDER_NP}; nothing to do for --np {np}")
    return why_not_runnable()


def exit_on_sigterm():
    """ctest's timeout sends SIGTERM: turn it into an exception so that `finally` removes the
    namespaces and kills whatever runs in them. (test_lost_host.py uses it too.)"""
    def stop(*_):
        print("SIGTERM: stopping; removing this run's namespaces", file=sys.stderr, flush=True)
        sys.exit(128 + signal.SIGTERM)
    signal.signal(signal.SIGTERM, stop)


def setup():
    exit_on_sigterm()
    remove_stale_namespaces()


if __name__ == "__main__":
    run_tests(globals(), skip_reason, setup)
