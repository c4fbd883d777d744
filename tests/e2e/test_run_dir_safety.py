"""The run directory is jobrunner's alone: links planted in it are refused, never followed, and
taking it is safe against crashes and against a second run given the same --out.

Links: a link (dangling, or to a file outside) at results.jsonl, .lock, manifest.yaml, journal,
logs/, a log file a later attempt will write, or a kind's data file: each run or resume ends
with a clear message naming the path (or, for a log file, that attempt writes beside the link,
to a name of its own, and succeeds; for a data file, the link is replaced), and the file
outside is untouched or never created.

Crashes while a new run takes its directory: the run is killed (SIGKILL, through
JOBRUNNER_TEST_CRASH_AT) at each step of the creation; afterwards exactly one of `--resume DIR`
and a new run with `--out DIR` is accepted, and that one runs every task.

Races: a second run stopped (JOBRUNNER_TEST_STOP_AT) before it takes the lock, while another
run starts and finishes in the same directory, then continued, refuses the directory and leaves
the finished run's files as they were; a run that finds the lock held refuses at once.

These cases do not depend on the rank count except the log file one (a worker writes it), so
the others run at np 2 only.
"""

import os
import signal
import time
from pathlib import Path

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (direct_env, expect_each_succeeded_exactly_once, only_at_np_2,
                         read_all_results, resume, run_jobrunner, start_jobrunner)

MANIFEST = """\
    version: 1
    tasks:
      - id: t-{n}
        command: "echo {n}"
        matrix:
          n: {range: [0, 5]}
    """


def outside(sandbox):
    """A directory outside any run directory, with a file the tests try to get overwritten."""
    path = sandbox.path / "outside"
    path.mkdir(exist_ok=True)
    (path / "precious").write_text("keep")
    return path


def expect_untouched(out, what):
    expect_equal((out / "precious").read_text(), "keep", f"{what}: the file outside")
    expect(not (out / "created").exists(), f"{what}: a file outside was created")
    expect_equal(sorted(p.name for p in out.iterdir()), ["precious"], f"{what}: files outside")


def expect_refused(run, path, what):
    expect_equal(run.rc, 2, f"{what}: exit status")
    expect_in(str(path), run.stderr, f"{what}: the message names the path")
    expect_in("symbolic link", run.stderr, f"{what}: the message says why")


def finished_run(sandbox, name):
    manifest = sandbox.write("m.yaml", MANIFEST)
    run_dir = sandbox.path / name
    run = run_jobrunner(sandbox, "--out", run_dir, manifest, run_dir=run_dir)
    expect_equal(run.rc, 0, f"{name}: exit status of the first run")
    return manifest, run_dir


def test_links_at_the_run_directory_files_are_refused_for_a_new_run(sandbox):
    """A link at results.jsonl, .lock or manifest.yaml of an --out directory, dangling or to a
    file outside: exit 2 naming the path (a link at results.jsonl or journal makes the directory
    one that holds a run), and the file outside is neither written nor created."""
    if not only_at_np_2(sandbox):
        return
    out = outside(sandbox)
    manifest = sandbox.write("m.yaml", MANIFEST)
    for name in ["results.jsonl", "journal", ".lock", "manifest.yaml", "logs", "data"]:
        for target in ["precious", "created"]:
            run_dir = sandbox.path / f"new-{name.strip('.')}-{target}"
            run_dir.mkdir()
            (run_dir / name).symlink_to(out / target)
            run = run_jobrunner(sandbox, "--out", run_dir, manifest)
            expect_equal(run.rc, 2, f"{name} -> {target}: exit status")
            if name in ("results.jsonl", "journal"):
                expect_in(f"already holds a run ({name})", run.stderr, f"{name}: message")
            else:
                expect_refused(run, run_dir / name, f"{name} -> {target}")
            expect_untouched(out, f"{name} -> {target}")


