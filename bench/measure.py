"""Running one command under a time limit and measuring it; looking into running jobs through
/proc.

Every command runs in a session (process group) of its own, and this process is a child
subreaper, so a timeout ends exactly what the benchmark started, wherever its processes went, and
nothing else on the machine.
"""

import ctypes
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

GNU_TIME = "/usr/bin/time"


@dataclass
class Measurement:
    """One finished command: wall time, CPU of its whole process tree, largest RSS in the tree."""

    argv: list
    wall_s: float = 0.0
    start_epoch: float = 0.0  # time.time() just before the launch
    cpu_s: float = 0.0  # user + system of the command and every descendant it waited for
    max_rss_mb: float = None  # peak RSS of the largest single process in the tree
    returncode: int = 0
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""
    extra: dict = field(default_factory=dict)  # what a workload learned from the run

    @property
    def ok(self):
        return self.returncode == 0 and not self.timed_out

    def problem(self):
        """A short reason why the command did not succeed, or '' when it did."""
        if self.timed_out:
            return f"timed out after {self.wall_s:.0f} s"
        if self.returncode != 0:
            last = (self.stderr.strip().splitlines() or [""])[-1][:160]
            return f"exit {self.returncode}: {last}" if last else f"exit {self.returncode}"
        return ""


# --- /proc ------------------------------------------------------------------------------------


def start_thread(thread):
    """Starts a helper thread with SIGINT and SIGTERM blocked in it: the signals then reach the
    main thread and break whatever wait it is in, so that bench/run can stop and clean up."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def _stat_fields(pid):
    """Fields 3.. of /proc/pid/stat (state, ppid, pgrp, ...), or None. The command name before
    them may contain spaces and parentheses, so split after its last ')'."""
    stat = _read(f"/proc/{pid}/stat")
    return stat.rsplit(")", 1)[1].split() if stat else None


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def children(pid):
    """Pids whose parent is pid."""
    return [p for p in _pids() if (f := _stat_fields(p)) and int(f[1]) == pid]


def live_group_members(pgid):
    """Pids in process group pgid that have not exited (zombies excluded)."""
    return [p for p in _pids() if (f := _stat_fields(p)) and int(f[2]) == pgid and f[0] != "Z"]


def cpu_seconds(pid):
    """CPU time (user + system) of one process, all its threads but not its children; None once
    it has gone. From the scheduler's nanosecond counters, summed over the threads."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for tid in threads:
        schedstat = _read(f"/proc/{pid}/task/{tid}/schedstat")
        if schedstat:
            total += int(schedstat.split()[0])
    return total / 1e9


def peak_rss_mb(pid):
    """VmHWM (peak resident set) of a live process, in MB, or None."""
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return None


def mpi_ranks(launcher_pid):
    """{rank: pid} of the processes an mpirun/mpiexec started (found by their environment)."""
    ranks = {}
    for pid in children(launcher_pid):
        environ = _read(f"/proc/{pid}/environ", "rb") or b""
        for entry in environ.split(b"\0"):
            if entry.startswith(b"OMPI_COMM_WORLD_RANK="):
                ranks[int(entry.split(b"=", 1)[1])] = pid
    return ranks


def wait_for(predicate, timeout_s, interval_s=0.02):
    """Polls predicate() until it returns something true; returns that, or None at the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None


class Competition:
    """How many other processes compete for the CPUs while the benchmark runs: a thread samples
    /proc every 0.25 s and counts the runnable (state R) processes that are neither this process
    nor its descendants, nor kernel threads (which mostly work for whoever runs: freeing the
    memory of exited tasks, say). The mean is like a load average of everyone else."""

    def __init__(self, interval_s=0.25):
        self._samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval_s,), daemon=True)
        start_thread(self._thread)

    def _sample(self, interval_s):
        me = os.getpid()
        while not self._stop.wait(interval_s):
            parent, running = {}, []
            for pid in _pids():
                fields = _stat_fields(pid)
                if fields:
                    parent[pid] = int(fields[1])
                    if fields[0] == "R":
                        running.append(pid)
            self._samples.append(sum(1 for pid in running if not _ours_or_kernel(pid, parent, me)))

    def mean(self):
        """Stops sampling; the mean number of other runnable processes."""
        self._stop.set()
        self._thread.join()
        return sum(self._samples) / len(self._samples) if self._samples else 0.0


def _ours_or_kernel(pid, parent, me):
    while pid > 1:
        if pid == me or pid == 2:  # 2: kthreadd, the parent of every kernel thread
            return True
        pid = parent.get(pid, 0)
    return False


# --- ending what we started ------------------------------------------------------------------


def become_subreaper():
    """Has the orphans of every command this process starts re-parented to it instead of to
    init. mpirun puts each rank in a process group of its own and jobrunner does the same for
    each task, so a command that is killed can leave processes outside its group; as our
    children they can still be found, ended and reaped (`end_orphans`)."""
    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def end_orphans():
    """Kills and reaps every child of this process that is not a command still being run: the
    leftovers of finished or killed commands, re-parented to us (see become_subreaper)."""
    for _ in range(10):  # killing a leftover can orphan its own children: go round again
        leftovers = [p for p in children(os.getpid()) if p not in _active]
        if not leftovers:
            return
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def kill_group(pgid, grace_s=3.0):
    """SIGTERM to the group, SIGKILL after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not live_group_members(pgid):
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        if wait_for(lambda: not live_group_members(pgid), grace_s, interval_s=0.05):
            return


