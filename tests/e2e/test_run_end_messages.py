"""What the end of a run says: the command a stopped run prints to continue it can be pasted as
is (run verbatim by a shell, from another directory, it finishes the run), and the banner mpirun
adds when the ranks exit non-zero is explained by the summary's last line."""

import re

from harness import (IS_ROOT, ROOT_CONSENT_ENV, execute, expect, expect_equal, expect_in,
                     jobrunner_binary, run_tests)
from reliability import read_all_results

TASKS = 4


def waiting_manifest(sandbox):
    """Tasks that wait until the file `go` exists (at most 30 s): a --time-limit stops them."""
    go = sandbox.path / "go"
    return sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: t-{{n}}
            command: "test -e {go} || sleep 30"
            matrix:
              n: {{range: [0, {TASKS}]}}
        """), go


def printed_resume_line(stderr):
    """The line after "continue it with:", without its indentation."""
    found = re.search(r"continue it with:\n\s+(\S.*)\n", stderr)
    expect(found, f"no resume command in stderr:\n{stderr}")
    return found.group(1)


def expect_pasted_line_finishes(sandbox, line, run_dir, env=None):
    """Runs `line` with bash from a directory of its own and expects every task succeeded."""
    elsewhere = sandbox.path / "elsewhere"
    elsewhere.mkdir()
    rc, stdout, stderr, _ = execute(["bash", "-c", line], elsewhere, 60, env)
    expect_equal(rc, 0, f"exit status of the pasted line {line!r}; stderr: {stderr[-2000:]}")
    attempts, summaries = read_all_results(run_dir)
    succeeded = {a["task"] for a in attempts if a["outcome"] == "succeeded"}
    expect_equal(len(succeeded), TASKS, f"tasks succeeded after the resume: {summaries}")
    expect_equal(summaries[-1]["exit_status"], 0, "the resumed run's exit status")


def test_the_printed_resume_line_under_mpirun_runs_as_pasted(sandbox):
    """A run stopped by --time-limit prints `cd DIR && mpirun <its options> /abs/jobrunner
    --resume RUN MANIFEST <its flags>`: mpirun's -n, --oversubscribe (and --allow-run-as-root as
    root) as given, the binary by its absolute path; bash runs the line from elsewhere and the
    run ends with exit 0, every task succeeded."""
    manifest, go = waiting_manifest(sandbox)
    run = sandbox.run(manifest, "--time-limit", "3s", "--drain-grace", "300ms")
    expect_equal(run.rc, 4, "exit status of the stopped run")
    line = printed_resume_line(run.stderr)
    binary = str(jobrunner_binary())
    expect(binary.startswith("/"), f"the harness's binary is absolute: {binary}")
    expected_start = f"cd {sandbox.path} && mpirun -n {sandbox.np} --oversubscribe --bind-to none"
    expect(line.startswith(expected_start), f"{line!r} starts with {expected_start!r}")
    expect_equal("--allow-run-as-root" in line.split(), IS_ROOT, f"--allow-run-as-root in {line!r}")
    expect_in(f" {binary} --resume {run.run_dir} {manifest} ", line, "resume line")
    expect(line.endswith("--progress log --time-limit 3s --drain-grace 300ms"),
           f"the run's own flags end {line!r}")
    go.write_text("")
    expect_pasted_line_finishes(sandbox, line, run.run_dir)


def test_the_printed_resume_line_in_local_mode_has_no_launcher(sandbox):
    """Without mpirun (local mode) the line is `cd DIR && /abs/jobrunner --resume ...`, and
    pasted as is it finishes the run."""
    if sandbox.np != 1:
        print("    (local mode: run at np 1 only)", flush=True)
        return
    manifest, go = waiting_manifest(sandbox)
    run_dir = sandbox.path / "run"
    run = sandbox.run_without_mpirun("--progress", "log", "--out", str(run_dir), "--time-limit",
                                     "3s", "--drain-grace", "300ms", str(manifest))
    expect_equal(run.rc, 4, "exit status of the stopped run")
    line = printed_resume_line(run.stderr)
    expect_equal(line, f"cd {sandbox.path} && {jobrunner_binary()} --resume {run_dir} "
                       f"{manifest} --progress log --time-limit 3s --drain-grace 300ms",
                 "resume line")
    go.write_text("")
    expect_pasted_line_finishes(sandbox, line, run_dir, ROOT_CONSENT_ENV if IS_ROOT else None)


def test_the_summary_explains_the_banner_mpirun_adds_after_a_failed_task(sandbox):
    """A task fails, the ranks exit 1, and mpirun adds to stderr that the job was aborted (or
    that a process exited with non-zero status). Proves: the exit status is 1, and the last line
    of stdout, the summary's, says that this note only passes the status on."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: ok
            command: ["true"]
          - id: broken
            command: "exit 3"
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    expect("non-zero" in run.stderr, f"mpirun's banner in stderr:\n{run.stderr}")
    last = run.stdout.rstrip("\n").splitlines()[-1]
    expect_equal(last, "  exit status 1 (some task did not succeed): mpirun's note that the job "
                       "was aborted only passes it on; every rank finished", "summary's last line")


def test_a_run_without_mpirun_has_no_note_about_mpirun(sandbox):
    """In local mode nothing adds a banner, so the summary ends with the results line."""
    if sandbox.np != 1:
        print("    (local mode: run at np 1 only)", flush=True)
        return
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: broken
            command: "exit 3"
        """)
    run = sandbox.run_without_mpirun("--progress", "log", "manifest.yaml")
    expect_equal(run.rc, 1, "exit status")
    expect(run.stdout.rstrip("\n").splitlines()[-1].startswith("  results: "),
           f"summary:\n{run.stdout}")


if __name__ == "__main__":
    run_tests(globals())
