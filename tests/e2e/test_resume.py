"""--resume after crashes and damage: kill -9 at random points, a journal cut at any offset, a
corrupt journal, a changed manifest, --retry-failed, and a resume racing a live run.

The invariant under test: however a run ends, resuming it (as often as needed) leaves every task
with exactly one "succeeded" line in results.jsonl, never runs again a task the journal says
succeeded, and never skips a task that did not succeed.
"""

import json
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import expect, expect_equal, expect_in, run_tests
from reliability import (JOURNAL_HEADER_SIZE, count_result_lines,
                         expect_each_succeeded_exactly_once, read_all_results, read_journal,
                         only_at_np_2, resume, run_jobrunner, seeded, skip, start_jobrunner,
                         succeeded_in_journal, wait_for, wait_until_dead)

CRASH_TASKS = 3000
CRASH_MANIFEST = f"""\
    version: 1
    tasks:
      - id: t-{{n}}
        command: "echo {{n}}"
        matrix:
          n: {{range: [0, {CRASH_TASKS}]}}
    """
# Seeds of the crash test: different per rank count, so the three variants try different points;
# JOBRUNNER_E2E_SEED replays one.
CRASH_SEEDS = 3


def crash_seeds(np):
    if os.environ.get("JOBRUNNER_E2E_SEED"):
        return [int(os.environ["JOBRUNNER_E2E_SEED"])]
    return [1000 * np + k for k in range(CRASH_SEEDS)]