_active = {}  # pid (= process group) -> GNU time's output file, of commands not yet reaped


def kill_active():
    """Kills every command still running (on Ctrl-C or an error), and what they left."""
    for pgid, rss_file in list(_active.items()):
        kill_group(pgid, grace_s=1.0)
        if os.path.exists(rss_file):
            os.unlink(rss_file)
    end_orphans()


# --- running a command ------------------------------------------------------------------------


class Running:
    """A started command, under GNU time for its peak RSS.

    Why GNU time: a process's ru_maxrss includes the peak RSS of the process it was forked from
    until its exec, so every command started straight from this (large) python would report at
    least python's RSS. GNU time is small, and it reports its child's tree.
    """

    def __init__(self, argv, timeout_s, env=None):
        self.argv = [str(a) for a in argv]
        self.timeout_s = timeout_s
        self._timed_out = threading.Event()
        self._rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False).name
        wrapper = [GNU_TIME, "-f", "%M", "-o", self._rss_file, "--"] if os.path.exists(
            GNU_TIME) else []
        self.start_epoch = time.time()
        self._start = time.perf_counter()
        self.proc = subprocess.Popen(wrapper + self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     start_new_session=True)
        self.pid = self.proc.pid  # GNU time, or the command; the process group's id either way
        self._wrapped = bool(wrapper)
        _active[self.pid] = self._rss_file
        # Output is read by threads so that a chatty command never blocks on a full pipe.
        self._out, self._err = [], []
        self._readers = [
            threading.Thread(target=lambda: self._out.append(self.proc.stdout.read()), daemon=True),
            threading.Thread(target=lambda: self._err.append(self.proc.stderr.read()), daemon=True),
        ]
        self._watchdog = threading.Timer(timeout_s, self._expire)
        self._watchdog.daemon = True
        for thread in self._readers + [self._watchdog]:
            start_thread(thread)
        self._command_pid = None if self._wrapped else self.pid

    def _expire(self):
        """The time limit: SIGTERM to the command alone first, so that mpirun can stop its ranks
        and they their tasks (GNU time would otherwise die at once and leave them to it)."""
        self._timed_out.set()
        if self.command_pid:
            self.signal(signal.SIGTERM)
            if wait_for(lambda: not self.alive(), 5.0, interval_s=0.05):
                return
        kill_group(self.pid, grace_s=1.0)

    @property
    def command_pid(self):
        """The pid of the command itself (GNU time's child), e.g. mpirun; None if it is gone."""
        if self._command_pid is None:
            found = wait_for(lambda: children(self.pid), 10, interval_s=0.005)
            self._command_pid = found[0] if found else None
        return self._command_pid

    def alive(self):
        """Whether the command has not exited yet (it stays unreaped until wait())."""
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def signal(self, sig):
        if self.command_pid:
            try:
                os.kill(self.command_pid, sig)
            except ProcessLookupError:
                pass

    def wait(self):
        # Wait for the exit without reaping, so that the pid (and with it the process group's id)
        # cannot be reused while whatever the command left behind in its group is killed.
        os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - self._start
        self._watchdog.cancel()
        kill_group(self.pid, grace_s=2.0)
        _, status, usage = os.wait4(self.pid, 0)
        _active.pop(self.pid, None)
        end_orphans()
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        for reader in self._readers:
            reader.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        decode = lambda chunks: (chunks[0] if chunks else b"").decode(errors="replace")
        return Measurement(
            argv=self.argv,
            wall_s=wall,
            start_epoch=self.start_epoch,
            cpu_s=usage.ru_utime + usage.ru_stime,
            max_rss_mb=self._reported_rss_mb(),
            returncode=self.proc.returncode,
            timed_out=self._timed_out.is_set(),
            stdout=decode(self._out),
            stderr=decode(self._err),
        )

    def _reported_rss_mb(self):
        """GNU time's %M (KB); its file ends with it, after a note when the exit was not 0."""
        text = _read(self._rss_file) or ""
        os.unlink(self._rss_file)
        lines = text.strip().splitlines()
        return int(lines[-1]) / 1024.0 if self._wrapped and lines and lines[-1].isdigit() else None


def run(argv, timeout_s, env=None):
    """Runs argv to completion (or until timeout_s) and measures it."""
    return Running(argv, timeout_s, env=env).wait()
