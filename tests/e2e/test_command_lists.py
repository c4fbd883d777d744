"""Plain command lists in place of a manifest: one shell command a line, from a file or stdin,
with ids from line numbers, defaults from flags, the command recorded in results.jsonl, errors
at file:line, --resume naming a changed line, tasks_from in a manifest, the shell, and a dry run
of ten million lines.
"""

import os
import subprocess

from harness import expect, expect_equal, expect_in, run_tests
from reliability import resume

LIST = """\
    # A comment, and blank lines, make no task.

    echo one
    echo "two words" > two.txt
      echo three   
    exit 3
    """


def default_shell():
    return "/bin/bash" if os.access("/bin/bash", os.X_OK) else "/bin/sh"


def test_a_command_list_runs_each_line_once_with_ids_from_line_numbers(sandbox):
    """Lines 3-6 are tasks 3, 4, 5 and 6; each runs once under the shell, and results.jsonl
    records the command as it ran. Line 6 exits 3: outcome failed, exit status 1."""
    sandbox.write("tasks.txt", LIST)
    run = sandbox.run("tasks.txt")
    expect_equal(run.rc, 1, "exit status")
    expect_equal(sorted(a["task"] for a in run.attempts), ["3", "4", "5", "6"], "task ids")
    one = run.only_attempt("3")
    expect_equal(one["outcome"], "succeeded", "outcome of line 3")
    expect_equal(run.output(one, "stdout"), b"one\n", "output of line 3")
    expect_equal(one["command"], f"{default_shell()} -c 'echo one'", "command of line 3")
    expect_equal(run.only_attempt("5")["command"],
                 f"{default_shell()} -c '  echo three   '", "blanks around a line are kept")
    expect_equal((sandbox.path / "two.txt").read_text(), "two words\n", "line 4 wrote its file")
    failed = run.only_attempt("6")
    expect_equal((failed["outcome"], failed["exit_code"]), ("failed", 3), "line 6")
    expect_equal(run.summary["tasks"], 4, "summary tasks")
    expect((run.run_dir / "tasks.txt").read_text() == (sandbox.path / "tasks.txt").read_text(),
           "the run directory keeps a copy of the list")


def test_a_list_on_stdin_runs_and_its_copy_resumes_the_run(sandbox):
    """`-` reads the list from stdin once; the run directory keeps it as tasks.txt, and
    --resume with that copy reruns only the task that failed (with --retry-failed)."""
    text = b"echo a\ntest -e again || { touch again; exit 4; }\necho c\n"
    run = sandbox.run("-", stdin_bytes=text)
    expect_equal(run.rc, 1, "exit status of the first run")
    expect_equal(sorted(a["task"] for a in run.attempts), ["1", "2", "3"], "task ids")
    copy = run.run_dir / "tasks.txt"
    expect_equal(copy.read_bytes(), text, "the run directory's copy of stdin")
    again = resume(sandbox, run.run_dir, copy, "--retry-failed")
    expect_equal(again.rc, 0, "exit status of the resumed run")
    expect_equal([a["task"] for a in again.attempts if a["attempt"] == 2], ["2"],
                 "tasks run again")


def test_flags_give_a_lists_tasks_a_timeout_retries_env_and_cwd(sandbox):
    """--timeout, --retries, --env and --cwd do for a list what a manifest's fields do."""
    (sandbox.path / "work").mkdir()
    sandbox.write("tasks.txt", """\
        echo "$GREETING $PLACE" > greeting.txt
        test -e flaky || { touch flaky; exit 5; }
        sleep 30
        """)
    run = sandbox.run("tasks.txt", "--timeout", "1s", "--retries", "1", "--env", "GREETING=hi",
                      "--env", "PLACE=a b=c", "--cwd", "work", "--kill-grace", "100ms",
                      "--retry-backoff", "10ms")
    expect_equal(run.rc, 1, "exit status")
    expect_equal((sandbox.path / "work" / "greeting.txt").read_text(), "hi a b=c\n",
                 "--env values, in --cwd")
    flaky = run.attempts_of("2")
    expect_equal([a["outcome"] for a in flaky], ["failed", "succeeded"], "a retried task")
    slow = run.attempts_of("3")
    expect_equal([a["outcome"] for a in slow], ["timed_out", "timed_out"], "a task past --timeout")


