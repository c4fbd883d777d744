"""Ranks in containers under Slurm: a batch job whose `srun --mpi=pmix` starts every rank as a
`podman run` of the jobrunner image, with the command line of README.md, section Containers.

The test starts a private Slurm cluster on this machine (tests/e2e/slurm_cluster.py: munged,
slurmctld and fake nodes n1..n4, torn down by pid) and builds the image, or reuses the cached
one (tests/e2e/container_image.py, the store test_container.py uses too). It submits with sbatch
a job of 3 tasks on 2 nodes whose script runs

    srun --mpi=pmix podman run --rm --network host --pid host -v /tmp:/tmp -v /dev/shm:/dev/shm
        -v RUNS:/runs --env 'SLURM_*' --env 'PMIX_*' --env 'OMPI_*' --user "$(id -u):$(id -g)"
        [--userns keep-id rootless | the Open MPI root consent as root] IMAGE
        jobrunner --out /runs/out /runs/manifest.yaml

so Slurm's PMIx server on each fake node serves ranks that run inside containers. The checks:
the job completes with exit code 0 on 2 nodes; every task of the manifest succeeded, run by
worker ranks 1 and 2 (results.jsonl), and the tasks ran on both of the job's nodes (each prints
the SLURM_NODEID its rank was given); once the job has ended, no container of the test is left
in the store and no process of the job (conmon, container, slurmstepd) is still running; once
the cluster is torn down, no daemon and no other process of the test is left.

Skipped, with the reason, where Slurm's daemons or podman cannot run (the same decisions as
test_slurm.py and test_container.py). Run once (E2E_OWN_RANKS): the job chooses its ranks.

    python3 tests/e2e/test_slurm_container.py [test_name ...]   # JOBRUNNER_BIN=build/jobrunner
"""

import os
import shlex
import time
from collections import Counter
from pathlib import Path

from container_image import (LABEL, PODMAN_ENV, ROOT_CONSENT, RunsDirectory, build,
                             expect_every_task_succeeded, image, podman)
from container_image import why_not_runnable as why_podman_cannot_run
from harness import IS_ROOT, Run, expect, expect_equal, read_results, run_tests
from slurm_cluster import Cluster, become_subreaper, descendants_of
from slurm_cluster import why_not_runnable as why_slurm_cannot_run

TASKS = 12
NODES, RANKS = 2, 3
JOB_LIMIT_S = 120
# How long the job's processes (conmon, slurmstepd) may take to go once Slurm says it ended.
LINGER_S = 15

MANIFEST = f"""\
version: 1
tasks:
  - id: t-{{n}}
    command: 'echo "$JOBRUNNER_WORKER_RANK $SLURM_NODEID"; sleep 0.3'
    matrix:
      n: {{range: [0, {TASKS}]}}
"""


def job_script(tag, runs, cluster):
    """The batch script: srun --mpi=pmix starts each rank as a `podman run` of the image."""
    mounts = ["-v", "/tmp:/tmp", "-v", "/dev/shm:/dev/shm", "-v", f"{runs}:/runs"]
    # Slurm's PMIx server keeps its sockets in the node's TmpFS, under the cluster's directory.
    if not cluster.base.resolve().is_relative_to("/tmp"):
        mounts += ["-v", f"{cluster.base}:{cluster.base}"]
    # Rootless, keep-id maps the user to itself in the container (PMIx refuses another uid).
    user = ROOT_CONSENT if IS_ROOT else ["--userns", "keep-id"]
    ctr = ["podman", "run", "--rm", "--label", LABEL, "--network", "host", "--pid", "host",
           *mounts, "--env", "SLURM_*", "--env", "PMIX_*", "--env", "OMPI_*"]
    return f"""\
#!/bin/bash
set -u
echo "job $SLURM_JOB_ID: $SLURM_NTASKS ranks on $SLURM_JOB_NODELIST"
srun --mpi=pmix {shlex.join(ctr)} --user "$(id -u):$(id -g)" {shlex.join(user)} \\
  {shlex.quote(tag)} jobrunner --progress log --out /runs/out /runs/manifest.yaml
"""


