"""disBatch task files, run unchanged: disBatch's own example files (tests/fixtures/disbatch)
end as their authors expect; every directive (PREFIX, SUFFIX, REPEAT, BARRIER, BARRIER CHECK,
BARRIER key, PERENGINE START/STOP) and the DISBATCH_* variables behave as in disBatch.

The examples sleep 10 s per task and write under paths their users are to change: the tests run
copies with shorter sleeps and their own paths, and nothing else changed.
"""

from datetime import datetime

from harness import REPO_ROOT, expect, expect_equal, expect_in, run_tests
from reliability import run_jobrunner

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "disbatch"


def copy_fixture(sandbox, name, replacements=()):
    """The fixture `name` copied into the sandbox under the same name, with each (old, new)
    replaced; returns the copy's path."""
    text = (FIXTURES / name).read_text()
    for old, new in replacements:
        expect_in(old, text, f"text to replace in {name}")
        text = text.replace(old, new)
    path = sandbox.path / name
    path.write_text(text)
    return path


def when(stamp):
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def expect_all_before(run, before, after):
    """Every attempt of the tasks in `after` started once every task in `before` had ended."""
    last_end = max(when(a["end"]) for a in run.attempts if a["task"] in before)
    first_start = min(when(a["start"]) for a in run.attempts if a["task"] in after)
    expect(first_start >= last_end,
           f"{sorted(after)} started at {first_start}, before {sorted(before)} ended at {last_end}")


def worker_ranks(sandbox):
    return sorted(sandbox.worker_ranks())


def test_the_example_with_every_directive_ends_as_disbatch_ends_it(sandbox):
    """DBtasksOneBadOneLeaky: 35 tasks; the one on line 26 and two of the REPEAT on line 57 fail
    (exit 1, as disBatch -e); the plain barriers let the rest run, in order; PREFIX and SUFFIX
    build each command, and the log names its SUFFIX builds from DISBATCH_TASKID, its _ZP form
    and DISBATCH_REPEAT_INDEX are disBatch's; each worker runs the PERENGINE START command before
    its first task and the STOP command after its last."""
    path = copy_fixture(sandbox, "DBtasksOneBadOneLeaky", [("sleep 10", "sleep 0.05")])
    out = sandbox.path / "dbTestOutputDir"
    out.mkdir()
    run = sandbox.run(path)
    expect_equal(run.rc, 1, "exit status")
    tasks = [a for a in run.attempts if "-rank" not in a["task"]]
    expect_equal(len({a["task"] for a in tasks}), 35, "tasks")
    failed = sorted(a["task"] for a in tasks if a["outcome"] != "succeeded")
    expect_equal(failed, ["26", "57-0", "57-2"], "tasks that failed")
    expect_equal(run.only_attempt("26")["exit_code"], 13, "exit code of line 26")
    # The three barriers on lines 31-33: lines 11-30 end before lines 34 on start.
    expect_all_before(run, {str(n) for n in range(11, 31) if n not in (24, 25, 27)},
                      {str(n) for n in range(34, 42) if n not in (39, 40)})
    # Log names from the variables, as disBatch gives them.
    for name in ("DBtasksOneBadOneLeaky_task_0.log", "DBtasksOneBadOneLeaky_task_13.log",
                 "DBtasksOneBadOneLeaky_task_26_rx_39.log",
                 "DBtasksOneBadOneLeaky_task_000028_rx_000040.log",
                 "DBtasksOneBadOneLeaky_task_000034_rx_000046.log",
                 "DBtasksOneBadOneLeaky_task_36_rx_51.log", "DBtasksOneBadOneLeaky_task_39.log"):
        expect((out / name).exists(),
               f"{name} in dbTestOutputDir: {sorted(p.name for p in out.iterdir())}")
    expect_in("Zero-padded stream index: 000053",
              (out / "DBtasksOneBadOneLeaky_task_000030_rx_000042.log").read_text(),
              "DISBATCH_STREAM_INDEX_ZP")
    # On line 41 the SUFFIX's redirection takes only the last echo: the subshell's output leaks
    # into the task's stdout.
    expect_in(b"38 running on", run.output(run.only_attempt("41"), "stdout"), "the leaked output")
    expect_in("missed some output", (out / "DBtasksOneBadOneLeaky_task_25.log").read_text(),
              "the redirected echo")
    # PERENGINE START and STOP: once per worker, each writing to its engine's log.
    for rank in worker_ranks(sandbox):
        start = run.only_attempt(f"start-4-rank{rank}")
        stop = run.only_attempt(f"stop-5-rank{rank}")
        expect_equal((start["outcome"], stop["outcome"]), ("succeeded", "succeeded"),
                     f"per-engine commands of rank {rank}")
        first = min(when(a["start"]) for a in tasks if a["worker"] == rank)
        last = max(when(a["end"]) for a in tasks if a["worker"] == rank)
        expect(when(start["end"]) <= first, f"rank {rank} ran START before its first task")
        expect(when(stop["start"]) >= last, f"rank {rank} ran STOP after its last task")
    engine_logs = sorted(p.name for p in out.glob("*_engine_*.log"))
    expect_equal(len(engine_logs), len(worker_ranks(sandbox)), f"engine logs: {engine_logs}")
    expect_in("perengine stop on", (out / engine_logs[0]).read_text(), "an engine log")


