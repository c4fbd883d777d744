"""Peer for bench/run: N runs of a command through mpi4py.futures, one task per message.

Run as: mpiexec -n 3 python3 -m mpi4py.futures pool_mpi4py.py [--chunksize=K] N COMMAND [ARG...]
(rank 0 runs this script's main, ranks 1..2 are the pool's workers). COMMAND `--noop` runs a
Python function that does nothing instead: W1's in-process no-op task, W7's Python call.
--chunksize=K sends K tasks per message (default 1).
Prints 'span_s=<seconds from the first submit to the last result>' on stdout.
"""

import subprocess
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def run_command(argv):
    return subprocess.run(argv).returncode


def noop(argv):
    return 0


def main():
    args = sys.argv[1:]
    chunksize = 1
    if args and args[0].startswith("--chunksize="):
        chunksize = int(args.pop(0).split("=", 1)[1])
    n, argv = int(args[0]), args[1:]
    with MPIPoolExecutor() as pool:
        pool.submit(int, 0).result()  # wait until the workers are up, outside the span
        start = time.perf_counter()
        task = noop if argv == ["--noop"] else run_command
        codes = list(pool.map(task, [argv] * n, chunksize=chunksize))
        span = time.perf_counter() - start
    print(f"span_s={span:.6f}")
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
