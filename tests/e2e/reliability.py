"""Helpers for the reliability tests (test_resume, test_drain, test_worker_trouble,
test_hostile_input), on top of harness.py.

harness.Sandbox.run always passes --out and waits for the run to end; these tests also need to
resume runs (--resume goes without --out), start a run in the background and signal or kill it
part way, read results.jsonl with one summary line per run, read the binary journal, and look
for processes a run left behind.

A background mpirun leads its own session and process group. Open MPI puts each rank in a
process group of its own, and jobrunner puts each task in one too, so "kill -9 the whole run"
here means SIGKILL to mpirun's group and then to every process descended from it (found through
/proc), never anything machine-wide: other test runs share the machine.
"""

import json
import os
import random
import shlex
import signal
import struct
import subprocess
import time
from pathlib import Path

from harness import IS_ROOT, ROOT_CONSENT_ENV, Hung, Run, execute, expect, jobrunner_binary

# ---------------------------------------------------------------------------------------------
# Command lines


def mpirun_prefix(np):
    """`mpirun -n NP` with the options the harness uses (oversubscribe, no binding, root)."""
    command = ["mpirun", "-n", str(np), "--oversubscribe", "--bind-to", "none"]
    if IS_ROOT:
        command.append("--allow-run-as-root")
    return command


def jobrunner_command(np, *args, direct=False):
    """The command that runs `jobrunner --progress log ARGS` on NP ranks, or, with direct,
    the binary alone (a singleton: one process does everything, and no mpirun start-up)."""
    base = [jobrunner_binary(), "--progress", "log", *[str(a) for a in args]]
    return base if direct else mpirun_prefix(np) + base


def direct_env():
    """Environment additions for starting the binary without mpirun (root needs consent)."""
    return dict(ROOT_CONSENT_ENV) if IS_ROOT else {}


def run_jobrunner(sandbox, *args, np=None, direct=False, limit_s=60, env=None, run_dir=None,
                  stdin_bytes=None):
    """Runs jobrunner with exactly ARGS (no --out added) to its end, under `timeout`, with
    `stdin_bytes` on its stdin if given (mpirun passes it to rank 0).

    Returns a harness Run whose attempts/summary are those of run_dir (when given) read with
    read_all_results, i.e. every run's lines. Appended to sandbox.runs for failure reports.
    """
    np = np or sandbox.np
    full_env = direct_env() if direct else {}
    full_env.update(env or {})
    command = jobrunner_command(np, *args, direct=direct)
    rc, stdout, stderr, elapsed = execute(command, sandbox.path, limit_s, full_env, stdin_bytes)
    run = Run(command, sandbox.path, rc, stdout, stderr, elapsed, run_dir)
    sandbox.runs.append(run)
    if run_dir is not None and (Path(run_dir) / "results.jsonl").exists():
        run.attempts, summaries = read_all_results(run_dir)
        run.summary = summaries[-1] if summaries else None
    return run


def resume(sandbox, run_dir, manifest, *args, np=None, direct=False, limit_s=60,
           stdin_bytes=None):
    """`jobrunner --resume RUN_DIR [ARGS] MANIFEST` to its end (see run_jobrunner)."""
    return run_jobrunner(sandbox, "--resume", run_dir, *args, manifest, np=np, direct=direct,
                         limit_s=limit_s, run_dir=run_dir, stdin_bytes=stdin_bytes)


# ---------------------------------------------------------------------------------------------
# Background runs