def test_a_failure_before_barrier_check_ends_the_run_at_the_barrier(sandbox):
    """barrierCheckFail: line 6 exits 13; the seven tasks before the BARRIER CHECK all run to
    their end, none after it runs, and the run ends with exit 1, saying why."""
    path = copy_fixture(sandbox, "barrierCheckFail", [("sleep 10", "sleep 0.05")])
    run = sandbox.run(path)
    expect_equal(run.rc, 1, "exit status")
    expect_equal(sorted(a["task"] for a in run.attempts), ["1", "10", "2", "3", "6", "8", "9"],
                 "tasks that ran")
    expect_equal(run.only_attempt("6")["exit_code"], 13, "the failing task")
    reason = run.summary.get("stopped")
    expect(reason is not None and "BARRIER CHECK" in reason and "barrierCheckFail:11" in reason,
           f"the summary's reason: {reason!r}")
    expect_in("BARRIER CHECK", run.stdout, "the summary printed")
    expect_equal(run.summary["outcomes"]["not_run"], 3, "tasks not run")


def test_a_failure_before_a_plain_barrier_lets_the_rest_run(sandbox):
    """A failure before a plain BARRIER does not stop the run, nor trip a later CHECK: every
    task runs, those after each barrier once those before it have ended; exit 1."""
    sandbox.write("tasks.txt", """\
        sleep 0.2; exit 2
        echo b
        #DISBATCH BARRIER
        echo after-first
        #DISBATCH BARRIER CHECK
        echo after-check
        """)
    run = sandbox.run("tasks.txt")
    expect_equal(run.rc, 1, "exit status")
    expect_equal(sorted(a["task"] for a in run.attempts), ["1", "2", "4", "6"], "tasks that ran")
    expect_all_before(run, {"1", "2"}, {"4"})
    expect_all_before(run, {"4"}, {"6"})
    expect(run.summary.get("stopped") is None, "the run was not stopped")


def test_a_perengine_line_after_a_task_is_an_error_before_anything_runs(sandbox):
    """latePETask says "This should fail.": exit 2, naming line 3, nothing run (disBatch logs
    it and drops the rest of the file)."""
    path = copy_fixture(sandbox, "latePETask")
    run = sandbox.run(path)
    expect_equal(run.rc, 2, "exit status")
    expect_in("latePETask:3: #DISBATCH PERENGINE after the first task", run.stderr, "the error")
    expect_equal(run.attempts, [], "results")


def test_the_fail_fast_example_stops_before_its_last_task(sandbox):
    """Tasks_failfast with two slots and --max-failures 1 (disBatch's --fail-fast): `exit 1`
    fails at once, `touch A.txt` never starts, the running sleep drains, exit 1."""
    path = copy_fixture(sandbox, "Tasks_failfast", [("sleep 1000", "sleep 1")])
    run = run_jobrunner(sandbox, "--out", sandbox.path / "run", "--slots", "2",
                        "--max-failures", "1", path, np=1, run_dir=sandbox.path / "run")
    expect_equal(run.rc, 1, "exit status")
    expect(not (sandbox.path / "A.txt").exists(), "touch A.txt never ran")
    expect_equal(run.only_attempt("1")["outcome"], "succeeded", "the running sleep drained")
    expect_in("--max-failures", run.summary.get("stopped") or "", "the summary's reason")


