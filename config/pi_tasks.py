"""The functions of config/python.yaml (standard library only)."""

import collections
import random

_interpreter = {}


def init():
    """python.setup: runs once in each interpreter, before its first task."""
    _interpreter["calls"] = 0


def estimate(samples, seed):
    """Throws `samples` darts at the unit square; the share inside the quarter circle is pi/4."""
    _interpreter["calls"] += 1
    rng = random.Random(seed)
    hits = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    return {"hits": hits, "samples": samples}


def histogram(bins, draws=10000, seed=0):
    """How often each of `bins` equal parts of [0, 1) is hit: a Counter with int keys."""
    rng = random.Random(seed)
    return collections.Counter(int(rng.random() * bins) for _ in range(draws))
