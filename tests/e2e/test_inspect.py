"""Looking at a run from outside it: `jobrunner status` during a run, after kill -9 and after
its end, `--json` and `--watch`; `logs` (and `--follow`), `failed`; and `report`, whose page is
opened in headless Chromium (Debian's `chromium`, from scripts/install-deps) to check that its
script runs without an error and draws one timeline row per worker with one bar per attempt.
"""

import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from harness import execute, expect, expect_equal, expect_in, jobrunner_binary, run_tests
from reliability import read_all_results, run_jobrunner, start_jobrunner, wait_for

SLOTS = 2  # per worker, so that the number of tasks running at once is known


def workers(sandbox):
    return max(1, sandbox.np - 1)


def inspect(sandbox, *args, limit_s=30, check=True):
    """Runs `jobrunner ARGS` (a subcommand: no MPI) in the sandbox; returns (rc, out, err)."""
    rc, out, err, _ = execute([jobrunner_binary(), *map(str, args)], sandbox.path, limit_s)
    if check:
        expect_equal(rc, 0, f"exit status of jobrunner {' '.join(map(str, args))} (stderr: {err})")
    return rc, out, err


def status_json(sandbox, run_dir):
    return json.loads(inspect(sandbox, "status", run_dir, "--json")[1])


def test_status_during_a_run_and_after_kill_9(sandbox):
    """A run with 4 quick tasks, one failing task and three times as many long tasks as its
    slots hold (so that every worker has its slots full, whatever it was given to queue):
    status names the long ones running, on which rank and host; after SIGKILL to every process
    of the run, it says the run stopped and what it was running, from the journal alone."""
    slots = workers(sandbox) * SLOTS
    manifest = sandbox.write("m.yaml", f"""\
        version: 1
        tasks:
          - id: quick-{{n}}
            command: [true]
            matrix: {{n: {{range: [0, 4]}}}}
          - id: bad
            command: [sh, -c, 'echo reading input >&2; echo "line 7: no such column" >&2; exit 3']
          - id: long-{{n}}
            command: [sh, -c, 'echo started {{n}}; exec sleep 60']
            matrix: {{n: {{range: [0, {3 * slots}]}}}}
        """)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--slots", SLOTS, "--out", run_dir, manifest) as bg:
        def all_slots_busy():
            if not (run_dir / "journal").exists():
                return None
            s = status_json(sandbox, run_dir)
            return s if s["counts"]["running"] == slots and s["counts"]["failed"] == 1 else None

        s = wait_for(all_slots_busy, 60, f"{slots} long tasks running", interval_s=0.2)
        expect_equal(s["state"], "live", "state of a running run")
        expect_equal(s["tasks"], 5 + 3 * slots, "task count")
        expect_equal(s["counts"]["succeeded"], 4, "succeeded")
        expect_equal(s["counts"]["waiting"] + s["counts"]["not_started"], 2 * slots,
                     "long tasks beyond the slots, queued at a worker or not handed out")
        expect_equal(s["exit_status"], None, "exit status of a live run")
        expect_equal(len(s["running"]), slots, "running tasks listed")
        for task in s["running"]:
            expect(task["task"].startswith("long-"), f"a long task runs: {task}")
            expect_equal(task["host"], socket.gethostname(), "host of a running task")
            expect(task["worker"] in sandbox.worker_ranks(), f"a worker rank: {task}")
            expect(task["running_s"] >= 0, f"age of a running task: {task}")
        expect_equal(sorted(w["rank"] for w in s["workers"]), sorted(sandbox.worker_ranks()),
                     "workers")
        expect_equal([f["task"] for f in s["failures"]], ["bad"], "failures")
        expect_equal(s["failures"][0]["reason"], "exit status 3", "reason")
        expect_equal(s["failures"][0]["stderr_tail"], ["reading input", "line 7: no such column"],
                     "stderr tail")

        text = inspect(sandbox, "status", run_dir)[1]
        expect_in("(live: started", text, "status text")
        expect_in(f"running  {slots}:", text, "status text")
        expect_in("bad  exit status 3", text, "status text")
        expect_in("    | line 7: no such column", text, "status text")
        running = s["running"][0]["task"]
        expect_equal(inspect(sandbox, "logs", run_dir, running)[1],
                     f"started {running.split('-')[1]}\n", "output of a running task")

        bg.kill_everything()
    s = status_json(sandbox, run_dir)
    expect_equal(s["state"], "stopped", "state after kill -9")
    expect_equal(s["counts"]["running"], 0, "nothing runs after kill -9")
    expect(s["counts"]["interrupted"] >= slots, f"interrupted after kill -9: {s['counts']}")
    expect_equal(s["counts"]["succeeded"], 4, "succeeded after kill -9")
    expect_equal(len(s["running"]), slots, "tasks it stopped running")
    text = inspect(sandbox, "status", run_dir)[1]
    expect_in("(stopped:", text, "status text after kill -9")
    expect_in(f"stopped while running: {slots}", text, "status text after kill -9")
    expect_equal(inspect(sandbox, "failed", run_dir)[1], "bad\tfailed\texit status 3\n",
                 "jobrunner failed")


