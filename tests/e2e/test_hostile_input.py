"""Hostile or absurd input: ids that would escape the run directory, NUL and very long ids,
huge and pathological manifests, a 2 GB output flood, programs that cannot start, an output
directory that cannot be written, and a disk that fills up during the run.

Each case must end with a clear message and exit 2 (or a documented outcome), within bounded
time and memory, and write nothing outside the run directory. Most cases do not depend on the
rank count and run at np 2 only (a "skipped" line says so at np 1 and 4); the disk-full case
runs at every rank count, since one rank and several take different paths.
"""

import os
import resource
import shlex
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from harness import (IS_ROOT, expect, expect_equal, expect_in, jobrunner_binary, run_tests)
from reliability import (FRAME_SIZE, crc32c, direct_env, expect_each_succeeded_exactly_once,
                         file_listing, only_at_np_2, read_all_results, read_journal, resume,
                         run_jobrunner, skip)

MiB = 1 << 20


def run_measured(command, cwd, limit_s, address_space=None, env=None):
    """Runs `command` with stdout/stderr to files; returns (rc, stdout, stderr, seconds,
    peak RSS in KiB), the RSS from wait4 for this child alone. With address_space, the child's
    RLIMIT_AS is set to that many bytes, so a runaway allocation fails in the child instead of
    pushing the machine into its OOM killer. Killed (and rc None) after limit_s."""
    def limit():
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    full_env = dict(os.environ)
    full_env.update(env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, preexec_fn=limit,
                                   start_new_session=True)
        rc = rss = None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                rss = usage.ru_maxrss
                process.returncode = rc
                break
            if time.monotonic() - started > limit_s:
                os.killpg(process.pid, signal.SIGKILL)
                os.wait4(process.pid, 0)
                process.returncode = -9
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return (rc, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                elapsed, rss)


def check_manifest(sandbox, manifest, limit_s=60, address_space=4 << 30):
    """`jobrunner --check MANIFEST` measured (see run_measured), with 4 GiB of address space."""
    rc, out, err, seconds, rss = run_measured([jobrunner_binary(), "--check", str(manifest)],
                                              sandbox.path, limit_s, address_space)
    print(f"    --check {manifest.name}: exit {rc} in {seconds:.2f}s, peak RSS "
          f"{(rss or 0) // 1024} MiB", flush=True)
    return rc, out, err, seconds, rss


def expect_clean_refusal(rc, stderr, what):
    """Exit 2 with a jobrunner message, not a crash (a signal, or an uncaught exception)."""
    expect(rc is not None, f"{what}: did not finish in time")
    expect(rc >= 0, f"{what}: killed by signal {-rc} (a crash); stderr: {stderr[-500:]!r}")
    expect_equal(rc, 2, f"{what}: exit status (stderr {stderr[-500:]!r})")
    expect_in("jobrunner: ", stderr, f"{what}: message")
    expect("terminate called" not in stderr and "bad_alloc" not in stderr,
           f"{what}: an internal exception instead of a message: {stderr[-500:]!r}")


# ---------------------------------------------------------------------------------------------
# Task ids


