"""Peer for bench/run: N calls of a Python function that does nothing, through joblib's
Parallel(n_jobs=2) (its default loky worker processes, batch size chosen by joblib).

Run as: python3 pool_joblib.py N
Prints 'span_s=<seconds from the first submit to the last result>' on stdout.
"""

import sys
import time

from joblib import Parallel, delayed


def noop(index):
    return 0


def main():
    n = int(sys.argv[1])
    with Parallel(n_jobs=2) as parallel:
        parallel(delayed(noop)(i) for i in range(2))  # start the workers outside the span
        start = time.perf_counter()
        codes = parallel(delayed(noop)(i) for i in range(n))
        span = time.perf_counter() - start
    print(f"span_s={span:.6f}")
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