def test_an_empty_task_file_runs_nothing(sandbox):
    """emptyTaskFile: no tasks, exit 0."""
    run = sandbox.run(copy_fixture(sandbox, "emptyTaskFile"))
    expect_equal(run.rc, 0, "exit status")
    expect_in("no tasks to run", run.stdout + run.stderr, "what the run says")


def test_a_repeat_of_four_thousand_counts_and_pads_as_disbatch_does(sandbox):
    """4KTasksRep: 4000 tasks from one REPEAT starting at 1000000, each its PREFIX alone
    (checked by a dry run); a copy repeating 20 times runs, and each task's log, named from
    DISBATCH_JOBID and DISBATCH_TASKID, holds its repeat index."""
    path = copy_fixture(sandbox, "4KTasksRep", [("/CHANGE/THIS/PATH", str(sandbox.path / "logs")),
                                                ("sleep 13", "true")])
    (sandbox.path / "logs").mkdir()
    dry = sandbox.run_without_mpirun("--dry-run", "--dry-run-tasks", "1", str(path))
    expect_equal(dry.rc, 0, "exit status of the dry run")
    expect_in("4000 tasks", dry.stdout, "the count")
    expect_in("DISBATCH_REPEAT_INDEX_ZP=1000000", dry.stdout, "seven digits, unpadded")
    path.write_text(path.read_text().replace("REPEAT 4000", "REPEAT 20"))
    run = sandbox.run(path)
    expect_equal(run.rc, 0, "exit status")
    logs = sorted((sandbox.path / "logs").iterdir())
    expect_equal(len(logs), 20, "logs written")
    job = run.run_dir.name
    expect_in(f"DeleteMe_{job}_19.log", [p.name for p in logs], "named from the variables")
    expect_in("1000019", (sandbox.path / "logs" / f"DeleteMe_{job}_19.log").read_text(),
              "the repeat index in the last log")


def test_every_variable_disbatch_sets_has_disbatchs_value(sandbox):
    """DISBATCH_TASKID (barriers take one), _ZP forms, STREAM_INDEX (the line), REPEAT_INDEX
    (-1 outside a REPEAT), NAMETASKS, JOBID (the run directory's name), ENGINE_RANK (the
    worker), CYLINDER_RANK (a slot of it) and CORES_PER_TASK."""
    show = ("echo $DISBATCH_TASKID $DISBATCH_TASKID_ZP $DISBATCH_STREAM_INDEX "
            "$DISBATCH_STREAM_INDEX_ZP $DISBATCH_REPEAT_INDEX $DISBATCH_REPEAT_INDEX_ZP "
            "$DISBATCH_NAMETASKS $DISBATCH_JOBID $DISBATCH_ENGINE_RANK $DISBATCH_CYLINDER_RANK "
            "$DISBATCH_CORES_PER_TASK")
    sandbox.write("vars.txt", f"{show}\n#DISBATCH BARRIER\n#DISBATCH REPEAT 2 start 8 step 3 {show}\n")
    run = sandbox.run("vars.txt", "--slots", "1")
    expect_equal(run.rc, 0, "exit status")
    job = run.run_dir.name
    values = {a["task"]: run.output(a, "stdout").decode().split() for a in run.attempts}
    expect_equal(values["1"][:8],
                 ["0", "000000", "1", "000001", "-1", "-00001", "vars.txt", job],
                 "the first line's variables")
    expect_equal(values["3-1"][:8], ["3", "000003", "3", "000003", "11", "000011", "vars.txt", job],
                 "the second repetition's variables")
    for task, shown in values.items():
        rank = next(a["worker"] for a in run.attempts if a["task"] == task)
        expect_equal(shown[8], str(rank - 1 if rank > 0 else 0), f"DISBATCH_ENGINE_RANK of {task}")
        expect_equal(shown[9:], ["0", "1"], f"cylinder and cores of {task} with one slot")


if __name__ == "__main__":
    run_tests(globals())
