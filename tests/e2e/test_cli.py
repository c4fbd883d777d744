"""The command line without mpirun: help, version, --check, usage errors, a one-process run."""

import re

from harness import REPO_ROOT, expect, expect_equal, expect_in, read_results, run_tests


def project_version():
    """The version in the top-level CMakeLists.txt's project() call."""
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(jobrunner\s+VERSION\s+([\d.]+)", cmake).group(1)


def test_help_prints_usage_flags_and_exit_statuses(sandbox):
    """--help exits 0 and documents the usage, the flags and the exit statuses."""
    run = sandbox.run_without_mpirun("--help")
    expect_equal(run.rc, 0, "exit status")
    for text in ("Usage: jobrunner", "mpirun -n N jobrunner", "--max-output", "--kill-grace",
                 "--retry-backoff", "--check", "Exit status: 0 all tasks succeeded"):
        expect_in(text, run.stdout, "--help output")


def test_help_lists_every_command_on_one_line_before_the_options(sandbox):
    """--help names launch, status, logs, failed and report, each with its one-line description,
    above the options of a run, where a first reader sees them."""
    run = sandbox.run_without_mpirun("--help")
    expect_equal(run.rc, 0, "exit status")
    lines = run.stdout.splitlines()
    options_at = next(i for i, line in enumerate(lines) if line.startswith("Options:"))
    for command in ("launch", "status", "logs", "failed", "report"):
        rows = [i for i, line in enumerate(lines)
                if re.fullmatch(rf"  {command}\s{{2,}}\S.*", line)]
        expect_equal(len(rows), 1, f"lines listing {command} in --help:\n{run.stdout}")
        expect(rows[0] < options_at, f"{command} is listed before the options:\n{run.stdout}")
        expect(len(lines[rows[0]]) <= 100, f"{command}'s line is short: {lines[rows[0]]!r}")


def test_version_prints_the_project_version(sandbox):
    """--version exits 0 and prints the version CMake was given."""
    run = sandbox.run_without_mpirun("--version")
    expect_equal(run.rc, 0, "exit status")
    expect_equal(run.stdout.strip(), f"jobrunner {project_version()}", "--version output")


def test_check_counts_the_tasks_of_the_demo(sandbox):
    """--check config/demo.yaml exits 0 and prints how many tasks it expands to."""
    demo = REPO_ROOT / "config" / "demo.yaml"
    run = sandbox.run_without_mpirun("--check", str(demo))
    expect_equal(run.rc, 0, "exit status")
    expect(re.fullmatch(rf"{re.escape(str(demo))}: ok, \d+ tasks from \d+ entries\n", run.stdout),
           f"--check output: {run.stdout!r}")


def test_check_counts_matrix_products_and_plain_tasks(sandbox):
    """A 3 x 4 matrix and one plain task are 13 tasks from 2 entries; nothing runs."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: cell-{row}-{column}
            command: "touch ran"
            matrix:
              row: [a, b, c]
              column: {range: [0, 8, 2]}
          - id: single
            command: "touch ran"
        """)
    run = sandbox.run_without_mpirun("--check", "manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    expect_equal(run.stdout, "manifest.yaml: ok, 13 tasks from 2 entries\n", "--check output")
    expect(not (sandbox.path / "ran").exists(), "--check ran a task")


def test_check_on_a_bad_manifest_exits_2_naming_line_and_column(sandbox):
    """--check reports a manifest error as file:line:column, here the bad retries value."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: a
            command: echo hi
            retries: many
        """)
    run = sandbox.run_without_mpirun("--check", "manifest.yaml")
    expect_equal(run.rc, 2, "exit status")
    expect_in("manifest.yaml:5:14: ", run.stderr, "stderr")
    expect_in("retries", run.stderr, "stderr")


def test_usage_errors_exit_2(sandbox):
    """No manifest, an unknown flag or a bad --progress value: exit 2 with a message."""
    for args, message in ((["--check"], "manifest is required"),
                          (["--bogus", "manifest.yaml"], "--bogus"),
                          (["--progress", "sometimes", "manifest.yaml"], "--progress")):
        run = sandbox.run_without_mpirun(*args)
        expect_equal(run.rc, 2, f"exit status of jobrunner {' '.join(args)}")
        expect_in(message, run.stderr, f"stderr of jobrunner {' '.join(args)}")


def test_without_mpirun_one_process_coordinates_and_runs_the_tasks(sandbox):
    """Started directly, jobrunner is its own single rank: it runs every task as worker 0."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: solo-{n}
            command: ["echo", "{n}"]
            matrix:
              n: [1, 2, 3]
        """)
    run = sandbox.run_without_mpirun("--progress", "log", "--out", "run", "manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    attempts, summary = read_results(sandbox.path / "run")
    expect_equal(sorted(a["task"] for a in attempts), ["solo-1", "solo-2", "solo-3"], "tasks")
    expect_equal({a["worker"] for a in attempts}, {0}, "worker ranks")
    expect_equal(summary["outcomes"]["succeeded"], 3, "summary succeeded")


if __name__ == "__main__":
    run_tests(globals())