class Background:
    """A command started in its own session, output to files, to be signalled or killed.

    Use as a context manager: on exit, whatever is left of it (its process group and every
    process descended from it) is SIGKILLed, so a failing test leaves nothing running.
    """

    def __init__(self, sandbox, command, env=None, name="bg", stdin_path=None):
        self.sandbox = sandbox
        self.command = [str(c) for c in command]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.stdout_path = sandbox.path / f"{name}.stdout"
        self.stderr_path = sandbox.path / f"{name}.stderr"
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err, \
                open(stdin_path or os.devnull, "rb") as stdin:
            self.process = subprocess.Popen(self.command, cwd=sandbox.path, env=full_env,
                                            stdin=stdin, stdout=out, stderr=err,
                                            start_new_session=True)
        self.pid = self.process.pid
        self.known = set()  # every descendant seen so far, for kill_everything
        self.rc = None
        self.elapsed_s = None
        self.timed_out = False  # wait() had to kill it

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill_everything()
        return False

    def descendants(self):
        """Pids of the processes now descended from this command (not the command itself)."""
        found = descendants_of(self.pid)
        self.known |= found
        return found

    def signal(self, signum):
        """Sends signum to the command's process alone (mpirun forwards some signals)."""
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill_everything(self):
        """SIGKILL to the command's process group and to every process descended from it: the
        crash of the whole run, as the machine going down would be.

        Every process is stopped (SIGSTOP) before any is killed, so that no rank outlives one of
        its tasks long enough to record that task as killed: the journal ends as a power cut
        would leave it. Stopping goes on until a scan finds nothing new, since a process may
        fork until it is stopped. Then the deepest processes die first and the command last:
        killing a parent first orphans its stopped children's process groups, and the kernel
        wakes an orphaned group with SIGHUP and SIGCONT, which a rank takes for a signal to
        stop and records. Returns once every one of them is gone (a killed process holds its
        locks until it has exited)."""
        stopped = set()
        while True:
            tree = self._tree()
            new = (set(tree) | self.known | {self.pid}) - stopped
            if not new:
                break
            for pid in new:
                _signal(pid, signal.SIGSTOP)
            stopped |= new
            _wait_until_stopped(new, limit_s=5)
        try:
            os.killpg(self.pid, signal.SIGSTOP)
        except (ProcessLookupError, PermissionError):
            pass
        tree = self._tree()
        # Those no longer in the tree (their parent is gone) first, then the deepest first.
        for pid in sorted(stopped, key=lambda p: (p in tree, -tree.get(p, 0))):
            if pid != self.pid:
                _signal(pid, signal.SIGKILL)
        _signal(self.pid, signal.SIGKILL)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.wait(limit_s=30, check=False)
        wait_until_dead(stopped, limit_s=30)

    def _tree(self):
        """pid -> depth below the command (1 for its children) of every process descended from
        it now; also remembered in `known`."""
        tree = depths_below(self.pid)
        self.known |= set(tree)
        return tree

    def wait(self, limit_s, check=True):
        """Waits for the command to end; returns its exit status. After limit_s the whole
        process group is killed and, with check, Hung is raised."""
        if self.rc is not None:
            return self.rc
        try:
            self.rc = self.process.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.rc = self.process.wait()
            self.elapsed_s = time.monotonic() - self.started
            if check:
                raise Hung(f"hung: {shlex.join(self.command)} still ran after {limit_s}s\n"
                           f"stderr:\n{self.stderr()[-3000:]}") from None
        self.elapsed_s = time.monotonic() - self.started
        return self.rc

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def as_run(self, run_dir=None):
        """A harness Run for failure reports (after wait); appended to sandbox.runs."""
        # Popen reports death by signal N as -N; shown as 128+N, the shell's way, because a
        # negative status in a harness report means `timeout` was killed from outside, and here
        # the test sent the signal itself.
        rc = 128 - self.rc if self.rc is not None and self.rc < 0 else self.rc
        stderr = self.stderr()
        if self.rc is not None and self.rc < 0:
            stderr += f"\n[the test ended this command: it died of signal {-self.rc}]"
        run = Run(self.command, self.sandbox.path, rc, self.stdout(), stderr,
                  self.elapsed_s or 0.0, run_dir)
        if run_dir is not None and (Path(run_dir) / "results.jsonl").exists():
            run.attempts, summaries = read_all_results(run_dir)
            run.summary = summaries[-1] if summaries else None
        self.sandbox.runs.append(run)
        return run


def start_jobrunner(sandbox, *args, np=None, direct=False, env=None, name="bg", stdin_path=None):
    """Starts jobrunner (under mpirun unless direct) with exactly ARGS in the background, its
    stdin the file at stdin_path (or /dev/null)."""
    np = np or sandbox.np
    full_env = direct_env() if direct else {}
    full_env.update(env or {})
    return Background(sandbox, jobrunner_command(np, *args, direct=direct), env=full_env,
                      name=name, stdin_path=stdin_path)


# ---------------------------------------------------------------------------------------------
# Processes


def _proc_stats():
    """(pid, fields of /proc/PID/stat after the command name) for every visible process:
    fields[0] is the state, fields[1] the parent pid, fields[2] the process group."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # The command name is in parentheses and may itself hold spaces or parentheses.
        yield int(entry), stat[stat.rfind(")") + 2:].split()


def _parent_map():
    """pid -> parent pid for every process visible in /proc."""
    return {pid: int(fields[1]) for pid, fields in _proc_stats()}


def depths_below(pid):
    """pid -> depth (1 for a child) of every process below pid in the process tree."""
    children = {}
    for child, parent in _parent_map().items():
        children.setdefault(parent, []).append(child)
    found, todo = {}, [(pid, 0)]
    while todo:
        parent, depth = todo.pop()
        for child in children.get(parent, []):
            if child not in found:
                found[child] = depth + 1
                todo.append((child, depth + 1))
    return found


def descendants_of(pid):
    """Pids of every living process below pid in the process tree."""
    return set(depths_below(pid))


def _signal(pid, signum):
    """kill(pid, signum), for a process that may be gone or not ours."""
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_until_stopped(pids, limit_s):
    """Waits up to limit_s until each of pids is stopped (state T or t) or gone."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        running = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
            except OSError:
                continue
            if stat[stat.rfind(")") + 2:].split()[0] not in ("T", "t", "Z", "X"):
                running.append(pid)
        if not running:
            return
        time.sleep(0.005)


