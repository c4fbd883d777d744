"""Losing a host: `jobrunner launch` finishes the run on the hosts that are left.

Three "hosts" are network namespaces on one bridge (scripts/multihost, as in test_multihost.py,
under a prefix of this file's own, jrlh<pid>x<n>, so both files can run at once). The launch
runs inside node1, with scripts/multihost/nsrsh as its rsh agent; nsrsh reaches a host over the
bridge first, so a host whose link is down does not answer, as over ssh. Mid-run, node3 is lost:
  (a) every process in its namespace is killed (a crashed host whose machine still answers);
  (b) its link goes down (a host cut off from the network).
Either way the launch must notice, leave node3 out and resume on node1 and node2: the run ends
with status 0 and every task succeeds exactly once in results.jsonl, after at most an
`interrupted` attempt. The delay between the fault and the next launch's first task is printed
(not asserted: the machine is shared; the target is under 15 s).

Needs root (network namespaces); without it every test is skipped with a SKIP line. Registered
under --np 2 only (the tests choose their own ranks).

    python3 tests/e2e/test_lost_host.py --np 2 [test_name ...]   # JOBRUNNER_BIN=build/jobrunner
"""

import os
import re
import subprocess
import textwrap
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from harness import KILL_AFTER_S, expect, expect_equal, expect_in, jobrunner_binary, run_tests
from reliability import expect_each_succeeded_exactly_once, read_all_results
import test_multihost as multihost

TASKS = 300
HOSTS = ("node1", "node2", "node3")
# Every launch (and so the whole test) ends within this; a hang fails the test.
LIMIT_S = 90
PREFIX_PATTERN = re.compile(r"^(jrlh(\d+)x\d+)-")


class Hosts(multihost.Hosts):
    """node1..node3 as in test_multihost.py, under this file's own prefix and subnets."""

    def __init__(self, n=3):
        super().__init__(n)
        pid = os.getpid()
        self.prefix = f"jrlh{pid}x{multihost.Hosts.counter}"
        self.subnet = f"10.214.{(pid + multihost.Hosts.counter) % 250 + 1}"


def manifest():
    return textwrap.dedent(f"""\
        version: 1
        tasks:
          - id: t-{{n}}
            command: "hostname && sleep 0.08"
            matrix:
              n: {{range: [0, {TASKS}]}}
        """)


def launch_command(hosts, manifest_path, run_dir):
    return ["ip", "netns", "exec", hosts.namespace("node1"), os.path.abspath(jobrunner_binary()),
            "launch", "--hosts", ",".join(HOSTS), "--rsh-agent", str(multihost.NSRSH),
            "--interface", "mpi0", "--mca", "btl", "tcp,self", "--probe-timeout", "3s",
            "--", str(manifest_path), "--out", str(run_dir), "--slots", "2", "--progress", "log"]


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def lose_node3_mid_run(sandbox, how, fault):
    """Starts the launch on three hosts, calls fault(hosts) once node3 runs tasks and 30 have
    succeeded, and checks that the run completes on node1 and node2."""
    sandbox.write("manifest.yaml", manifest())
    run_dir = sandbox.path / "run"
    with Hosts(3) as hosts:
        command = launch_command(hosts, sandbox.path / "manifest.yaml", run_dir)
        seen = multihost.run_and_fault_node3(sandbox, hosts, command, run_dir, fault,
                                             name="launch", what="the launch", verb="lost",
                                             wait_s=30, done_at_least=30, limit_s=LIMIT_S,
                                             end_wait_s=LIMIT_S + KILL_AFTER_S)
        run, rc = seen.run, seen.run.rc
        started, on_node3 = seen.started, seen.on_node3
        fault_at, fault_monotonic = seen.fault_at, seen.fault_monotonic
        expect(rc is not None, "the launch did not end")
        expect_equal(rc, 0, "exit status of jobrunner launch")
        left = hosts.wait_until_empty(15)
        expect_equal(left, {}, "processes left on the hosts 15 s after the launch ended")

    expect_in("lost node3", run.stderr, "the launch's log")
    expect_in("launch 2 (at most 10) on 2 host(s): node1, node2", run.stderr, "the launch's log")
    attempts, summaries = read_all_results(run_dir)
    run.attempts = attempts
    expect_each_succeeded_exactly_once(attempts, TASKS)
    # The first launch's coordinator writes its summary line only if mpirun's teardown leaves it
    # the time to; the second launch always does.
    expect(1 <= len(summaries) <= 2, f"summary lines: {len(summaries)}, expected 1 or 2")
    expect_equal(summaries[-1]["exit_status"], 0, "the last launch's summary exit_status")
    expect_equal(summaries[-1]["succeeded_total"], TASKS, "the last summary's succeeded_total")
    interrupted = [i for i, a in enumerate(attempts) if a["outcome"] == "interrupted"]
    expect(interrupted, "no attempt was interrupted, though node3 was running tasks when lost")
    # The resume writes the interrupted lines first: the second launch's attempts follow them.
    second = attempts[max(interrupted) + 1:]
    expect(second, "the second launch recorded no attempt")
    second_hosts = {a["host"] for a in second}
    expect(second_hosts <= {"node1", "node2"}, f"the second launch ran tasks on {second_hosts}")
    late = [a for a in attempts if a.get("host") == "node3" and a["outcome"] == "succeeded"
            and parse_time(a["start"]) > fault_at]
    expect(not late, f"tasks started on node3 after it was lost: {late[:3]}")

    resumed_s = min(parse_time(a["start"]) for a in second) - fault_at
    relaunch = re.search(r"relaunching on .*, ([\d.]+)s after mpirun ended", run.stderr)
    report(f"{how}: node3 lost {fault_monotonic - started:.1f}s after the start (running "
           f"{len(on_node3)} tasks); the next launch's first task started {resumed_s:.1f}s after "
           f"the fault ({relaunch.group(1) if relaunch else '?'}s of it between mpirun's end and "
           f"the relaunch); {len(interrupted)} attempts interrupted; outcomes "
           f"{dict(Counter(a['outcome'] for a in attempts))}; {len(summaries)} summary lines; whole launch {run.elapsed_s:.1f}s")


def report(text):
    print(textwrap.indent("info: " + text, "    "), flush=True)


def test_a_host_whose_processes_all_die_is_left_out_and_the_run_completes(sandbox):
    def crash(hosts):
        multihost.crash(hosts.namespace("node3"))
    lose_node3_mid_run(sandbox, "every process of node3 killed", crash)


def test_a_host_whose_link_goes_down_is_left_out_and_the_run_completes(sandbox):
    def cut(hosts):
        subprocess.run(["ip", "-n", hosts.namespace("node3"), "link", "set", "mpi0", "down"],
                       check=True)
    lose_node3_mid_run(sandbox, "node3's link down", cut)


def remove_stale_namespaces():
    """netns-down for namespaces of this file whose test process no longer exists."""
    prefixes = {m.groups() for ns in multihost.namespaces() if (m := PREFIX_PATTERN.match(ns))}
    for prefix, pid in sorted(prefixes):
        if not Path(f"/proc/{pid}").exists():
            print(f"removing namespaces {prefix}-* left by a test process that is gone",
                  flush=True)
            subprocess.run(["timeout", "-k", "5", "30", str(multihost.SCRIPTS / "netns-down"),
                            prefix], check=False)


def setup():
    multihost.exit_on_sigterm()
    remove_stale_namespaces()


if __name__ == "__main__":
    run_tests(globals(), multihost.skip_reason, setup)
