"""A run killed (SIGKILL, the whole job) while it copies its command list into the run
directory, a copy made on a thread of its own while the first tasks run: --resume with the
original list makes the copy again and runs every task exactly once overall, and a later
resume compares against the whole copy; the copy of a list given on stdin, never whole, is
refused as a list (even with --force), and the list given on stdin again resumes the run.

The kill comes while rank 0 stands stopped (JOBRUNNER_TEST_STOP_AT=list-partly-copied) with the
first block of the list copied, so no timing decides where it falls.
"""

from pathlib import Path

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (count_result_lines, expect_each_succeeded_exactly_once, only_at_np_2,
                         resume, start_jobrunner, wait_for)

LINES = 10**6
TASK_EVERY = 20_000  # the other lines are comments: 50 tasks in a list of 23 MB
TASKS = LINES // TASK_EVERY


def write_list(path):
    """Writes the list of LINES lines to path; returns its bytes."""
    text = "".join(f"echo {line}\n" if line % TASK_EVERY == 0 else f"# padding line {line}\n"
                   for line in range(1, LINES + 1)).encode()
    path.write_bytes(text)
    return text


def stopped_pid(background):
    """A process of the background run that stands stopped (state T), or None."""
    for pid in background.descendants():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "T":
            return pid
    return None


def kill_while_copying(sandbox, run_dir, list_arg, list_size, stdin_path=None):
    """Starts a run of the list `list_arg`, waits until rank 0 stops with part of the list
    copied, checks that the run directory holds that part only, and kills the whole job."""
    with start_jobrunner(sandbox, "--out", run_dir, list_arg, stdin_path=stdin_path,
                         env={"JOBRUNNER_TEST_STOP_AT": "list-partly-copied"},
                         name="killed") as run:
        wait_for(lambda: stopped_pid(run), 60, "rank 0 stopped with part of the list copied")
        copies = {p.name: p.stat().st_size for p in run_dir.iterdir()
                  if p.name.startswith("tasks.txt")}
        expect(len(copies) == 1 and 0 < min(copies.values()) < list_size,
               f"the run directory holds part of the {list_size}-byte list: {copies}")
        run.kill_everything()
        run.as_run(run_dir)


def test_a_run_killed_while_it_copies_its_list_resumes_and_copies_it_again(sandbox):
    """The resume with the original list runs every task exactly once overall and leaves the
    whole list in the run directory; a resume after an edit of the last line names that line,
    not the place where the killed copy ended."""
    if not only_at_np_2(sandbox):
        return
    text = write_list(sandbox.path / "tasks.txt")
    run_dir = sandbox.path / "run"
    kill_while_copying(sandbox, run_dir, "tasks.txt", len(text))
    again = resume(sandbox, run_dir, "tasks.txt", limit_s=120)
    expect_equal(again.rc, 0, "exit status of the resumed run")
    expect_each_succeeded_exactly_once(again.attempts, TASKS)
    expect((run_dir / "tasks.txt").read_bytes() == text,
           "the run directory's tasks.txt is the whole list after the resume")
    (sandbox.path / "tasks.txt").write_bytes(
        text.replace(f"echo {LINES}\n".encode(), b"echo edited\n"))
    refused = resume(sandbox, run_dir, "tasks.txt", limit_s=120)
    expect_equal(refused.rc, 2, "exit status of a resume with the last line edited")
    expect_in(f"tasks.txt:{LINES} was 'echo {LINES}', is 'echo edited'", refused.stderr,
              "the line that changed")


def test_a_run_from_stdin_killed_while_it_copies_resumes_only_from_stdin(sandbox):
    """`--resume DIR DIR/tasks.txt` (the way to resume a list from stdin) is refused, with or
    without --force, naming what to do, and runs nothing; the list given on stdin again resumes
    the run: every task exactly once overall, and tasks.txt then the whole list."""
    if not only_at_np_2(sandbox):
        return
    text = write_list(sandbox.path / "list.txt")
    run_dir = sandbox.path / "run"
    kill_while_copying(sandbox, run_dir, "-", len(text), stdin_path=sandbox.path / "list.txt")
    lines_before = count_result_lines(run_dir)
    for force in ([], ["--force"]):
        refused = resume(sandbox, run_dir, run_dir / "tasks.txt", *force)
        expect_equal(refused.rc, 2, f"exit status of a resume with tasks.txt {force}")
        expect_in(f"{run_dir}/tasks.txt was never whole", refused.stderr, "what is wrong")
        expect_in(f"jobrunner --resume {run_dir} -`", refused.stderr, "what to do")
        expect_equal(count_result_lines(run_dir), lines_before, f"results.jsonl {force}")
    again = resume(sandbox, run_dir, "-", stdin_bytes=text, limit_s=120)
    expect_equal(again.rc, 0, "exit status of the run resumed from stdin")
    expect_each_succeeded_exactly_once(again.attempts, TASKS)
    expect((run_dir / "tasks.txt").read_bytes() == text,
           "the run directory's tasks.txt is the whole list after the resume")


if __name__ == "__main__":
    run_tests(globals())
