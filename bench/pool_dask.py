"""Peer for bench/run: N runs of a command on a Dask LocalCluster of 2 single-thread worker
processes, one task per command.

Run as: python3 pool_dask.py N COMMAND [ARG...]
COMMAND `--noop` runs a Python function that does nothing instead: W1's in-process no-op task.
Prints 'span_s=<seconds from the first submit to the last result>' on stdout.
"""

import logging
import shutil
import subprocess
import sys
import tempfile
import time

from dask.distributed import Client, LocalCluster


def run_command(index, argv):
    return subprocess.run(argv).returncode


def noop(index, argv):
    return 0


def main():
    n, argv = int(sys.argv[1]), sys.argv[2:]
    logging.getLogger("distributed").setLevel(logging.ERROR)
    scratch = tempfile.mkdtemp(prefix="bench-dask-")  # instead of /tmp/dask-worker-space
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None, local_directory=scratch) as cluster, \
                Client(cluster) as client:
            client.wait_for_workers(2)
            start = time.perf_counter()
            # One key per index: identical calls would otherwise be merged into one task.
            task = noop if argv == ["--noop"] else run_command
            futures = client.map(task, range(n), argv=argv)
            codes = client.gather(futures)
            span = time.perf_counter() - start
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"span_s={span:.6f}")
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
