"""What a task sees: its environment variables, its working directory, its placeholders."""

import os

from harness import expect_equal, run_tests


def test_env_comes_from_defaults_task_and_launcher_with_the_task_winning(sandbox):
    """Defaults' env reaches every task, a task's own env overrides it, {task_id} is filled in,
    and variables of the environment jobrunner was started in pass through."""
    sandbox.write("manifest.yaml", """\
        version: 1
        defaults:
          env: {FROM_DEFAULTS: base, OVERRIDDEN: from-defaults}
        tasks:
          - id: env-{name}
            command: 'printf "%s|%s|%s|%s" "$FROM_DEFAULTS" "$OVERRIDDEN" "$OWN" "$INHERITED"'
            env: {OVERRIDDEN: from-task, OWN: "{task_id} of {name}"}
            matrix:
              name: [a, b]
          - id: defaults-only
            command: 'printf "%s|%s|%s" "$FROM_DEFAULTS" "$OVERRIDDEN" "${OWN-unset}"'
        """)
    run = sandbox.run("manifest.yaml", env={"INHERITED": "from-launcher", "OWN": "leaked"})
    expect_equal(run.rc, 0, "exit status")
    for name in ("a", "b"):
        attempt = run.only_attempt(f"env-{name}")
        expect_equal(run.output(attempt, "stdout"),
                     f"base|from-task|env-{name} of {name}|from-launcher".encode(),
                     f"environment of env-{name}")
    expect_equal(run.output(run.only_attempt("defaults-only"), "stdout"),
                 b"base|from-defaults|leaked", "environment of defaults-only")


def test_tasks_do_not_see_open_mpi_variables(sandbox):
    """A task is not part of jobrunner's MPI job: no OMPI_, PMIX_, OPAL_ or ORTE_ variables."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: mpi-env
            command: "env | grep -E '^(OMPI|PMIX|OPAL|ORTE)_' || true"
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    expect_equal(run.only_attempt("mpi-env")["stdout"], None,
                 "MPI variables in the task's environment (its stdout file)")


def test_cwd_is_relative_to_where_jobrunner_started(sandbox):
    """`cwd: dirs/{task_id}` resolves under the launch directory; without cwd: a task runs in
    the launch directory itself."""
    for task in ("in-alpha", "in-beta"):
        (sandbox.path / "dirs" / task).mkdir(parents=True)
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: in-{d}
            command: ["pwd", "-P"]
            cwd: "dirs/{task_id}"
            matrix:
              d: [alpha, beta]
          - id: default-cwd
            command: ["pwd", "-P"]
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    launch_dir = os.path.realpath(sandbox.path)
    for task, expected in (("in-alpha", f"{launch_dir}/dirs/in-alpha"),
                           ("in-beta", f"{launch_dir}/dirs/in-beta"),
                           ("default-cwd", launch_dir)):
        expect_equal(run.output(run.only_attempt(task), "stdout"), f"{expected}\n".encode(),
                     f"working directory of {task}")


if __name__ == "__main__":
    run_tests(globals())