def start_and_crash(sandbox, args, run_dir, rng, how, name, after_s=None):
    """Starts jobrunner with `args` and SIGKILLs it: `after_s` seconds after the start when
    given (to hit a resume while it replays the journal and restores results), otherwise once
    results.jsonl has grown by a random number of lines. `how` is "mpirun" (mpirun's process
    group only: the ranks then find their launcher gone and exit by themselves) or "all"
    (every process of the run at once, as a machine crash would). Returns a description of
    what happened, or None when the run ended before the kill point."""
    before = count_result_lines(run_dir)
    remaining = CRASH_TASKS - before
    target = before + rng.randint(max(1, remaining // 20), max(2, remaining * 9 // 10))
    with start_jobrunner(sandbox, *args, name=name.replace(" ", "-")) as bg:
        deadline = time.monotonic() + 120
        polls = 0

        def due():
            if after_s is not None:
                return time.monotonic() - bg.started >= after_s
            return count_result_lines(run_dir) >= target

        while bg.process.poll() is None and not due():
            expect(time.monotonic() < deadline, f"{name}: no progress to line {target} in 120 s")
            if polls % 20 == 0:
                bg.descendants()  # remember the ranks while mpirun still parents them
            polls += 1
            time.sleep(0.005)
        if bg.process.poll() is not None:
            bg.wait(limit_s=10)
            bg.as_run(run_dir)
            return None
        at = count_result_lines(run_dir)
        ranks = bg.descendants()
        if how == "mpirun":
            os.killpg(bg.pid, signal.SIGKILL)
        else:
            bg.kill_everything()
        bg.wait(limit_s=10)
        # Nothing of the killed run may still write into the run directory when the resume
        # starts: Open MPI's ranks exit on their own (status 195) soon after mpirun is gone.
        left = wait_until_dead(ranks, limit_s=20)
        expect(not left, f"{name}: processes of the killed run still alive 20 s after "
                         f"SIGKILL to mpirun: {left}")
        bg.as_run(run_dir)
        when = f"{after_s:.2f}s after its start" if after_s is not None else f"target {target}"
        return f"{name}: SIGKILL ({how}) at {at} result lines ({when})"


def test_kill_9_at_random_points_then_resume_runs_every_task_exactly_once(sandbox):
    """3000 one-line shell tasks; for each of 3 seeds: SIGKILL the run at a random point
    (either mpirun's process group, or every process of the run), resume and SIGKILL that
    resume 0.05-0.6 s after its start (while it starts up, replays and restores), resume and
    SIGKILL again at a random point, then resume to completion on another number of ranks
    (np 1 after np 2, np 2 otherwise). Proves: the final resume exits 0; in the
    union of results.jsonl every index 0..2999 has exactly one "succeeded" line, and the only
    other lines are "interrupted" attempts (ones running at a kill, recorded by a resume) below
    the successful attempt; no (task, attempt) pair appears twice; the output files of the
    successful attempts hold what the task printed; the journal reads back whole, records each
    task's success exactly once and ends with the last resume's RunEnded(0); the last summary
    counts succeeded_total == 3000."""
    manifest = sandbox.write("crash.yaml", CRASH_MANIFEST)
    for seed in crash_seeds(sandbox.np):
        rng = seeded(seed)
        run_dir = sandbox.path / f"crash-{seed}"
        how = rng.choice(["mpirun", "all"])
        events = [start_and_crash(sandbox, ["--out", run_dir, manifest], run_dir, rng, how,
                                  f"seed {seed} run")]
        how = rng.choice(["mpirun", "all"])
        events.append(start_and_crash(sandbox, ["--resume", run_dir, manifest], run_dir, rng,
                                      how, f"seed {seed} first resume",
                                      after_s=rng.uniform(0.05, 0.6)))
        how = rng.choice(["mpirun", "all"])
        events.append(start_and_crash(sandbox, ["--resume", run_dir, manifest], run_dir, rng,
                                      how, f"seed {seed} second resume"))
        print("    " + "; ".join(e or "ended before its kill point" for e in events), flush=True)
        # The last resume runs on another number of ranks, as after a change of allocation.
        final = resume(sandbox, run_dir, manifest, np=1 if sandbox.np == 2 else 2, limit_s=120)
        expect_equal(final.rc, 0, f"seed {seed}: exit status of the final resume")
        attempts, summaries = read_all_results(run_dir)
        succeeded = expect_each_succeeded_exactly_once(attempts, CRASH_TASKS)
        for index, line in succeeded.items():
            if line.get("stdout"):
                got = (run_dir / line["stdout"]).read_text()
                expect_equal(got, f"{index}\n", f"seed {seed}: output of {line['task']}")
            else:
                expect(line.get("recovered"), f"seed {seed}: a live success without output: "
                                              f"{line}")
        expect_equal(summaries[-1]["succeeded_total"], CRASH_TASKS,
                     f"seed {seed}: succeeded_total of the last summary")
        expect_equal(summaries[-1]["exit_status"], 0, f"seed {seed}: last summary exit_status")
        header, records, tail = read_journal(run_dir / "journal")
        expect_equal(tail, b"", f"seed {seed}: bytes after the last whole journal record")
        finished_ok = [r["index"] for _, _, r in records
                       if r["type"] == "TaskFinished" and r["outcome"] == "succeeded"]
        expect_equal(sorted(finished_ok), list(range(CRASH_TASKS)),
                     f"seed {seed}: indexes of the journal's succeeded records")
        last = records[-1][2]
        expect_equal((last["type"], last["exit_status"]), ("RunEnded", 0),
                     f"seed {seed}: last journal record")


# ---------------------------------------------------------------------------------------------
# The journal cut short at (nearly) every byte offset

CUT_MANIFEST = """\
    version: 1
    tasks:
      - id: t-{n}
        command: "echo {n}"
        matrix:
          n: {range: [0, 7]}
      - id: flaky
        command: "[ {attempt} -ge 2 ] || exit 1"
        retries: 1
    """
CUT_TASKS = 8
CUT_WORKERS = 4  # resumes run at once: each is mostly MPI start-up, which waits, not computes


def cut_offsets(records, size):
    """Every byte offset. JOBRUNNER_E2E_SAMPLED_OFFSETS=1, for a quicker look: every header
    byte, and around every record its first bytes, the end of its frame, the middle of its
    payload, its last byte and its end."""
    if os.environ.get("JOBRUNNER_E2E_SAMPLED_OFFSETS") != "1":
        return list(range(size + 1))
    offsets = set(range(JOURNAL_HEADER_SIZE + 1))
    for start, end, _ in records:
        offsets |= {start + 1, start + 4, start + 7, start + 8, start + 9, (start + end) // 2,
                    end - 1, end}
    return sorted(o for o in offsets if o <= size)


def backed_lines(original_lines, kept_records):
    """The results.jsonl a crash at this cut could have left: lines are written only after the
    journal holding them is synced, so only lines whose attempt ended in a kept record."""
    ended = {(r["index"], r["attempt"]) for _, _, r in kept_records if r["type"] == "TaskFinished"}
    kept = []
    for line in original_lines:
        record = json.loads(line)
        if "summary" not in record and (record["index"], record["attempt"]) in ended:
            kept.append(line)
    return kept


def check_cut(sandbox, source_dir, manifest, offset, zero_fill, original_lines, full_size):
    """Copies the finished run, cuts its journal at `offset` (then, with zero_fill, pads it with
    zeros back to its old size, as blocks allocated but never written would), resumes it and
    checks the result. Returns None, or a failure description."""
    label = f"cut at {offset}" + (" + zeros" if zero_fill else "")
    run_dir = sandbox.path / f"cut-{offset}{'-z' if zero_fill else ''}"
    shutil.copytree(source_dir, run_dir)
    journal = run_dir / "journal"
    with open(journal, "r+b") as f:
        f.truncate(offset)
        if zero_fill:
            f.seek(offset)
            f.write(b"\0" * (full_size - offset))
    if offset >= JOURNAL_HEADER_SIZE:
        _, kept, _ = read_journal(journal)
    else:
        kept = []
    (run_dir / "results.jsonl").write_text("".join(l + "\n" for l in
                                                   backed_lines(original_lines, kept)))
    run = resume(sandbox, run_dir, manifest, "--retry-backoff", "1ms", direct=True, limit_s=60)
    try:
        if offset < JOURNAL_HEADER_SIZE:
            expect_equal(run.rc, 2, f"{label}: exit status (header cut)")
            expect_in("header is incomplete", run.stderr, f"{label}: message")
            return None
        expect_equal(run.rc, 0, f"{label}: exit status")
        valid_end = kept[-1][1] if kept else JOURNAL_HEADER_SIZE
        if valid_end != offset or zero_fill:
            expect_in(f"torn last record at offset {valid_end}", run.stderr,
                      f"{label}: warning")
        else:
            expect("torn" not in run.stderr, f"{label}: a torn-tail warning at a record "
                                             f"boundary: {run.stderr}")
        attempts, _ = read_all_results(run_dir)
        for a in attempts:
            expect(a["outcome"] in ("succeeded", "interrupted", "failed"), f"{label}: {a}")
        expect_each_succeeded_exactly_once(
            [a for a in attempts if a["outcome"] != "failed"], CUT_TASKS)
        _, final, tail = read_journal(journal)
        expect_equal(tail, b"", f"{label}: bytes after the last whole record of the new journal")
        expect_equal([r for _, _, r in final[:len(kept)]], [r for _, _, r in kept],
                     f"{label}: the records before the cut, after the resume")
        done_before = succeeded_in_journal(kept)
        rerun = sorted({r["index"] for _, _, r in final[len(kept):]
                        if r["type"] == "TaskDispatched" and r["index"] in done_before})
        expect_equal(rerun, [], f"{label}: tasks dispatched again though the cut journal says "
                                f"they succeeded")
    except AssertionError as error:
        return f"{error}\n      stderr: {run.stderr.strip()[-600:]}"
    shutil.rmtree(run_dir)
    return None


def test_a_journal_cut_at_any_offset_resumes_without_losing_or_repeating_work(sandbox):
    """A finished run of 8 tasks (one fails once, then succeeds on its retry: ~20 records). For
    every byte offset of the journal (or a sample, with JOBRUNNER_E2E_SAMPLED_OFFSETS=1), the
    journal is cut there (and, for some cuts at a record
    start, padded with zeros to its old size), results.jsonl is cut to the lines that journal
    backs, and the run is resumed
    (the binary alone, no mpirun: a singleton). Proves: a cut header exits 2 saying the header
    is incomplete; any other cut resumes with exit 0, warns about a torn record exactly when the
    cut is not at a record boundary, leaves every task with exactly one succeeded line, keeps
    the records before the cut unchanged, and dispatches no task that the cut journal already
    says succeeded. The rank count does not matter here: runs at np 2 only."""
    if sandbox.np != 2:
        skip("the cut journal is resumed without mpirun; one rank count is enough (np 2)")
        return
    manifest = sandbox.write("cut.yaml", CUT_MANIFEST)
    source = sandbox.path / "source"
    first = run_jobrunner(sandbox, "--out", source, "--retry-backoff", "1ms", manifest,
                          direct=True, run_dir=source)
    expect_equal(first.rc, 0, "exit status of the run to cut")
    header, records, tail = read_journal(source / "journal")
    expect_equal(tail, b"", "bytes after the last record of a finished run's journal")
    original_lines = (source / "results.jsonl").read_text().splitlines()
    full_size = (source / "journal").stat().st_size
    offsets = cut_offsets(records, full_size)
    jobs = [(o, False) for o in offsets]
    jobs += [(start, True) for start, _, _ in records[::3]]
    jobs += [(JOURNAL_HEADER_SIZE, True)]
    print(f"    {len(records)} records, {full_size} bytes; {len(jobs)} cuts", flush=True)
    lock = threading.Lock()
    failures = []

    def one(job):
        problem = check_cut(sandbox, source, manifest, job[0], job[1], original_lines, full_size)
        if problem:
            with lock:
                failures.append(problem)

    with ThreadPoolExecutor(CUT_WORKERS) as pool:
        list(pool.map(one, jobs))
    sandbox.runs[:] = sandbox.runs[:1]  # thousands of runs; the report names the cuts instead
    expect(not failures, f"{len(failures)} of {len(jobs)} cuts failed:\n    " +
           "\n    ".join(sorted(failures)[:10]))


def test_a_record_cut_short_by_unwritten_zero_pages_is_a_torn_tail(sandbox):
    """A crash while a multi-page batch is appended can leave the file's new size on disk but
    not all of its pages: the tail reads as zeros from a page boundary on, which cuts a record
    in two (its start written, the rest zeros). docs/journal-format.md counts "blocks that a
    file system allocated but never wrote" as a torn tail, not corruption. Here a finished
    100-task run's journal is zeroed from byte 4096 (a page boundary) to its end. Proves:
    --resume warns about a torn record at the offset of the first record the zeros changed,
    exits 0, and every task has exactly one succeeded line."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: t-{n}
            command: ["true"]
            matrix:
              n: {range: [0, 100]}
        """)
    run_dir = sandbox.path / "run"
    first = run_jobrunner(sandbox, "--out", run_dir, manifest, run_dir=run_dir)
    expect_equal(first.rc, 0, "exit status of the first run")
    journal = run_dir / "journal"
    _, records, _ = read_journal(journal)
    page = 4096
    size = journal.stat().st_size
    expect(size > page, f"the journal has {size} bytes, not more than a page")
    original = journal.read_bytes()
    with open(journal, "r+b") as f:
        f.seek(page)
        f.write(b"\0" * (size - page))
    zeroed = journal.read_bytes()
    # The record holding byte 4096 is torn unless the bytes zeroed in it were zeros already
    # (a record often ends in zero bytes); then the first record that did change is.
    cut_record = next((s, e) for s, e, _ in records if e > page and original[s:e] != zeroed[s:e])
    _, kept, _ = read_journal(journal)
    (run_dir / "results.jsonl").write_text("".join(
        l + "\n" for l in backed_lines((first.run_dir / "results.jsonl").read_text().splitlines(),
                                       kept)))
    run = resume(sandbox, run_dir, manifest)
    expect_equal(run.rc, 0, f"exit status (record {cut_record} holds byte {page})")
    expect_in(f"torn last record at offset {cut_record[0]}", run.stderr, "warning")
    attempts, _ = read_all_results(run_dir)
    expect_each_succeeded_exactly_once(attempts, 100)


# ---------------------------------------------------------------------------------------------
# Damage and refusals

SMALL_MANIFEST = """\
    version: 1
    tasks:
      - id: t-{n}
        command: "echo {n}"
        matrix:
          n: {range: [0, 6]}
    """


def finished_run(sandbox, name="run", manifest_text=SMALL_MANIFEST):
    manifest = sandbox.write(f"{name}.yaml", manifest_text)
    run_dir = sandbox.path / name
    run = run_jobrunner(sandbox, "--out", run_dir, manifest, run_dir=run_dir)
    expect_equal(run.rc, 0, "exit status of the first run")
    return manifest, run_dir


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_deleted_results_file_is_rebuilt_from_the_journal(sandbox):
    """A finished run of 6 tasks whose results.jsonl is then deleted: --resume exits 0, runs
    nothing, and writes back one "succeeded" line per task (marked recovered) from the
    journal."""
    if not only_at_np_2(sandbox):
        return
    manifest, run_dir = finished_run(sandbox)
    (run_dir / "results.jsonl").unlink()
    run = resume(sandbox, run_dir, manifest)
    expect_equal(run.rc, 0, "exit status")
    expect_in("restored 6 results.jsonl lines", run.stderr, "message")
    expect_equal(run.summary["attempts"], 0, "attempts run by the resume")
    expect_each_succeeded_exactly_once(run.attempts, 6, allow_interrupted=False)
    expect(all(a.get("recovered") for a in run.attempts), f"lines: {run.attempts}")


def test_a_rebuilt_line_names_the_file_an_attempt_wrote_when_its_log_name_was_taken(sandbox):
    """A task whose log name another task took first writes to <name>.2; after results.jsonl is
    deleted, the line --resume rebuilds from the journal names that file and its size, not the
    file that was there before."""
    if not only_at_np_2(sandbox):
        return
    run_dir = sandbox.path / "run"
    manifest = sandbox.write("taken.yaml", f"""\
        version: 1
        tasks:
          - id: plant
            command: "printf planted > {run_dir}/logs/work.1.out"
          - id: work
            command: "echo real output"
            depends_on: [plant]
        """)
    first = run_jobrunner(sandbox, "--out", run_dir, manifest, run_dir=run_dir)
    expect_equal(first.rc, 0, "exit status of the first run")
    live = {a["task"]: a for a in first.attempts}
    expect_equal(live["work"]["stdout"], "logs/work.1.out.2", "the live line's stdout")
    (run_dir / "results.jsonl").unlink()
    run = resume(sandbox, run_dir, manifest)
    expect_equal(run.rc, 0, "exit status of the resume")
    rebuilt = {a["task"]: a for a in run.attempts}
    expect(rebuilt["work"].get("recovered"), f"line: {rebuilt['work']}")
    expect_equal(rebuilt["work"]["stdout"], "logs/work.1.out.2", "the rebuilt line's stdout")
    expect_equal(rebuilt["work"]["stdout_bytes"], len("real output\n"), "its size")
    expect_equal((run_dir / "logs/work.1.out").read_text(), "planted", "the planted file")


def test_a_corrupt_record_in_the_middle_of_the_journal_stops_resume_naming_its_offset(sandbox):
    """One byte flipped inside a record that has good records after it: --resume exits 2, the
    message names the record's offset and says the journal is corrupt, and results.jsonl is left
    as it was (no task ran)."""
    if not only_at_np_2(sandbox):
        return
    manifest, run_dir = finished_run(sandbox)
    _, records, _ = read_journal(run_dir / "journal")
    start, end, _ = records[len(records) // 2]
    flip_byte(run_dir / "journal", (start + end) // 2)
    before = (run_dir / "results.jsonl").read_bytes()
    run = resume(sandbox, run_dir, manifest)
    expect_equal(run.rc, 2, "exit status")
    expect_in(f"corrupt record at offset {start}", run.stderr, "message")
    expect_equal((run_dir / "results.jsonl").read_bytes(), before, "results.jsonl")


def test_a_damaged_journal_header_stops_resume(sandbox):
    """A flipped byte in the header's task count fails the header CRC: --resume exits 2 and
    names the journal."""
    if not only_at_np_2(sandbox):
        return
    manifest, run_dir = finished_run(sandbox)
    flip_byte(run_dir / "journal", 20)
    run = resume(sandbox, run_dir, manifest)
    expect_equal(run.rc, 2, "exit status")
    expect_in(str(run_dir / "journal"), run.stderr, "message names the journal")


def test_a_damaged_last_record_is_a_torn_tail_and_resume_goes_on(sandbox):
    """A flipped byte in the journal's last record (nothing after it): a torn tail. --resume
    warns with its offset, drops it and exits 0; every task still has exactly one success."""
    if not only_at_np_2(sandbox):
        return
    manifest, run_dir = finished_run(sandbox)
    _, records, _ = read_journal(run_dir / "journal")
    start, end, _ = records[-1]
    flip_byte(run_dir / "journal", end - 2)
    run = resume(sandbox, run_dir, manifest)
    expect_equal(run.rc, 0, "exit status")
    expect_in(f"torn last record at offset {start}", run.stderr, "warning")
    expect_each_succeeded_exactly_once(run.attempts, 6)


def test_a_changed_manifest_is_refused_naming_the_change_unless_forced(sandbox):
    """A run whose task `t-3` failed; then the manifest is edited (line 5 changes). --resume
    exits 2 naming the line, what it was and what it is, and --force; with a task added it also
    says 7 tasks before, 8 now. With --force --retry-failed the edited command is what runs:
    exit 0, t-3 succeeds on attempt 2, and no other task runs again."""
    if not only_at_np_2(sandbox):
        return
    original = """\
        version: 1
        tasks:
          - id: t-{n}
            command: "test {n} != 3"
            matrix:
              n: {range: [0, 7]}
        """
    manifest, run_dir = None, sandbox.path / "run"
    manifest = sandbox.write("manifest.yaml", original)
    first = run_jobrunner(sandbox, "--out", run_dir, manifest, run_dir=run_dir)
    expect_equal(first.rc, 1, "exit status of the first run (t-3 fails)")
    sandbox.write("manifest.yaml", original.replace('"test {n} != 3"', '"echo fixed {n}"'))
    refused = resume(sandbox, run_dir, manifest)
    expect_equal(refused.rc, 2, "exit status with a changed manifest")
    for part in ("line 4", "test {n} != 3", "echo fixed {n}", "--force"):
        expect_in(part, refused.stderr, "message")
    sandbox.write("manifest.yaml", original.replace("[0, 7]", "[0, 8]"))
    refused = resume(sandbox, run_dir, manifest)
    expect_equal(refused.rc, 2, "exit status with a task added")
    expect_in("7 tasks before, 8 now", refused.stderr, "message")
    sandbox.write("manifest.yaml", original.replace('"test {n} != 3"', '"echo fixed {n}"'))
    forced = resume(sandbox, run_dir, manifest, "--force", "--retry-failed")
    expect_equal(forced.rc, 0, "exit status with --force --retry-failed")
    expect_in("changed manifest", forced.stderr, "warning")
    t3 = [(a["attempt"], a["outcome"]) for a in forced.attempts if a["task"] == "t-3"]
    expect_equal(t3, [(1, "failed"), (2, "succeeded")], "attempts of t-3")
    expect_equal(forced.output(forced.attempts_of("t-3")[-1], "stdout"), b"fixed 3\n",
                 "t-3 ran the edited command")
    others = [a for a in forced.attempts if a["task"] != "t-3"]
    expect_equal(len(others), 6, "lines of the other tasks (each ran once, in the first run)")


def test_resume_refuses_a_directory_that_holds_no_run(sandbox):
    """--resume on an empty directory, on a run made with --no-journal, and on a path that does
    not exist: exit 2 each time with a message, and nothing is created there."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", SMALL_MANIFEST)
    empty = sandbox.path / "empty"
    empty.mkdir()
    run = resume(sandbox, empty, manifest)
    expect_equal(run.rc, 2, "exit status for an empty directory")
    expect_in("no journal", run.stderr, "message")
    expect_equal(sorted(os.listdir(empty)), [], "files created in the empty directory")
    unjournaled = sandbox.path / "unjournaled"
    first = run_jobrunner(sandbox, "--out", unjournaled, "--no-journal", manifest)
    expect_equal(first.rc, 0, "exit status of the --no-journal run")
    run = resume(sandbox, unjournaled, manifest)
    expect_equal(run.rc, 2, "exit status for a --no-journal run")
    expect_in("no journal", run.stderr, "message")
    run = resume(sandbox, sandbox.path / "missing", manifest)
    expect_equal(run.rc, 2, "exit status for a missing directory")
    expect(not (sandbox.path / "missing").exists(), "--resume created the missing directory")


def test_retry_failed_reruns_the_failed_tasks_and_only_those(sandbox):
    """Tasks t-1 and t-4 fail for good (retries 1: two attempts each) until a file `fixed`
    exists. A plain --resume runs nothing and exits 1 again; after creating `fixed`,
    --resume --retry-failed runs exactly t-1 and t-4 (attempt 3, which succeeds) and exits 0;
    a further --resume runs nothing and exits 0."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: t-{n}
            command: "case {n} in 1|4) test -e fixed ;; esac"
            retries: 1
            matrix:
              n: {range: [0, 6]}
        """)
    run_dir = sandbox.path / "run"
    first = run_jobrunner(sandbox, "--out", run_dir, "--retry-backoff", "10ms", manifest,
                          run_dir=run_dir)
    expect_equal(first.rc, 1, "exit status of the first run")
    lines_after_first = len(first.attempts)
    expect_equal(lines_after_first, 8, "attempt lines (4 successes, 2 x 2 failures)")
    plain = resume(sandbox, run_dir, manifest)
    expect_equal(plain.rc, 1, "exit status of a plain resume")
    expect_equal(len(plain.attempts), lines_after_first, "attempt lines after a plain resume")
    (sandbox.path / "fixed").write_text("")
    again = resume(sandbox, run_dir, manifest, "--retry-failed")
    expect_equal(again.rc, 0, "exit status with --retry-failed")
    new = again.attempts[lines_after_first:]
    expect_equal(sorted((a["task"], a["attempt"], a["outcome"]) for a in new),
                 [("t-1", 3, "succeeded"), ("t-4", 3, "succeeded")], "attempts of the retry run")
    expect_equal(again.summary["succeeded_total"], 6, "succeeded_total")
    last = resume(sandbox, run_dir, manifest)
    expect_equal(last.rc, 0, "exit status of a resume after everything succeeded")
    expect_equal(len(last.attempts), lines_after_first + 2, "attempt lines after it")
    expect_equal(last.summary["attempts"], 0, "attempts of the last resume")


def test_resume_is_refused_while_the_run_is_still_going(sandbox):
    """A run of 4 tasks (`sleep 3`) is in progress when `--resume` is started on its directory.
    A new run takes the directory's .lock; a resume must too and exit 2 ("in use"), or the
    same tasks run twice at once and two writers append to one journal. Proves: the second
    command exits 2 and the first run's results hold each task exactly once."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: s-{n}
            command: "echo $$ >> started; sleep 3"
            matrix:
              n: {range: [0, 4]}
        """)
    run_dir = sandbox.path / "run"
    with start_jobrunner(sandbox, "--out", run_dir, "--slots", "2", manifest, name="first") as bg:
        wait_for(lambda: (sandbox.path / "started").exists(), 30, "a task of the first run started")
        second = resume(sandbox, run_dir, manifest, "--slots", "2", limit_s=60)
        bg.wait(limit_s=60)
        bg.as_run(run_dir)
        sandbox.runs.append(second)  # the one a failure report should show
    attempts, _ = read_all_results(run_dir)
    expect_equal(second.rc, 2, "exit status of --resume while the run is going")
    expect_in("in use", second.stderr, "message")
    expect_each_succeeded_exactly_once(attempts, 4, allow_interrupted=False)


if __name__ == "__main__":
    run_tests(globals())
