"""W9: jobrunner across three hosts against the same ranks on one host.

The hosts are network namespaces on this machine (scripts/multihost, as tests/e2e/test_multihost.py
uses them): each has its own network stack, address and hostname, and the ranks on different
hosts talk over TCP through a bridge; the CPUs and the filesystem stay shared. So the rows show
what the network path costs jobrunner (TCP between hosts instead of shared memory within one),
not what more machines would add.
"""

import os
import shutil
import subprocess

import report
import systems
from systems import write_manifest
from workloads import Contender

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts", "multihost")
SUBNET = "10.213.9"
# 7 ranks: the coordinator and 2 workers on node1, 2 workers on each of node2 and node3. Open MPI
# fills a host's slots before the next, in rank order.
HOSTFILE = "node1 slots=3\nnode2 slots=2\nnode3 slots=2\n"
RANKS = 7
MCA = ["--mca", "plm_rsh_agent", os.path.join(SCRIPTS, "nsrsh"),
       "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "mpi0",
       "--mca", "oob_tcp_if_include", "mpi0"]


def _unavailable(why):
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs ip (iproute2)"
    return why


def _hosts_note(run_dir):
    """How many attempts each host ran, from results.jsonl."""
    counts = {}
    for attempt in systems.jobrunner_records(run_dir):
        counts[attempt.get("host", "?")] = counts.get(attempt.get("host", "?"), 0) + 1
    return ", ".join(f"{host} {n:,}" for host, n in sorted(counts.items()))


def w9_multihost(bench):
    reason = _unavailable("")
    workloads = [("kind: noop", bench.config.tasks * 10, None), ("/bin/true", bench.config.tasks,
                                                                  ["/bin/true"])]
    if reason:
        for label, tasks, _ in workloads:
            bench.rows.append(report.unavailable(f"W9 {label} ×{tasks:,}, 6 workers",
                                                 "jobrunner, 3 hosts", reason))
        return
    prefix = f"jrb{os.getpid()}"
    hostfile = bench.path("hosts")
    with open(hostfile, "w") as f:
        f.write(HOSTFILE)
    up = subprocess.run([os.path.join(SCRIPTS, "netns-up"), prefix, "3", SUBNET],
                        capture_output=True, text=True, check=False)
    try:
        if up.returncode != 0:
            for label, tasks, _ in workloads:
                bench.rows.append(report.unavailable(
                    f"W9 {label} ×{tasks:,}, 6 workers", "jobrunner, 3 hosts",
                    f"netns-up failed: {up.stderr.strip()[-160:]}"))
            return
        env = dict(os.environ, NSRSH_PREFIX=prefix)
        for label, tasks, command in workloads:
            manifest = bench.path("w9.yaml")
            if command is None:
                with open(manifest, "w") as f:
                    f.write("version: 1\ntasks:\n  - id: t-{n}\n    kind: noop\n"
                            f"    matrix:\n      n: {{range: [0, {tasks}]}}\n")
            else:
                write_manifest(manifest, command, tasks)
            one_host = bench.jobrunner(RANKS, manifest, tasks, reference=True, label="(one host)")
            three = bench.jobrunner(RANKS, manifest, tasks, label="(3 hosts, TCP)")

            def across_hosts(manifest=manifest):
                out = bench.path("run")
                return (["ip", "netns", "exec", f"{prefix}-node1"] + systems.mpirun(RANKS) +
                        ["--hostfile", hostfile] + MCA +
                        [bench.systems.jobrunner_bin, "-q", "--slots", "1", "--out", out,
                         manifest])

            three.argv = across_hosts
            three.env = env
            inspect = three.inspect

            def inspect_hosts(m, inspect=inspect):
                hosts = _hosts_note(systems.out_dir_of(m.argv))
                extra = inspect(m)
                extra["note"] = (f"attempts by host: {hosts}; CPU and RSS of node1's ranks only "
                                 "(the other hosts' ranks are not mpirun's children); " +
                                 extra.get("note", ""))
                return extra

            three.inspect = inspect_hosts
            chosen = bench.compare(f"W9 {label} ×{tasks:,}, 6 workers", f"W9 {label}", tasks,
                                   [one_host, three])
            a, b = chosen.get(one_host.system), chosen.get(three.system)
            if a and b and a.ok and b.ok:
                bench.targets.append(report.Target(
                    f"W9: {label}, 6 workers on 3 hosts against one host (reported, no target)",
                    f"{tasks / b.wall_s:,.0f} vs {tasks / a.wall_s:,.0f} tasks/s end to end "
                    f"({b.wall_s / a.wall_s:.2f}× the wall time)"))
    finally:
        subprocess.run([os.path.join(SCRIPTS, "netns-down"), prefix], capture_output=True,
                       check=False)
