"""The manifest's node_setup and node_teardown on one host: the host's first worker runs the
set-up once, before any task (the other workers wait for it), and the teardown once, after the
last task, also when a drain ends the run; a failed set-up takes the host's workers out of the
run. tests/e2e/test_multihost.py runs them on three hosts."""

from harness import expect, expect_equal, expect_in, run_tests

TASKS = 8


def node_lines(run, kind):
    """results.jsonl's lines of the host commands of one kind ("node_setup" or "node_teardown")."""
    return [a for a in run.attempts if a.get("per_worker") == kind]


def task_lines(run):
    return [a for a in run.attempts if a.get("per_worker") is None]


def write_manifest(sandbox, setup, teardown, task_command, tasks=TASKS, extra=""):
    return sandbox.write("manifest.yaml", f"""\
        version: 1
        {extra}node_setup: {setup}
        node_teardown: {teardown}
        tasks:
          - id: t-{{n}}
            command: {task_command}
            matrix:
              n: {{range: [0, {tasks}]}}
        """)


def test_the_set_up_runs_once_before_every_task_and_the_teardown_once_after_them(sandbox):
    """The set-up sleeps, then writes `ready` with its JOBRUNNER_NODE_RANK and
    JOBRUNNER_NODE_HOST; every task fails unless `ready` exists, so a worker that did not wait
    for its host's set-up fails a task. Proves: exit 0; one node_setup line and one
    node_teardown line in results.jsonl, on the tasks' host; the set-up ended before any task
    started and the teardown started after every task ended; `ready` says node rank 0 and the
    host; the set-up's stdout is in logs/node-setup.<host>.1.out."""
    manifest = write_manifest(
        sandbox,
        '"sleep 0.5; echo $JOBRUNNER_NODE_RANK $JOBRUNNER_NODE_HOST > ready; echo staged"',
        '"rm ready; echo cleaned > cleaned"', '"test -e ready && sleep 0.1"')
    run = sandbox.run(manifest)
    expect_equal(run.rc, 0, "exit status")
    tasks = task_lines(run)
    expect_equal(sorted(a["task"] for a in tasks), sorted(f"t-{n}" for n in range(TASKS)),
                 "tasks, each once")
    expect(all(a["outcome"] == "succeeded" for a in tasks), f"outcomes: {tasks}")
    hosts = {a["host"] for a in tasks}
    expect_equal(len(hosts), 1, "hosts of the tasks")
    host = hosts.pop()
    setups, teardowns = node_lines(run, "node_setup"), node_lines(run, "node_teardown")
    expect_equal([(a["task"], a["host"], a["outcome"]) for a in setups],
                 [(f"node-setup.{host}", host, "succeeded")], "node_setup lines")
    expect_equal([(a["task"], a["host"], a["outcome"]) for a in teardowns],
                 [(f"node-teardown.{host}", host, "succeeded")], "node_teardown lines")
    expect(setups[0]["end"] <= min(a["start"] for a in tasks),
           f"the set-up ended at {setups[0]['end']}, after a task started: {tasks}")
    expect(teardowns[0]["start"] >= max(a["end"] for a in tasks),
           f"the teardown started at {teardowns[0]['start']}, before a task ended: {tasks}")
    expect_equal(setups[0]["stdout"], f"logs/node-setup.{host}.1.out", "the set-up's log")
    expect_equal(run.output(setups[0], "stdout"), b"staged\n", "the set-up's stdout")
    expect_equal((sandbox.path / "cleaned").read_text(), "cleaned\n", "the teardown's file")
    expect(not (sandbox.path / "ready").exists(), "the teardown removed `ready`")


def test_a_failed_set_up_leaves_no_worker_and_the_run_stops_with_exit_4(sandbox):
    """The set-up exits 3. Proves: no task runs; stderr names the host, the exit status and the
    set-up's stderr log, and says that no host is left; the run exits 4 (continue it with
    --resume once node_setup is fixed); the teardown still runs on the host."""
    manifest = write_manifest(sandbox, '"echo no scratch space >&2; exit 3"',
                              '"echo cleaned > cleaned"', '"true"')
    run = sandbox.run(manifest)
    expect_equal(run.rc, 4, "exit status")
    expect_equal(task_lines(run), [], "task lines in results.jsonl")
    setups = node_lines(run, "node_setup")
    expect_equal(len(setups), 1, f"node_setup lines: {setups}")
    host = setups[0]["host"]
    expect_equal((setups[0]["outcome"], setups[0]["exit_code"]), ("failed", 3), "the set-up")
    expect_in(f"node set-up on host {host} failed with exit status 3: its workers take no "
              f"tasks; see {run.run_dir}/logs/node-setup.{host}.1.err", run.stderr, "stderr")
    expect_in("node set-up failed on every host", run.stderr, "stderr")
    expect_equal(run.output(setups[0], "stderr"), b"no scratch space\n", "the set-up's stderr")
    expect_equal((sandbox.path / "cleaned").read_text(), "cleaned\n", "the teardown's file")
    expect_equal(run.summary["outcomes"]["not_run"], TASKS, f"summary: {run.summary}")


def test_the_teardown_runs_after_a_drain(sandbox):
    """Tasks that sleep 30 s and --time-limit 3s: the run drains, kills them and exits 4; the
    host's teardown runs after that, before the ranks exit."""
    manifest = write_manifest(sandbox, '"true"', '"echo cleaned > cleaned"', '"sleep 30"',
                              tasks=2)
    run = sandbox.run(manifest, "--time-limit", "3s", "--drain-grace", "300ms")
    expect_equal(run.rc, 4, "exit status")
    teardowns = node_lines(run, "node_teardown")
    expect_equal([a["outcome"] for a in teardowns], ["succeeded"], "node_teardown lines")
    expect_equal((sandbox.path / "cleaned").read_text(), "cleaned\n", "the teardown's file")


def test_an_empty_node_setup_is_a_manifest_error(sandbox):
    """`node_setup: ""` is refused with file:line:column and exit 2; nothing runs."""
    if sandbox.np != 1:
        print("    (no ranks needed: run at np 1 only)", flush=True)
        return
    manifest = write_manifest(sandbox, '""', '"true"', '"true"')
    run = sandbox.run_without_mpirun("--check", str(manifest))
    expect_equal(run.rc, 2, "exit status")
    expect_in(f"{manifest}:2:13: empty node_setup", run.stderr, "stderr")


if __name__ == "__main__":
    run_tests(globals())