def test_status_logs_and_failed_after_a_run_that_ended(sandbox):
    """A run started without --out: status finds it through jobrunner-out/latest. logs prints
    any attempt's stdout or stderr; failed lists each failed or skipped task once."""
    manifest = sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: ok-{n}
            command: [sh, -c, 'echo out {n}; echo err {n} >&2']
            matrix: {n: {range: [0, 3]}}
          - id: flaky
            command: [sh, -c, 'echo "try $JOBRUNNER_ATTEMPT"; exit 1']
            retries: 1
          - id: after-flaky
            command: [true]
            depends_on: [flaky]
        """)
    run = run_jobrunner(sandbox, "--retry-backoff", "10ms", "--name", "demo", manifest)
    expect_equal(run.rc, 1, "exit status")
    expect_equal(Path(sandbox.path / "jobrunner-out" / "latest").resolve().name, "demo",
                 "jobrunner-out/latest")
    s = json.loads(inspect(sandbox, "status", "--json")[1])
    expect_equal(Path(s["run_dir"]).name, "demo", "run found without a directory given")
    expect_equal(s["state"], "ended", "state")
    expect_equal(s["exit_status"], 1, "exit status")
    expect_equal(s["counts"], {"not_started": 0, "waiting": 0, "running": 0, "succeeded": 3,
                               "failed": 1, "skipped": 1, "interrupted": 0}, "counts")
    expect_equal(s["failures_total"], 2, "failures")
    run_dir = sandbox.path / "jobrunner-out" / "demo"

    expect_equal(inspect(sandbox, "logs", run_dir, "ok-1")[1], "out 1\n", "stdout")
    expect_equal(inspect(sandbox, "logs", run_dir, "ok-1", "--stderr")[1], "err 1\n", "stderr")
    expect_equal(inspect(sandbox, "logs", run_dir, "flaky")[1], "try 2\n", "latest attempt")
    expect_equal(inspect(sandbox, "logs", run_dir, "flaky", "--attempt", "1")[1], "try 1\n",
                 "first attempt")
    rc, out, err = inspect(sandbox, "logs", run_dir, "no-such-task", check=False)
    expect_equal(rc, 2, "exit status for an unknown task")
    expect_in("has no task no-such-task", err, "message for an unknown task")

    lines = inspect(sandbox, "failed", run_dir)[1].splitlines()
    expect_equal(lines, ["flaky\tfailed\texit status 1",
                         "after-flaky\tskipped\tdependency flaky failed"], "jobrunner failed")


def test_watch_and_follow_until_the_task_and_the_run_end(sandbox):
    """status --watch into a pipe appends a page per refresh and stops when the run ends;
    logs --follow prints a task's lines as it writes them and stops when it ends."""
    manifest = sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: talker
            command: [sh, -c, 'for i in 1 2 3 4; do echo "line $i"; sleep 0.5; done']
        """)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, manifest) as bg:
        wait_for(lambda: (run_dir / "logs" / "talker.1.out").exists(), 60, "talker started")
        follow = subprocess.Popen([jobrunner_binary(), "logs", "-f", str(run_dir), "talker"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watch = subprocess.Popen([jobrunner_binary(), "status", str(run_dir), "--watch", "0.3"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        expect_equal(bg.wait(limit_s=60), 0, "exit status of the run")
        out, err = follow.communicate(timeout=30)
        expect_equal(follow.returncode, 0, f"logs --follow exit status ({err})")
        expect_equal(out.decode(), "line 1\nline 2\nline 3\nline 4\n", "followed output")
        out, err = watch.communicate(timeout=30)
        expect_equal(watch.returncode, 0, f"status --watch exit status ({err})")
        pages = out.decode().split("\n\n")
        expect(len(pages) >= 2, f"a page per refresh: {out.decode()}")
        expect_in("(ended: exit status 0", pages[-1], "the last page")
        expect("\033[" not in out.decode(), "no terminal escapes into a pipe")


def chromium_dom(sandbox, page):
    """Opens `page` in headless Chromium; returns (the DOM after its scripts ran, console
    messages)."""
    browser = shutil.which("chromium")
    expect(browser is not None, "chromium is not installed: run scripts/install-deps")
    profile = tempfile.mkdtemp(prefix="chromium-", dir=sandbox.path)
    command = [browser, "--headless", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--window-size=1200,900",
               "--enable-logging=stderr", "--v=0", "--dump-dom", Path(page).as_uri()]
    # Its sandbox needs user namespaces, which root and many containers do not get; the page is
    # our own local file.
    command.insert(1, "--no-sandbox")
    rc, dom, err, _ = execute(command, sandbox.path, 90)
    expect_equal(rc, 0, f"chromium exit status (stderr: {err[-2000:]})")
    console = [line for line in err.splitlines() if ":CONSOLE" in line]
    return dom, console


def attribute(dom, element_start, name):
    """The value of attribute `name` in the first tag of `dom` that starts with element_start."""
    at = dom.find(element_start)
    expect(at >= 0, f"{element_start} in the page")
    tag = dom[at:dom.index(">", at)]
    key = f' {name}="'
    expect_in(key, tag, f"attribute {name} of {element_start}")
    start = tag.index(key) + len(key)
    return tag[start:tag.index('"', start)]


def test_report_opens_in_a_browser_with_a_row_per_worker_and_a_bar_per_attempt(sandbox):
    """The report of a real run (retries, a failure, a skip) renders in headless Chromium with
    no script error; the timeline has one row per worker and one bar per attempt, each in its
    worker's row; --trace writes a trace with a process per worker and a slice per attempt."""
    manifest = sandbox.write("m.yaml", """\
        version: 1
        tasks:
          - id: step-{n}
            command: [sh, -c, 'sleep 0.0{n}; echo step {n}']
            matrix: {n: {range: [0, 12]}}
          - id: flaky
            command: [sh, -c, 'echo "attempt $JOBRUNNER_ATTEMPT </script>" >&2; exit 1']
            retries: 2
          - id: after-flaky
            command: [true]
            depends_on: [flaky]
        """)
    run = sandbox.run(manifest, "--slots", str(SLOTS), "--retry-backoff", "10ms")
    expect_equal(run.rc, 1, "exit status")
    attempts, _ = read_all_results(run.run_dir)
    ran = [a for a in attempts if a["attempt"] > 0]
    expect_equal(len(ran), 15, "attempts that ran")

    page, trace = sandbox.path / "report.html", sandbox.path / "trace.json"
    out = inspect(sandbox, "report", run.run_dir, "-o", page, "--trace", trace)[1]
    expect_in(f"wrote {page}", out, "report's message")
    expect(not (run.run_dir / "report.html").exists(), "-o writes only where it is told")
    expect("http://" not in page.read_text() and "https://" not in page.read_text(),
           "nothing in the page comes from the network")

    dom, console = chromium_dom(sandbox, page)
    expect_equal(console, [], "console messages (script errors) of the page")
    expect_equal(attribute(dom, "<body", "data-script-errors"), "0", "script errors")
    expect_equal(attribute(dom, "<body", "data-rendered"), "1", "the script ran to its end")
    expect_equal(int(attribute(dom, '<canvas id="timeline"', "data-rows")), workers(sandbox),
                 "timeline rows")
    expect_equal(int(attribute(dom, '<canvas id="timeline"', "data-bars")), len(ran),
                 "timeline bars")
    per_row = [int(n) for n in
               attribute(dom, '<canvas id="timeline"', "data-bars-per-row").split(",")]
    by_rank = {}
    for a in ran:
        by_rank[a["worker"]] = by_rank.get(a["worker"], 0) + 1
    expected = [by_rank.get(rank, 0) for rank in sorted(sandbox.worker_ranks())]
    expect_equal(per_row, expected, "bars in each worker's row (by rank)")
    # Failures come with their last output lines, kept from ending the page's script.
    expect_in("attempt 3 \\u003c/script>", page.read_text(), "the last stderr line, escaped")

    events = json.loads(trace.read_text())["traceEvents"]
    expect_equal(sum(1 for e in events if e["ph"] == "X"), len(ran), "slices in the trace")
    expect_equal(sum(1 for e in events if e.get("name") == "process_name"), workers(sandbox),
                 "processes in the trace")


if __name__ == "__main__":
    run_tests(globals())