def alive(pid):
    """True if pid names a living (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def living(pids):
    """The pids of `pids` that are still alive."""
    return sorted(pid for pid in pids if alive(pid))


def wait_until_dead(pids, limit_s):
    """Waits up to limit_s for every pid to die; returns those still alive."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not living(pids):
            return []
        time.sleep(0.05)
    return living(pids)


def process_group_members(pgids):
    """Pids of the living processes whose process group is one of `pgids` (a task leads its
    own group, so this finds a task and everything it started that stayed in its group)."""
    pgids = set(pgids)
    return sorted(pid for pid, fields in _proc_stats()
                  if fields[0] != "Z" and int(fields[2]) in pgids)


def wait_until_groups_gone(pgids, limit_s):
    """Waits up to limit_s for every process of the groups `pgids` to end; returns the pids
    still alive then."""
    deadline = time.monotonic() + limit_s
    while True:
        left = process_group_members(pgids)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_process_groups(pids):
    """SIGKILL to the process group led by each pid (tasks lead their own): test clean-up."""
    for pid in pids:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def read_pids(path):
    """Integers, one per line, from a file tasks append their $$ to ([] if it is absent)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [int(line.split()[0]) for line in text.splitlines() if line.strip()]


def wait_for(predicate, limit_s, what, interval_s=0.01):
    """Polls predicate() until it is true; fails the test with `what` after limit_s."""
    deadline = time.monotonic() + limit_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"did not happen within {limit_s}s: {what}")
        time.sleep(interval_s)


# ---------------------------------------------------------------------------------------------
# results.jsonl over several runs


def read_all_results(run_dir):
    """(attempt lines, summaries) of run_dir/results.jsonl, which holds one summary line per
    run (a resume appends its own). Every line must be JSON."""
    path = Path(run_dir) / "results.jsonl"
    attempts, summaries = [], []
    if not path.exists():
        return attempts, summaries
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AssertionError(f"{path}:{number} is not JSON ({error}): {line!r}") from None
        if "summary" in record:
            summaries.append(record["summary"])
        else:
            attempts.append(record)
    return attempts, summaries


def count_result_lines(run_dir):
    """Complete lines in run_dir/results.jsonl now (0 if it does not exist yet)."""
    try:
        with open(Path(run_dir) / "results.jsonl", "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def expect_each_succeeded_exactly_once(attempts, task_count, allow_interrupted=True):
    """Every index 0..task_count-1 has exactly one "succeeded" line; no other index appears;
    the only other outcome allowed is "interrupted" (an attempt a stop or crash cut short),
    and an interrupted line comes before its task's success and has a lower attempt number.
    Each (index, attempt) pair appears at most once."""
    succeeded = {}
    seen_pairs = {}
    for a in attempts:
        index = a["index"]
        expect(0 <= index < task_count,
               f"a line for index {index} outside 0..{task_count - 1}: {a}")
        pair = (index, a["attempt"])
        expect(pair not in seen_pairs,
               f"two lines for task {a['task']} attempt {a['attempt']}: {seen_pairs.get(pair)} "
               f"and {a}")
        seen_pairs[pair] = a
        if a["outcome"] == "succeeded":
            expect(index not in succeeded,
                   f"task {a['task']} succeeded twice: {succeeded.get(index)} and {a}")
            succeeded[index] = a
        else:
            expect(allow_interrupted and a["outcome"] == "interrupted",
                   f"unexpected outcome {a['outcome']!r}: {a}")
            expect(index not in succeeded,
                   f"task {a['task']} has an interrupted line after its success: {a}")
    missing = sorted(set(range(task_count)) - set(succeeded))
    expect(not missing, f"{len(missing)} tasks never succeeded, e.g. {missing[:10]}")
    for a in attempts:
        if a["outcome"] == "interrupted":
            expect(a["attempt"] < succeeded[a["index"]]["attempt"],
                   f"interrupted attempt {a} is not below the successful one "
                   f"{succeeded[a['index']]}")
    return succeeded


# ---------------------------------------------------------------------------------------------
# The journal (docs/journal-format.md)

JOURNAL_HEADER_SIZE = 32
FRAME_SIZE = 8
OUTCOMES = ["succeeded", "failed", "signaled", "timed_out", "spawn_error", "worker_lost",
            "skipped", "interrupted", "oom"]


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as the journal stores it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def decode_record(body):
    """A record's type + payload as a dict with "type" and its fields."""
    kind, payload = body[0], body[1:]
    if kind == 1:
        unix_ms, run, workers = struct.unpack("<QII", payload)
        return {"type": "RunStarted", "unix_ms": unix_ms, "run": run, "workers": workers}
    if kind == 2:
        index, attempt, worker = struct.unpack("<QIi", payload)
        return {"type": "TaskDispatched", "index": index, "attempt": attempt, "worker": worker}
    if kind == 3:
        (index, attempt, worker, outcome, exit_code, sig, start_ms, end_ms,
         will_retry) = struct.unpack("<QIiBiiqqB", payload)
        return {"type": "TaskFinished", "index": index, "attempt": attempt, "worker": worker,
                "outcome": OUTCOMES[outcome], "exit_code": exit_code, "signal": sig,
                "start_ms": start_ms, "end_ms": end_ms, "will_retry": bool(will_retry)}
    if kind == 4:
        index, length = struct.unpack_from("<QI", payload)
        return {"type": "TaskSkipped", "index": index, "reason": payload[12:12 + length]}
    if kind == 5:
        unix_ms, status, interrupted = struct.unpack("<QiB", payload)
        return {"type": "RunEnded", "unix_ms": unix_ms, "exit_status": status,
                "interrupted": bool(interrupted)}
    if kind == 6:
        index, attempt, length = struct.unpack_from("<QII", payload)
        result = payload[16:16 + length]
        (data_length,) = struct.unpack_from("<I", payload, 16 + length)
        data = payload[20 + length:20 + length + data_length]
        return {"type": "TaskOutput", "index": index, "attempt": attempt,
                "result": result.decode(), "data": data.decode()}
    if kind == 7:
        rank, length = struct.unpack_from("<iI", payload)
        host = payload[8:8 + length]
        pid, slots = struct.unpack_from("<iI", payload, 8 + length)
        return {"type": "WorkerJoined", "rank": rank, "host": host.decode(), "pid": pid,
                "slots": slots}
    if kind == 8:
        index, attempt, start_ms, length = struct.unpack_from("<QIqI", payload)
        return {"type": "TaskStarted", "index": index, "attempt": attempt, "start_ms": start_ms,
                "task": payload[24:24 + length].decode()}
    if kind == 9:
        rank, length = struct.unpack_from("<iI", payload)
        return {"type": "WorkerRetired", "rank": rank, "reason": payload[8:8 + length].decode()}
    raise ValueError(f"unknown record type {kind}")


