"""python3 -m jobrunner results RUN_DIR [--all]: a run's results, one line per task.

Each line: the task, its outcome, then its value (repr of the JSON result or of the unpickled
data file) or its error.
"""

import argparse
import os
import sys

from . import results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m jobrunner",
                                     description="Read a jobrunner run's results.")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("results", help="print each task's outcome and value")
    show.add_argument("run_dir", help="the run directory (or its results.jsonl)")
    show.add_argument("--all", action="store_true",
                      help="every attempt, in the order they ended, not each task's last")
    options = parser.parse_args(argv)
    try:
        for r in results(options.run_dir, all_attempts=options.all):
            if r.ok:
                detail = repr(r.value)
            else:
                detail = r.error or r.reason or ""
            attempt = f" (attempt {r.attempt})" if options.all or (r.attempt or 1) > 1 else ""
            print(f"{r.task}{attempt}\t{r.outcome}\t{detail}")
    except BrokenPipeError:  # `| head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValueError) as e:
        print(f"python3 -m jobrunner: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