def test_links_put_into_a_finished_run_are_refused_by_resume(sandbox):
    """In a finished run, results.jsonl, .lock, journal, manifest.yaml or logs/ replaced by a
    link to a file (or directory) outside: --resume exits 2 naming it; nothing outside changes."""
    if not only_at_np_2(sandbox):
        return
    out = outside(sandbox)
    for name in ["results.jsonl", ".lock", "journal", "manifest.yaml", "logs"]:
        manifest, run_dir = finished_run(sandbox, f"done-{name.strip('.')}")
        moved = run_dir / f"{name}.real"
        (run_dir / name).rename(moved)
        (run_dir / name).symlink_to(out if name == "logs" else out / "precious")
        # Not resume(): it would read results.jsonl back, through the link.
        run = run_jobrunner(sandbox, "--resume", run_dir, manifest)
        expect_refused(run, run_dir / name, f"resume with {name} a link")
        expect_untouched(out, f"resume with {name} a link")


def test_a_log_file_a_task_plants_for_its_next_attempt_is_not_written_through(sandbox):
    """Attempt 1 of a task plants logs/<id>.2.out (a link to a file outside) and logs/<id>.2.err
    (a dangling link) and fails; attempt 2 runs and writes its output beside them, to
    logs/<id>.2.out.2 and .err.2, which its results line names; the links are left as they
    are, the file outside keeps its content, and nothing is created where the dangling link
    points."""
    out = outside(sandbox)
    manifest = sandbox.write("m.yaml", f"""\
        version: 1
        tasks:
          - id: t
            retries: 1
            command: >-
              if [ "$JOBRUNNER_ATTEMPT" = 1 ]; then
              ln -s {out}/precious "$JOBRUNNER_RUN_DIR/logs/t.2.out";
              ln -s {out}/created "$JOBRUNNER_RUN_DIR/logs/t.2.err";
              exit 1; fi; echo written; echo written >&2
        """)
    run = sandbox.run(manifest, "--retry-backoff", "0s")
    expect_equal(run.rc, 0, "exit status")
    second = run.attempts_of("t")[-1]
    expect_equal(second["attempt"], 2, "the second attempt is reported")
    expect_equal(second["outcome"], "succeeded", "the second attempt's outcome")
    logs = run.run_dir / "logs"
    for stream in ["out", "err"]:
        expect_equal(second[f"std{stream}"], f"logs/t.2.{stream}.2", f"the {stream} file named")
        expect_equal((logs / f"t.2.{stream}.2").read_text(), "written\n", f"{stream} written")
        expect((logs / f"t.2.{stream}").is_symlink(), f"the link at t.2.{stream} is left alone")
    expect_untouched(out, "after the second attempt")


def test_a_data_file_s_temporary_name_planted_as_a_link_is_not_written_through(sandbox):
    """A task plants data/<grep task>.1.txt.partial as a link to a file outside before the grep
    task (which depends on it) writes its matches there: the grep task succeeds with its own data
    file, and the file outside keeps its content."""
    if not only_at_np_2(sandbox):
        return
    out = outside(sandbox)
    (sandbox.path / "input.txt").write_text("a match\nno\nanother match\n")
    manifest = sandbox.write("m.yaml", f"""\
        version: 1
        tasks:
          - id: plant
            command: 'mkdir -p "$JOBRUNNER_RUN_DIR/data" && ln -s {out}/precious "$JOBRUNNER_RUN_DIR/data/g.1.txt.partial"'
          - id: g
            depends_on: [plant]
            kind: grep
            args: {{path: input.txt, pattern: match}}
        """)
    run = sandbox.run(manifest)
    expect_equal(run.rc, 0, "exit status")
    expect_equal((run.run_dir / "data" / "g.1.txt").read_text(), "a match\nanother match\n",
                 "the grep task's data file")
    expect_untouched(out, "after the grep task")


# ---------------------------------------------------------------------------------------------
# Crashes and races while a run takes its directory

# In the order a new run reaches them (app/open_run.h).
CRASH_POINTS = ["run-dir-locked", "journal-header-synced", "journal-created", "manifest-copied",
                "results-created"]
RESUMABLE_FROM = "journal-created"


