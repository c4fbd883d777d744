"""Reading a jobrunner run's results back into Python (standard library only).

    import jobrunner
    for r in jobrunner.results("jobrunner-out/fit-20261206-101500"):
        if r.ok:
            print(r.task, r.value)

Each Result is one attempt as results.jsonl records it. `value` is what a `kind: python` function
returned: the JSON `result`, or, for a value JSON cannot hold, the object unpickled from the
attempt's data file the first time it is asked for (unpickling runs code named in the file: read
only run directories you trust, with the modules the functions used importable).
"""

import json
import os
import pickle

__all__ = ["Result", "results"]


class Result:
    """One attempt of one task."""

    __slots__ = ("run_dir", "line", "_value", "_loaded")

    def __init__(self, run_dir, line):
        self.run_dir = run_dir
        self.line = line  # the results.jsonl object, as it is
        self._value = None
        self._loaded = False

    def __getattr__(self, name):
        # task, index, attempt, outcome, error, exit_code, signal, start, end, duration_s,
        # worker, host, retry, reason: the fields of the line, None when absent.
        if name.startswith("_") or name in Result.__slots__:
            raise AttributeError(name)
        return self.line.get(name)

    @property
    def ok(self):
        return self.line.get("outcome") == "succeeded"

    @property
    def result(self):
        """The result as results.jsonl holds it (JSON), or None."""
        return self.line.get("result")

    def _path(self, key):
        path = self.line.get(key)
        return None if path is None else os.path.join(self.run_dir, path)

    @property
    def data_path(self):
        """The attempt's data file (a pickle for kind: python), or None."""
        return self._path("data")

    @property
    def stdout_path(self):
        return self._path("stdout")

    @property
    def stderr_path(self):
        return self._path("stderr")

    @property
    def pickled(self):
        path = self.line.get("data")
        return path is not None and path.endswith(".pickle")

    @property
    def value(self):
        """The function's return value: the JSON result, or the unpickled data file."""
        if not self.pickled:
            return self.result
        if not self._loaded:
            with open(self.data_path, "rb") as f:
                self._value = pickle.load(f)
            self._loaded = True
        return self._value

    def __repr__(self):
        return (f"Result(task={self.task!r}, attempt={self.attempt!r}, "
                f"outcome={self.outcome!r})")


def _results_file(run_dir):
    run_dir = os.fspath(run_dir)
    if os.path.isdir(run_dir):
        return run_dir, os.path.join(run_dir, "results.jsonl")
    return os.path.dirname(os.path.abspath(run_dir)), run_dir


def results(run_dir, all_attempts=False):
    """The results of the run in `run_dir` (or of the results.jsonl named).

    By default one Result per task, in task order: the last line recorded for it (its success,
    or its last failure, or `skipped`), over every run of a resumed run. With all_attempts,
    every attempt line in the order the attempts ended."""
    run_dir, path = _results_file(run_dir)
    lines = []
    with open(path, encoding="utf-8") as f:
        for text in f:
            text = text.strip()
            if not text:
                continue
            line = json.loads(text)
            if "summary" not in line:
                lines.append(line)
    if all_attempts:
        for line in lines:
            yield Result(run_dir, line)
        return
    last = {}
    for line in lines:
        last[line["index"]] = line
    for index in sorted(last):
        yield Result(run_dir, last[index])