def test_ids_that_would_escape_the_run_directory_are_refused_and_nothing_is_written(sandbox):
    """Ids `../x` and `<outside>/x` (absolute), and a matrix value `../../x` or `a/b` used in
    the id: each run (under mpirun) exits 2 naming the bad id, and afterwards the sandbox and
    the `outside` directory hold exactly what they held before: no run directory, no log file
    anywhere. The tasks print, so a task that ran would have left an output file."""
    if not only_at_np_2(sandbox):
        return
    outside = Path(tempfile.mkdtemp(prefix="jobrunner-e2e-outside-"))
    try:
        cases = {
            "relative": ('"../x"', None),
            "absolute": (f'"{outside}/x"', None),
            "matrix-up": ('"t-{v}"', '["ok", "../../x"]'),
            "matrix-slash": ('"t-{v}"', '["a/b"]'),
        }
        for name, (task_id, values) in cases.items():
            matrix = f"\n    matrix:\n      v: {values}" if values else ""
            sandbox.write(f"{name}.yaml", f"version: 1\ntasks:\n  - id: {task_id}\n"
                                          f"    command: \"echo escaped\"{matrix}\n")
        before = file_listing(sandbox.path), file_listing(outside)
        for name in cases:
            run = run_jobrunner(sandbox, "--out", sandbox.path / "runs" / name, f"{name}.yaml")
            expect_equal(run.rc, 2, f"{name}: exit status")
            expect_in("bad task id", run.stderr, f"{name}: message")
            expect_in("cannot contain '/'", run.stderr, f"{name}: message")
        after = file_listing(sandbox.path), file_listing(outside)
        expect_equal(after, before, "files in the sandbox and in the outside directory")
    finally:
        for path in sorted(outside.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        outside.rmdir()


def test_ids_with_nul_control_characters_or_300_bytes_are_refused(sandbox):
    """An id with a NUL ("\\0" in YAML), one with a newline, and one of 300 characters: each run
    exits 2 with a message naming the problem, and creates no run directory."""
    if not only_at_np_2(sandbox):
        return
    cases = {
        "nul": ('"a\\0b"', "NUL"),
        "newline": ('"a\\nb"', "control character"),
        "long": ("x" * 300, "longer than 200 bytes"),
    }
    for name, (task_id, message) in cases.items():
        sandbox.write(f"{name}.yaml", f"version: 1\ntasks:\n  - id: {task_id}\n"
                                      f"    command: [\"true\"]\n")
        run_dir = sandbox.path / f"run-{name}"
        run = run_jobrunner(sandbox, "--out", run_dir, f"{name}.yaml")
        expect_equal(run.rc, 2, f"{name}: exit status")
        expect_in(message, run.stderr, f"{name}: message")
        expect(not run_dir.exists(), f"{name}: a run directory was created")


# ---------------------------------------------------------------------------------------------
# Big and pathological manifests


def test_check_counts_a_million_task_matrix_in_bounded_memory(sandbox):
    """A 1000 x 1000 matrix: --check exits 0, reports 1000000 tasks, and stays under 200 MiB
    of peak RSS (the tasks are expanded lazily; ids are checked at 8 bytes each)."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("million.yaml", """\
        version: 1
        tasks:
          - id: t-{a}-{b}
            command: ["echo", "{a}", "{b}"]
            matrix:
              a: {range: [0, 1000]}
              b: {range: [0, 1000]}
        """)
    rc, out, err, _, rss = check_manifest(sandbox, manifest)
    expect_equal(rc, 0, f"exit status (stderr {err!r})")
    expect_in("1000000 tasks", out, "--check output")
    expect(rss < 200 * 1024, f"peak RSS {rss} KiB")


def test_a_matrix_of_four_billion_tasks_is_refused_with_a_message(sandbox):
    """A 65536 x 65536 matrix (2^32 tasks) under a 4 GiB address-space limit: checking its
    ids takes 8 bytes per task, 32 GiB. Proves that `--check` and a run both exit 2 with a
    jobrunner message, quickly, instead of dying of an uncaught std::bad_alloc (as they did:
    SIGABRT for --check, "error: std::bad_alloc" for a run)."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("huge.yaml", """\
        version: 1
        tasks:
          - id: t-{a}-{b}
            command: ["true"]
            matrix:
              a: {range: [0, 65536]}
              b: {range: [0, 65536]}
        """)
    failures = []
    rc, _, err, _, _ = check_manifest(sandbox, manifest, limit_s=60)
    try:
        expect_clean_refusal(rc, err, "--check")
    except AssertionError as error:
        failures.append(str(error))
    rc, _, err, _, _ = run_measured(
        [jobrunner_binary(), "--progress", "log", "--out", str(sandbox.path / "run"),
         str(manifest)], sandbox.path, 60, 4 << 30, direct_env())
    try:
        expect_clean_refusal(rc, err, "a run (one process, no mpirun)")
    except AssertionError as error:
        failures.append(str(error))
    expect(not failures, "\n".join(failures))


def test_yaml_alias_bombs_are_refused_quickly_in_bounded_memory(sandbox):
    """Billion-laughs manifests (each under a 2 GiB address-space limit and 20 s): nine levels of
    lists of aliases under an unknown key and as an env value, and matrix keys that all alias one
    list, giving 10^10 tasks or 3^20 (3.5 * 10^9). Proves: each --check exits 2 with a
    jobrunner message within 20 s: aliases are never expanded into memory, and a matrix too big
    to check is refused rather than allocated (3^20 used to die of std::bad_alloc)."""
    if not only_at_np_2(sandbox):
        return
    levels = ['A0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"A{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    task = '  - id: x\n    command: ["true"]\n'
    bombs = {
        "unknown-key": "version: 1\nlol:\n" + "".join(f"  {l}\n" for l in levels) +
                       "tasks:\n" + task,
        "env": "version: 1\ndefaults:\n  env:\n" + "".join(f"    {l}\n" for l in levels) +
               "tasks:\n" + task,
        "matrix-10^10": "version: 1\ntasks:\n  - id: x" + "".join(f"-{{v{i}}}" for i in range(10)) +
                        '\n    command: ["true"]\n    matrix:\n'
                        '      v0: &l [a, b, c, d, e, f, g, h, i, j]\n' +
                        "".join(f"      v{i}: *l\n" for i in range(1, 10)),
        "matrix-3^20": "version: 1\ntasks:\n  - id: x" + "".join(f"-{{v{i}}}" for i in range(20)) +
                       '\n    command: ["true"]\n    matrix:\n      v0: &l [a, b, c]\n' +
                       "".join(f"      v{i}: *l\n" for i in range(1, 20)),
    }
    failures = []
    for name, text in bombs.items():
        manifest = sandbox.path / f"{name}.yaml"
        manifest.write_text(text)
        rc, _, err, seconds, _ = check_manifest(sandbox, manifest, limit_s=20,
                                                address_space=2 << 30)
        try:
            expect_clean_refusal(rc, err, name)
        except AssertionError as error:
            failures.append(str(error))
    expect(not failures, "\n".join(failures))


def test_deeply_nested_yaml_is_a_clear_error(sandbox):
    """`tasks:` followed by 100000 `[`: --check and a run under mpirun exit 2 with a message
    that the nesting is too deep, without a crash."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.path / "deep.yaml"
    manifest.write_text("version: 1\ntasks: " + "[" * 100000 + "\n")
    rc, _, err, _, _ = check_manifest(sandbox, manifest, limit_s=30)
    expect_clean_refusal(rc, err, "--check")
    expect_in("nesting too deep", err, "message")
    run = run_jobrunner(sandbox, "--out", sandbox.path / "run", manifest)
    expect_equal(run.rc, 2, "exit status of a run")
    expect_in("nesting too deep", run.stderr, "message of a run")


def test_a_stray_comma_is_a_syntax_error_not_a_parse_without_end(sandbox):
    """A manifest that is a lone `,`, and a valid one with a `,` line after its comment header
    (as a fuzzer found it), under a 1 GiB address-space limit. Proves: --check exits 2 at once
    with "YAML syntax error: unexpected ','" at the comma; yaml-cpp's LoadAll read it as empty
    documents without end, until memory ran out (here: "not enough memory", after seconds)."""
    if not only_at_np_2(sandbox):
        return
    cases = {"comma": ",\n", "after-comments": "# a sweep\n# of tasks\n  , version: 1\n"}
    for name, text in cases.items():
        manifest = sandbox.write(f"{name}.yaml", text)
        rc, _, err, _, _ = check_manifest(sandbox, manifest, limit_s=20, address_space=1 << 30)
        expect_clean_refusal(rc, err, name)
        expect_in("YAML syntax error: unexpected ','", err, f"{name}: message")


def big_task_list(path, size):
    """A manifest of explicit tasks (no matrix) of about `size` bytes."""
    with open(path, "w") as f:
        f.write("version: 1\ntasks:\n")
        n = 0
        chunk = []
        while f.tell() < size:
            chunk = "".join(f'  - id: t{n + k}\n    command: ["true"]\n' for k in range(10000))
            if f.tell() + len(chunk) > size:
                chunk = chunk[:chunk.rfind("  - id:", 0, size - f.tell())]
                if not chunk:
                    break
            f.write(chunk)
            n += 10000


def test_a_100_mb_manifest_is_refused_quickly_in_bounded_memory(sandbox):
    """A 100 MB manifest listing 2.7 million tasks one by one: --check exits 2 saying the file
    is too large (the cap is 32 MiB), in under 10 s and 200 MiB of peak RSS."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.path / "huge-list.yaml"
    big_task_list(manifest, 100 * MiB)
    rc, _, err, seconds, rss = check_manifest(sandbox, manifest, limit_s=60)
    expect_clean_refusal(rc, err, "--check")
    expect_in("larger than", err, "message")
    expect(seconds < 10, f"took {seconds:.1f}s")
    expect(rss < 200 * 1024, f"peak RSS {rss} KiB")


def test_a_manifest_just_under_the_size_cap_does_not_crash_with_1_gib_of_memory(sandbox):
    """A 31 MB manifest (under the 32 MiB cap) listing ~820000 tasks one by one, checked with
    1 GiB of address space (a small CI node or a batch job's memory limit). Parsing takes about
    90 bytes of memory per byte of YAML (2.8 GiB here without a limit), so it may not fit; but
    jobrunner must then say so with exit 2, not die of an uncaught std::bad_alloc (SIGABRT)."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.path / "capped-list.yaml"
    big_task_list(manifest, 31 * 1000 * 1000)
    rc, out, err, _, _ = check_manifest(sandbox, manifest, limit_s=60, address_space=1 << 30)
    expect(rc is not None, "--check did not finish within 60 s")
    expect(rc >= 0, f"--check was killed by signal {-rc if rc else rc} (a crash): "
                    f"{err[-300:]!r}")
    expect(rc in (0, 2), f"exit status {rc}: {err[-300:]!r}")
    if rc == 2:
        expect_clean_refusal(rc, err, "--check")


def test_a_hundred_thousand_entries_are_checked_and_run(sandbox):
    """10^5 entries listed one by one (ids t0000000 ... of one width, each depending on every
    task of the last entry, `prep-{n}`, as written there), 100002 tasks of the noop kind.
    Proves: --check exits 0 and counts 100002 tasks from 100001 entries, and a run under mpirun
    exits 0 with every task succeeded. Start-up used to compare every entry's id with every
    other's, twice (proving the ids unique, and finding the entry `prep-{n}` names): 10^10 steps,
    minutes here, so the time limits (a guard against a hang, not a measurement) failed it."""
    if not only_at_np_2(sandbox):
        return
    entries = 100_000
    manifest = sandbox.path / "entries.yaml"
    with open(manifest, "w") as f:
        f.write("version: 1\ntasks:\n")
        f.write("".join(f"  - id: t{i:07d}\n    kind: noop\n    depends_on: ['prep-{{n}}']\n"
                        for i in range(entries)))
        f.write("  - id: prep-{n}\n    kind: noop\n    matrix:\n      n: [a, b]\n")
    rc, out, err, _, _ = check_manifest(sandbox, manifest, limit_s=60)
    expect_equal(rc, 0, f"--check exit status (stderr {err[-500:]!r})")
    expect_in(f"ok, {entries + 2} tasks from {entries + 1} entries", out, "--check output")
    run_dir = sandbox.path / "run"
    run = run_jobrunner(sandbox, "--out", run_dir, manifest, limit_s=180, run_dir=run_dir)
    expect_equal(run.rc, 0, f"exit status of the run (stderr {run.stderr[-500:]!r})")
    expect_each_succeeded_exactly_once(run.attempts, entries + 2, allow_interrupted=False)


# ---------------------------------------------------------------------------------------------
# Tasks


def test_a_2_gb_output_flood_is_capped_and_counted(sandbox):
    """A task writes 2 GiB of zeros to stdout and 64 MiB to stderr with --max-output 1M. Proves:
    the task succeeds and the run exits 0; stdout_bytes is 2147483648 and stderr_bytes 67108864,
    both marked truncated; each log file is 1 MiB of the task's bytes plus the truncation note
    (the run directory stays under 3 MiB)."""
    if not only_at_np_2(sandbox):
        return
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: flood
            command: "head -c 2G /dev/zero && head -c 64M /dev/zero >&2"
        """)
    run = sandbox.run("manifest.yaml", "--max-output", "1M", limit_s=120)
    expect_equal(run.rc, 0, "exit status")
    flood = run.only_attempt("flood")
    expect_equal(flood["outcome"], "succeeded", "outcome")
    expect_equal((flood["stdout_bytes"], flood["stderr_bytes"]), (2 << 30, 64 << 20),
                 "stdout_bytes, stderr_bytes")
    expect_equal((flood.get("stdout_truncated"), flood.get("stderr_truncated")), (True, True),
                 "truncated flags")
    for stream, total in (("stdout", 2 << 30), ("stderr", 64 << 20)):
        data = run.output(flood, stream)
        expect_equal(data[:MiB], b"\0" * MiB, f"first MiB of {stream}")
        note = data[MiB:].decode()
        expect_in(f"output truncated after {MiB} bytes; {total - MiB} bytes dropped", note,
                  f"the note at the end of {stream}")
    used = sum(p.stat().st_size for p in run.run_dir.rglob("*") if p.is_file())
    expect(used < 3 * MiB, f"the run directory holds {used} bytes")


def test_tasks_that_cannot_start_are_spawn_errors_retried_per_policy(sandbox):
    """A missing program, a file without execute permission and a missing cwd, each with
    retries: 1. Proves: each has exactly two attempts, both spawn_error with an `error` naming
    the path, the first marked retry and the second not; the run exits 1."""
    if not only_at_np_2(sandbox):
        return
    script = sandbox.write("not-executable.sh", "#!/bin/sh\ntrue\n")
    os.chmod(script, 0o644)
    sandbox.write("manifest.yaml", f"""\
        version: 1
        defaults:
          retries: 1
        tasks:
          - id: missing-program
            command: ["{sandbox.path}/no-such-program"]
          - id: not-executable
            command: ["{script}"]
          - id: missing-cwd
            command: ["true"]
            cwd: no-such-dir
        """)
    run = sandbox.run("manifest.yaml", "--retry-backoff", "10ms")
    expect_equal(run.rc, 1, "exit status")
    for task, path in (("missing-program", f"{sandbox.path}/no-such-program"),
                       ("not-executable", str(script)),
                       ("missing-cwd", "no-such-dir")):
        attempts = run.attempts_of(task)
        expect_equal([(a["attempt"], a["outcome"], a["retry"]) for a in attempts],
                     [(1, "spawn_error", True), (2, "spawn_error", False)], f"attempts of {task}")
        for a in attempts:
            expect_in(path, a.get("error", ""), f"error of {task} attempt {a['attempt']}")
    expect_equal(run.summary["outcomes"]["spawn_error"], 3, "summary spawn_error")


def test_a_journal_with_an_attempt_near_int32_max_is_refused_on_resume(sandbox):
    """A run whose one task fails for good, its journal then altered (CRCs fixed up) so that the
    task's attempts read 2147483647. Proves: --resume --retry-failed exits 2 naming the task,
    the number and the limit, and runs nothing, where the next attempt number overflowed."""
    if not only_at_np_2(sandbox):
        return
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: flaky
            command: "echo ran >> runs; exit 3"
        """)
    run_dir = sandbox.path / "run"
    first = run_jobrunner(sandbox, "--out", run_dir, manifest, run_dir=run_dir)
    expect_equal(first.rc, 1, "exit status of the first run")
    journal = run_dir / "journal"
    data = bytearray(journal.read_bytes())
    _, records, tail = read_journal(journal)
    expect_equal(tail, b"", "bytes after the journal's last record")
    altered = 0
    for offset, end, record in records:
        if record["type"] in ("TaskDispatched", "TaskFinished"):
            body = FRAME_SIZE + 1 + 8  # frame, type, index: the attempt follows
            struct.pack_into("<I", data, offset + body, 2**31 - 1)
            struct.pack_into("<I", data, offset + 4, crc32c(data[offset + FRAME_SIZE:end]))
            altered += 1
    expect_equal(altered, 2, "records naming an attempt")
    journal.write_bytes(data)
    final = resume(sandbox, run_dir, manifest, "--retry-failed")
    expect_equal(final.rc, 2, f"exit status of the resume (stderr {final.stderr[-500:]!r})")
    expect_in("the journal records attempt 2147483647 of task flaky, more than the 1000000000 a "
              "task may have", final.stderr, "message")
    expect_equal((sandbox.path / "runs").read_text(), "ran\n", "runs of the task")


# ---------------------------------------------------------------------------------------------
# The run directory's file system


def test_an_output_directory_that_cannot_be_written_is_a_clear_error(sandbox):
    """--out under a directory with mode 0555, as an ordinary user (as root, through
    `su cloudsdk`, since root ignores the mode; skipped if that user does not exist). Proves:
    exit 2, the message names the directory and the reason, and nothing is created there."""
    if not only_at_np_2(sandbox):
        return
    locked = sandbox.path / "locked"
    locked.mkdir()
    manifest = sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: t
            command: ["true"]
        """)
    os.chmod(locked, 0o555)
    mpirun = ["mpirun", "-n", str(sandbox.np), "--oversubscribe", "--bind-to", "none"]
    command = mpirun + [jobrunner_binary(), "--progress", "log", "--out", str(locked / "run"),
                        str(manifest)]
    if IS_ROOT:
        if subprocess.run(["id", "cloudsdk"], capture_output=True).returncode != 0:
            skip("running as root and there is no user cloudsdk to run as")
            return
        os.chmod(sandbox.path, 0o755)
        command = ["su", "cloudsdk", "-s", "/bin/sh", "-c",
                   f"cd {shlex.quote(str(sandbox.path))} && exec {shlex.join(command)}"]
    rc, _, err, _, _ = run_measured(["timeout", "-k", "10", "60"] + command, sandbox.path, 80)
    expect_equal(rc, 2, f"exit status (stderr {err[-500:]!r})")
    expect_in(f"cannot create output directory {locked / 'run'}", err, "message")
    expect_in("ermission denied", err, "message")
    expect_equal(os.listdir(locked), [], "files created in the locked directory")


def test_a_disk_that_fills_up_during_the_run_stops_it_and_resume_finishes_later(sandbox):
    """--out on a 64 KiB tmpfs (root only: mount needs it; skipped otherwise), 5000 tasks of
    `true`: the journal and results.jsonl outgrow the disk. Proves: the run stops by itself
    (no hang) with a non-zero status, a message naming "No space left on device", and the
    resume command; after the file system is grown to 8 MiB, --resume finishes with exit 0 and
    every task has exactly one succeeded line."""
    if not IS_ROOT:
        skip("mounting a tmpfs needs root")
        return
    tasks = 5000
    manifest = sandbox.write("manifest.yaml", f"""\
        version: 1
        tasks:
          - id: t-{{n}}
            command: ["true"]
            matrix:
              n: {{range: [0, {tasks}]}}
        """)
    disk = sandbox.path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
        return
    try:
        run_dir = disk / "run"
        run = run_jobrunner(sandbox, "--out", run_dir, manifest, limit_s=120)
        expect(run.rc != 0, f"exit status {run.rc} with a full disk")
        print(f"    exit status with a full disk: {run.rc}", flush=True)
        expect_in("No space left on device", run.stderr, "message")
        expect_in(f"jobrunner --resume {run_dir} {manifest}", run.stderr, "resume hint")
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        final = resume(sandbox, run_dir, manifest, limit_s=120)
        expect_equal(final.rc, 0, "exit status of the resume")
        attempts, summaries = read_all_results(run_dir)
        expect_each_succeeded_exactly_once(attempts, tasks)
        expect_equal(summaries[-1]["succeeded_total"], tasks, "succeeded_total")
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


if __name__ == "__main__":
    run_tests(globals())
