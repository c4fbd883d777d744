"""Many tiny tasks: none lost, none run twice."""

from harness import expect_equal, run_tests

TASKS = 10_000


def test_ten_thousand_tiny_tasks_each_succeed_exactly_once(sandbox):
    """10^4 runs of /bin/true (an argv list, no shell): every index 0..9999 succeeds once."""
    sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: tiny-{{i}}
            command: ["/bin/true"]
            matrix:
              i: {{range: [0, {TASKS}]}}
        """)
    run = sandbox.run("manifest.yaml", limit_s=300)
    expect_equal(run.rc, 0, "exit status")
    expect_equal(len(run.attempts), TASKS, "attempt lines in results.jsonl")
    expect_equal(sorted(a["index"] for a in run.attempts), list(range(TASKS)), "indexes")
    expect_equal({a["task"] for a in run.attempts}, {f"tiny-{i}" for i in range(TASKS)}, "ids")
    not_succeeded = [a for a in run.attempts if a["outcome"] != "succeeded"]
    expect_equal(not_succeeded, [], "attempts that did not succeed")
    expect_equal(run.summary["outcomes"]["succeeded"], TASKS, "summary succeeded")
    expect_equal(run.summary["attempts"], TASKS, "summary attempts")


if __name__ == "__main__":
    run_tests(globals())
