"""Real Slurm: the batch templates in scripts/slurm/ on a private Slurm cluster on one machine.

Each test starts its own cluster (tests/e2e/slurm_cluster.py) in a fresh temporary directory:
a munged with its own key and socket, a slurmctld, and four slurmd "fake nodes" n1..n4 (four
CPUs each), every daemon in the foreground as a child of this process, on ports nobody is
listening on, with all state, spool, logs and sockets under that directory, so it never meets
another Slurm or munge on the machine.
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

import os
import re
import textwrap
import time
from collections import Counter, defaultdict

from harness import REPO_ROOT, Run, expect, expect_equal, expect_in, jobrunner_binary, \
    run_tests
from reliability import read_all_results
from slurm_cluster import Cluster, become_subreaper, why_not_runnable

TEMPLATES = {
    "mpirun": REPO_ROOT / "scripts" / "slurm" / "jobrunner.sbatch",
    "srun": REPO_ROOT / "scripts" / "slurm" / "jobrunner-srun.sbatch",
}
RUNS_UNDER_NP = 2


def report(text):
    print(textwrap.indent("info: " + text, "    "), flush=True)


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
            # mpirun's options are its own (the job gives the rank count); srun's are made up.
            launcher = {"mpirun": "mpirun .*", "srun": "srun --mpi=pmix -n 4 "}[style]
            expect(re.search(f"{launcher}\\S*jobrunner --resume {re.escape(str(run_dir))} "
                             f"\\S*manifest.yaml", output),
                   f"{style}: resume command in the output of job {first}:\n{output}")
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


def skip_reason(np):
    if np != RUNS_UNDER_NP:
        return (f"the Slurm tests choose their own rank counts and run once, under "
                f"--np {RUNS_UNDER_NP}; nothing to do for --np {np}")
    return why_not_runnable()


if __name__ == "__main__":
    run_tests(globals(), skip_reason, become_subreaper)