def test_an_empty_list_runs_nothing_and_exits_0(sandbox):
    """A list of comments and directives only is not an error: nothing runs, exit 0, one line
    says so."""
    sandbox.write("tasks.txt", "# nothing yet\n#DISBATCH PREFIX cd out ; \n\n")
    run = sandbox.run("tasks.txt")
    expect_equal(run.rc, 0, "exit status")
    expect_in("no tasks to run", run.stdout + run.stderr, "what the run says")
    expect_equal(run.attempts, [], "results")


def test_errors_in_a_list_name_its_file_and_line(sandbox):
    """A PERENGINE line after a task cannot run as disBatch's authors meant: exit 2 before
    anything runs, naming the line, from --check and from a run alike."""
    sandbox.write("tasks.txt", "echo a\n\n#DISBATCH PERENGINE START hostname\n")
    check = sandbox.run_without_mpirun("--check", "tasks.txt")
    expect_equal(check.rc, 2, "exit status of --check")
    expect_in("tasks.txt:3: #DISBATCH PERENGINE after the first task", check.stderr, "--check")
    run = sandbox.run("tasks.txt")
    expect_equal(run.rc, 2, "exit status of the run")
    expect_in("tasks.txt:3: #DISBATCH PERENGINE after the first task", run.stderr, "the run")
    expect_equal(run.attempts, [], "results")


def test_a_manifest_named_without_yaml_is_not_run_as_commands(sandbox):
    """A YAML manifest whose name lacks .yaml would be read as a command list; its first line,
    `version: 1`, says what it is: exit 2 with the way out, and --format yaml runs it."""
    sandbox.write("manifest", "version: 1\ntasks: [{id: a, command: 'true'}]\n")
    check = sandbox.run_without_mpirun("--check", "manifest")
    expect_equal(check.rc, 2, "exit status")
    expect_in("manifest:1: this looks like a YAML manifest", check.stderr, "the error")
    expect_in("--format yaml", check.stderr, "the way out")
    ok = sandbox.run_without_mpirun("--check", "--format", "yaml", "manifest")
    expect_equal(ok.rc, 0, "exit status with --format yaml")


def test_resume_with_a_changed_list_names_the_line_that_changed(sandbox):
    """A list edited between runs is refused on --resume with file:line and both texts, unless
    --force, which then runs the edited line."""
    sandbox.write("tasks.txt", "echo a\nexit 1\necho c\n")
    run = sandbox.run("tasks.txt")
    expect_equal(run.rc, 1, "exit status of the first run")
    sandbox.write("tasks.txt", "echo a\necho fixed\necho c\n")
    refused = resume(sandbox, run.run_dir, sandbox.path / "tasks.txt", "--retry-failed")
    expect_equal(refused.rc, 2, "exit status of the refused resume")
    expect_in("tasks.txt:2 was 'exit 1', is 'echo fixed'", refused.stderr, "what changed")
    forced = resume(sandbox, run.run_dir, sandbox.path / "tasks.txt", "--retry-failed", "--force")
    expect_equal(forced.rc, 0, "exit status with --force")
    retried = [a for a in forced.attempts if a["task"] == "2" and a["attempt"] == 2]
    expect_equal(len(retried), 1, "line 2 ran again")
    expect_equal(retried[0]["command"], f"{default_shell()} -c 'echo fixed'", "as edited")