def read_journal(path):
    """(header dict, [(offset, end, record dict)], tail bytes not forming a whole good record).

    A strict reader for tests: it stops at the first record that is cut short or fails its CRC
    and reports the rest as the tail, so that tests know where every record starts and ends."""
    data = Path(path).read_bytes()
    expect(len(data) >= JOURNAL_HEADER_SIZE, f"{path}: {len(data)} bytes, shorter than a header")
    magic, version, manifest_hash, tasks, crc = struct.unpack_from("<8sIQQI", data)
    header = {"magic": magic, "version": version, "manifest_hash": manifest_hash,
              "tasks": tasks, "crc_ok": crc == crc32c(data[:28])}
    records, offset = [], JOURNAL_HEADER_SIZE
    while offset + FRAME_SIZE <= len(data):
        length, crc = struct.unpack_from("<II", data, offset)
        end = offset + FRAME_SIZE + length
        if length == 0 or end > len(data):
            break
        body = data[offset + FRAME_SIZE:end]
        if crc32c(body) != crc:
            break
        records.append((offset, end, decode_record(body)))
        offset = end
    return header, records, data[offset:]


def succeeded_in_journal(records):
    """Indexes that some TaskFinished record of `records` says succeeded."""
    return {r["index"] for _, _, r in records
            if r["type"] == "TaskFinished" and r["outcome"] == "succeeded"}


# ---------------------------------------------------------------------------------------------
# Misc


def seeded(seed):
    """A random.Random for a test, seeded so a failure can be replayed; prints the seed."""
    print(f"    seed {seed}", flush=True)
    return random.Random(seed)


def skip(message):
    """Prints why a test does nothing at this rank count (the harness counts it as passed)."""
    print(f"    skipped: {message}", flush=True)


def only_at_np_2(sandbox):
    """True at np 2; at other rank counts prints why the test does nothing."""
    if sandbox.np != 2:
        skip("does not depend on the rank count; runs at np 2 only")
        return False
    return True


def file_listing(directory):
    """Every path under directory (recursively), relative, as a sorted list of strings; used
    to prove that a run wrote nothing outside its run directory."""
    directory = Path(directory)
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
