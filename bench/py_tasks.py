"""The Python function that W7 calls: jobrunner `kind: python` (python.path: bench/), and
`command: python3 -c "import py_tasks; py_tasks.noop()"` per task."""


def noop():
    return None