def test_a_manifest_entry_runs_a_list_with_the_entrys_fields(sandbox):
    """tasks_from: the entry's env and cwd reach every line; ids are <entry>-<line>; another
    entry waits for all of them with after: [{entry: ...}], even though one failed."""
    (sandbox.path / "lists").mkdir()
    sandbox.write("lists/cmds.txt", "echo $WHO > $WHO-1.txt\n#DISBATCH REPEAT 2 echo r\nexit 9\n")
    sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: report
            command: "ls lists | sort > listing.txt"
            after: [{entry: batch}]
          - id: batch
            tasks_from: lists/cmds.txt
            env: {WHO: me}
            cwd: lists
        """)
    run = sandbox.run("m.yaml")
    expect_equal(run.rc, 1, "exit status")
    expect_equal(sorted(a["task"] for a in run.attempts),
                 ["batch-1", "batch-2-0", "batch-2-1", "batch-3", "report"], "task ids")
    expect_equal(run.only_attempt("batch-3")["exit_code"], 9, "the failing line")
    expect_equal((sandbox.path / "listing.txt").read_text(), "cmds.txt\nme-1.txt\n",
                 "report ran after every line of the list")


def test_the_shell_is_bash_by_default_and_shell_overrides_it(sandbox):
    """`( cmd ) &> file` means "both streams into file" in bash, what task lists expect; a
    manifest's string commands get the same shell, and --shell replaces it."""
    if not os.access("/bin/bash", os.X_OK):
        return
    sandbox.write("tasks.txt", "( echo out; echo err >&2 ) &> both.txt\necho $0 > shell.txt\n")
    run = sandbox.run("tasks.txt")
    expect_equal(run.rc, 0, "exit status")
    expect_equal((sandbox.path / "both.txt").read_text(), "out\nerr\n", "bash's &>")
    expect_equal((sandbox.path / "shell.txt").read_text(), "/bin/bash\n", "the shell")
    other = sandbox.run("tasks.txt", "--shell", "/bin/sh")
    expect_equal((sandbox.path / "shell.txt").read_text(), "/bin/sh\n", "--shell")
    expect(other.only_attempt("2")["command"].startswith("/bin/sh -c "), "command with --shell")


def test_a_dry_run_of_ten_million_lines_prints_the_count_and_the_first_tasks(sandbox):
    """`--dry-run --dry-run-tasks 3` on a 10^7-line list: the task count, three tasks with
    their lines, commands and variables, nothing run, exit 0; a bad last line makes it exit 2
    naming that line, as --check would."""
    big = sandbox.path / "big.txt"
    with open(big, "wb") as out:
        subprocess.run("yes 'echo hi' | head -n 10000000", shell=True, stdout=out, check=True)
    run = sandbox.run_without_mpirun("--dry-run", "--dry-run-tasks", "3", "big.txt", limit_s=120)
    expect_equal(run.rc, 0, "exit status")
    expect_in("big.txt: ok, 10000000 tasks from a command list of 10000000 lines", run.stdout,
              "the count")
    expect_equal(run.stdout.count("\ntask "), 3, "tasks printed")
    expect_in("task 3 (big.txt:3)", run.stdout, "the third task and its line")
    expect_in(f"command:   {default_shell()} -c 'echo hi'", run.stdout, "its command")
    expect_in("DISBATCH_TASKID=2", run.stdout, "its variables")
    expect(not (sandbox.path / "jobrunner-out").exists(), "a dry run makes no run directory")
    with open(big, "ab") as out:
        out.write(b"#DISBATCH PERENGINE STOP date\n")
    bad = sandbox.run_without_mpirun("--dry-run", "big.txt", limit_s=120)
    expect_equal(bad.rc, 2, "exit status with a bad last line")
    expect_in("big.txt:10000001: #DISBATCH PERENGINE", bad.stderr, "the error's place")


def test_a_dry_run_of_a_manifest_shows_each_task_as_it_will_run(sandbox):
    """Rendered ids, commands with their shell and quoting, cwd, env and needs."""
    sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: sim-{n:03d}
            command: "sim --name {name}"
            env: {SEED: "{n}"}
            cores: 2
            matrix: {n: [7, 8], name: ["a b"]}
        """)
    run = sandbox.run_without_mpirun("--dry-run", "m.yaml")
    expect_equal(run.rc, 0, "exit status")
    expect_in("m.yaml: ok, 2 tasks from 1 entries", run.stdout, "the count")
    expect_in("task sim-007 (m.yaml:3)", run.stdout, "the first task")
    quoted = "'sim --name '\\''a b'\\'''"
    expect_in(f"command:   {default_shell()} -c {quoted}", run.stdout,
              "the command, quoted as it will run")
    expect_in("SEED=7", run.stdout, "env")
    expect_in("2 cores", run.stdout, "needs")
    run_dir_made = (sandbox.path / "jobrunner-out").exists()
    expect(not run_dir_made, "a dry run makes no run directory")


if __name__ == "__main__":
    run_tests(globals())
