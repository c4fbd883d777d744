"""Functions that tests/e2e/test_python.py runs as `kind: python` tasks (standard library only)."""

import ctypes
import os
import sys
import time

_setup_calls = []


def init():
    """python.setup: runs once per interpreter."""
    _setup_calls.append(os.getpid())


def fit(alpha, seed, scale=1):
    """A JSON result that shows the arguments' types as they arrived."""
    print(f"fitting alpha={alpha} seed={seed}")
    return {"alpha": alpha, "seed": seed, "score": alpha * seed * scale,
            "types": [type(alpha).__name__, type(seed).__name__], "pid": os.getpid(),
            "setups": len(_setup_calls)}


def shapes(n):
    """A value JSON cannot hold: it is pickled into the attempt's data file."""
    return {"n": n, "bytes": bytes(range(n)), "set": set(range(n)), "pair": (n, -n),
            "complex": complex(n, 1)}


def flaky(attempt):
    """Raises on its first attempt: `retries` gets it through."""
    if attempt < 2:
        sys.stderr.write("about to fail\n")
        raise RuntimeError(f"attempt {attempt} is meant to fail")
    return f"attempt {attempt} worked"


def crash(n, bad):
    """Segfaults its interpreter when n == bad."""
    if n == bad:
        ctypes.string_at(0)
    return os.getpid()


def hang(seconds):
    time.sleep(seconds)
    return seconds


def pause(n, seconds):
    time.sleep(seconds)
    return {"n": n, "square": n * n}