def pause_process():
    """Rootless podman's pause process (it keeps the user namespace; it is meant to stay), or
    None. Its pid file is in the engine's tmp_dir, which container_image.py sets."""
    conf = Path(PODMAN_ENV["CONTAINERS_CONF"]).read_text()
    tmp_dir = conf.split('tmp_dir = "', 1)[1].split('"', 1)[0]
    try:
        return int((Path(tmp_dir) / "pause.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def leftovers(cluster):
    """Processes below this one that are neither the cluster's daemons (with their helpers, such
    as slurmctld's slurmscriptd) nor podman's pause process. Job processes are not below the
    daemons: slurmstepd and conmon detach, and become children of this subreaper."""
    keep = {pause_process()}
    for daemon in cluster.daemons.values():
        keep |= {daemon.pid, *descendants_of(daemon.pid)}
    left = []
    for pid in descendants_of(os.getpid()):
        if pid in keep:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        if command:  # zombies, not yet reaped, have none
            left.append(f"{pid}: {command.strip()}")
    return left


def test_srun_pmix_starts_ranks_in_containers(sandbox):
    """sbatch a job whose srun --mpi=pmix starts 3 ranks on 2 fake nodes, each in a container:
    every task succeeds on ranks 1 and 2, on both nodes, and nothing outlives the job or the
    cluster."""
    tag = image()
    with RunsDirectory(sandbox) as runs:
        (runs / "manifest.yaml").write_text(MANIFEST)
        cluster = Cluster(sandbox)
        with cluster:
            script = sandbox.write("job.sbatch", job_script(tag, runs, cluster))
            env = {**PODMAN_ENV,
                   # The fake nodes share one host: Open MPI's shared-memory segments collide.
                   "OMPI_MCA_btl": "self,tcp"}
            name = "jr-srun-podman"
            _, out, _ = cluster.client(
                ["sbatch", "--parsable", f"--job-name={name}", f"--nodes={NODES}",
                 f"--ntasks={RANKS}", "--time=5", "--output=job-%j.out", str(script)],
                cwd=sandbox.path, env=env)
            job_id = int(out.strip().split(";")[0])
            done = cluster.wait_until_done([name], JOB_LIMIT_S)
            info = cluster.job(job_id)
            output = sandbox.path / f"job-{job_id}.out"
            sandbox.runs.append(Run(
                [f"sbatch job.sbatch (job {job_id}, {info.get('JobState')})"], sandbox.path,
                int(info.get("ExitCode", "-1:0").split(":")[0]),
                output.read_text(errors="replace") if output.exists() else "",
                cluster.log_tail(8), 0.0, runs / "out"))
            expect(done, f"the job did not end within {JOB_LIMIT_S}s")
            expect_equal((info["JobState"], info["ExitCode"]), ("COMPLETED", "0:0"),
                         f"state and exit code of job {job_id}")
            expect_equal(info["NumNodes"], str(NODES), f"nodes of job {job_id}")

            run_dir = runs / "out"
            expect_every_task_succeeded(run_dir, TASKS, {1, 2}, "ranks in containers under srun")
            attempts, _ = read_results(run_dir)
            ran_on = Counter()
            for attempt in attempts:
                rank, node = (run_dir / attempt["stdout"]).read_text().split()
                expect_equal(int(rank), attempt["worker"], f"rank printed by {attempt['task']}")
                ran_on[(int(rank), int(node))] += 1
            expect_equal({node for _, node in ran_on}, set(range(NODES)),
                         f"SLURM_NODEID of the ranks that ran tasks ({dict(ran_on)})")

            # The containers were started with --rm, and the job's processes end with it.
            rc, ids, stderr, _ = podman("ps", "--all", "--quiet", "--filter", f"label={LABEL}")
            expect_equal((rc, ids.split()), (0, []),
                         f"containers of this test left after the job ({stderr.strip()})")
            deadline = time.monotonic() + LINGER_S
            while (left := leftovers(cluster)) and time.monotonic() < deadline:
                time.sleep(0.2)
            expect_equal(left, [], f"processes of job {job_id} still running {LINGER_S}s after "
                         "it ended")
        daemons = {name: d.poll() for name, d in cluster.daemons.items()}
        expect_equal([name for name, rc in daemons.items() if rc is None], [],
                     "Slurm and munge daemons running after the teardown")
        expect_equal(leftovers(cluster), [], "processes left after the teardown")
    print(f"    info: job {job_id} on {info['NodeList']}, (rank, SLURM_NODEID) of the tasks "
          f"{dict(sorted(ran_on.items()))}", flush=True)


def skip_reason(_np):
    return why_slurm_cannot_run() or why_podman_cannot_run()


def setup():
    become_subreaper()
    build()


if __name__ == "__main__":
    run_tests(globals(), skip_reason, setup)
