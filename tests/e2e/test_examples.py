"""Every example manifest and command list in config/ runs, as its comment says, and ends as it
documents.

Each config/*.yaml (a manifest) and config/*.txt (a command list) becomes a test of its own,
test_example_<name>, so a new example is covered with no change here. An example expecting an
exit status other than 0 says so in a comment line of its own: `# expect-exit: 1`.
"""

import re

from harness import REPO_ROOT, expect, expect_equal, run_tests

EXAMPLES = sorted([*(REPO_ROOT / "config").glob("*.yaml"),
                   *(REPO_ROOT / "config").glob("*.txt")])
EXPECT_EXIT = re.compile(r"^#\s*expect-exit:\s*(\d+)\s*$", re.MULTILINE)
CHECK_COUNT = re.compile(r": ok, (\d+) tasks from ")


def documented_exit_status(manifest):
    """The status of the manifest's `# expect-exit: N` comment, or 0 without one."""
    match = EXPECT_EXIT.search(manifest.read_text())
    return int(match.group(1)) if match else 0


def test_config_holds_example_manifests(sandbox):
    """The glob finds the examples, so the tests below cannot all vanish unnoticed."""
    expect(EXAMPLES, f"no example manifests in {REPO_ROOT / 'config'}")


def example_test(manifest):
    """A test that runs `manifest` from an empty directory and checks how it ends."""

    def test(sandbox):
        check = sandbox.run_without_mpirun("--check", str(manifest))
        expect_equal(check.rc, 0, "exit status of --check")
        counted = CHECK_COUNT.search(check.stdout)
        expect(counted, f"--check prints no task count: {check.stdout!r}")
        run = sandbox.run(manifest)
        expect_equal(run.rc, documented_exit_status(manifest), "exit status")
        # Per-worker commands (a command list's PERENGINE START and STOP) are not tasks.
        tasks = {a["task"] for a in run.attempts if "per_worker" not in a}
        expect_equal(len(tasks), int(counted.group(1)),
                     "tasks in results.jsonl, against the count of --check")
        expect_equal(run.summary["exit_status"], run.rc, "summary exit_status")

    test.__name__ = "test_example_" + re.sub(r"\W", "_", manifest.stem)
    test.__doc__ = (f"config/{manifest.name} exits with its documented status, and its results "
                    "hold every task that --check counts.")
    return test


for _test in map(example_test, EXAMPLES):
    globals()[_test.__name__] = _test


if __name__ == "__main__":
    run_tests(globals())