def test_a_crash_at_each_step_of_creation_leaves_a_directory_resumable_or_empty(sandbox):
    """For each step of creating a run directory, a run killed there (SIGKILL, no clean-up):
    before the journal exists, --resume refuses ("no journal") and a new run with the same --out
    takes the directory and runs every task; from the journal on, a new run refuses ("already
    holds a run") and --resume runs every task. Never both, never neither."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("m.yaml", MANIFEST)
    for point in CRASH_POINTS:
        run_dir = sandbox.path / f"crash-{point}"
        crashed = run_jobrunner(sandbox, "--out", run_dir, manifest, direct=True,
                                env={"JOBRUNNER_TEST_CRASH_AT": point})
        expect(crashed.rc in (-signal.SIGKILL, 128 + signal.SIGKILL),
               f"{point}: the run was killed there (exit status {crashed.rc})")
        resumable = CRASH_POINTS.index(point) >= CRASH_POINTS.index(RESUMABLE_FROM)
        if resumable:
            again = run_jobrunner(sandbox, "--out", run_dir, manifest, direct=True)
            expect_equal(again.rc, 2, f"{point}: a new run in the directory")
            expect_in("already holds a run", again.stderr, f"{point}: message")
            finish = resume(sandbox, run_dir, manifest, direct=True)
        else:
            refused = resume(sandbox, run_dir, manifest, direct=True)
            expect_equal(refused.rc, 2, f"{point}: a resume")
            expect_in("has no journal", refused.stderr, f"{point}: message")
            finish = run_jobrunner(sandbox, "--out", run_dir, manifest, direct=True,
                                   run_dir=run_dir)
        expect_equal(finish.rc, 0, f"{point}: the run that continued")
        attempts, _ = read_all_results(run_dir)
        expect_each_succeeded_exactly_once(attempts, 5)
        expect((run_dir / "manifest.yaml").read_text() == manifest.read_text(),
               f"{point}: manifest.yaml is the manifest")


def wait_until_stopped(pid, limit_s=30):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop within {limit_s}s")


def test_a_run_stalled_before_its_lock_refuses_a_directory_another_run_finished_meanwhile(
        sandbox):
    """Run B is stopped (SIGSTOP) after making its directory and before taking the lock; run A
    then runs to its end with the same --out; B continued refuses the directory (exit 2,
    "already holds a run") and A's results.jsonl, journal and logs are byte for byte as A left
    them. Then a run stopped while holding the lock makes another refuse at once ("in use")."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("m.yaml", MANIFEST)
    run_dir = sandbox.path / "shared"
    with start_jobrunner(sandbox, "--out", run_dir, manifest, direct=True, name="stalled",
                         env={"JOBRUNNER_TEST_STOP_AT": "run-dir-made"}) as stalled:
        wait_until_stopped(stalled.pid)
        first = run_jobrunner(sandbox, "--out", run_dir, manifest, direct=True, run_dir=run_dir)
        expect_equal(first.rc, 0, "the run that went ahead")
        files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
        os.kill(stalled.pid, signal.SIGCONT)
        expect_equal(stalled.wait(limit_s=60), 2, "the stalled run, continued")
        expect_in("already holds a run", stalled.stderr(), "the stalled run's message")
        stalled.as_run()
    expect_equal({p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}, files,
                 "the finished run's files")
    other = sandbox.path / "held"
    with start_jobrunner(sandbox, "--out", other, manifest, direct=True, name="holder",
                         env={"JOBRUNNER_TEST_STOP_AT": "run-dir-locked"}) as holder:
        wait_until_stopped(holder.pid)
        refused = run_jobrunner(sandbox, "--out", other, manifest, direct=True)
        expect_equal(refused.rc, 2, "a run while another holds the lock")
        expect_in("in use by another jobrunner", refused.stderr, "message")
        os.kill(holder.pid, signal.SIGCONT)
        expect_equal(holder.wait(limit_s=60), 0, "the run that held the lock")
        holder.as_run()
    attempts, _ = read_all_results(other)
    expect_each_succeeded_exactly_once(attempts, 5)


if __name__ == "__main__":
    run_tests(globals())
