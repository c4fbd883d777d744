"""Rows, targets, the markdown table and the saved results file."""

import datetime
import os
import platform
from dataclasses import dataclass


@dataclass
class Row:
    workload: str
    system: str
    wall_s: float = None
    tasks_per_s: float = None
    cpu_s: float = None
    rss_mb: float = None
    note: str = ""
    group: str = ""  # rows of one group share the reference their ratio is taken against
    reference: bool = False  # the jobrunner row the group's ratios divide by
    ratio: float = None


@dataclass
class Target:
    name: str
    measured: str
    met: bool = None  # None: reported only, or could not be measured


def row_from(measurement, workload, system, tasks=None, note="", group="", reference=False):
    """A row from a Measurement; a failed command gives a row that says why instead of numbers."""
    if not measurement.ok:
        return Row(workload, system, note=f"failed: {measurement.problem()}", group=group)
    rate = tasks / measurement.wall_s if tasks and measurement.wall_s > 0 else None
    return Row(workload, system, measurement.wall_s, rate, measurement.cpu_s,
               measurement.max_rss_mb, note, group, reference)


def unavailable(workload, system, why):
    return Row(workload, system, note=f"not available: {why}")


def fill_ratios(rows):
    """ratio = time per task of the row / that of its group's jobrunner reference row: the wall
    time ratio when both ran the same tasks (peers too slow for the full count run fewer)."""
    references = {r.group: r for r in rows if r.reference and r.wall_s}
    for r in rows:
        ref = references.get(r.group)
        if not (r.group and ref and r.wall_s):
            continue
        same_work = not (r.tasks_per_s and ref.tasks_per_s)
        r.ratio = r.wall_s / ref.wall_s if same_work else ref.tasks_per_s / r.tasks_per_s


def _cell(value, digits):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


RATIO_HEADER = "ratio (wall ÷ jobrunner wall = jobrunner rate ÷ rate; >1: jobrunner faster)"


def table(rows):
    lines = [
        f"| workload | system | wall s | tasks/s | CPU s | peak RSS MB | {RATIO_HEADER} | notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cells = [r.workload, r.system, _cell(r.wall_s, 2), _cell(r.tasks_per_s, 0),
                 _cell(r.cpu_s, 2), _cell(r.rss_mb, 1), _cell(r.ratio, 2), r.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def targets_table(targets):
    verdict = {True: "met", False: "**missed**", None: "—"}
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t.name} | {t.measured} | {verdict[t.met]} |" for t in targets]
    return "\n".join(lines)


COLUMNS = """Columns: *wall s* from launch to exit of the whole command (mpirun start-up included);
*tasks/s* = tasks ÷ wall; *CPU s* = user + system time of the command's whole process tree
(`wait4` rusage, children included); *peak RSS* = the largest single process in the tree (GNU
time's `%M`), except in W4 where the `-n 2` row shows rank 0's VmHWM; *ratio* is taken against the
first jobrunner row of the same workload (`-n 3`: coordinator + 2 workers with 1 slot each)."""


def machine_header(command_line, load_before, load_after):
    uname = platform.uname()
    now = datetime.datetime.now().astimezone()
    return "\n".join([
        f"# jobrunner benchmarks, {now:%Y-%m-%d}",
        "",
        f"- date: {now:%Y-%m-%d %H:%M:%S %Z}",
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{uname.machine}, kernel {uname.release}",
        f"- command: `{command_line}`",
        f"- load average (1, 5, 15 min) before: {_load(load_before)}; after: {_load(load_after)}",
    ])


def _load(values):
    return ", ".join(f"{v:.2f}" for v in values)
