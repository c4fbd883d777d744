"""Manifest and usage errors: exit status 2 on every rank, one clear message, no task run.

Every run here uses every_rank_status, so mpirun does not kill the other ranks once rank 0 has
exited: each rank must end by itself, and a rank left waiting would make the run hang.
"""

import re

from harness import expect, expect_equal, expect_in, run_tests


def expect_usage_error(sandbox, run, message):
    """Every rank exited 2, stderr holds `message` exactly once, and no results were written."""
    expect_equal(run.rc, 2, "exit status")
    expect_equal(run.rank_statuses, {rank: 2 for rank in range(sandbox.np)}, "rank statuses")
    expect_equal(run.stderr.count(message), 1, f"times stderr holds {message!r}")
    expect(not (run.run_dir / "results.jsonl").exists(), "results.jsonl was written")


def expect_manifest_error(sandbox, manifest, position, message):
    """Runs a bad manifest; the error reads "manifest.yaml:LINE:COLUMN: ...message..."."""
    sandbox.write("manifest.yaml", manifest)
    run = sandbox.run("manifest.yaml", every_rank_status=True)
    expect_usage_error(sandbox, run, f"manifest.yaml:{position}: ")
    error_line = next(line for line in run.stderr.splitlines() if f":{position}: " in line)
    expect_in(message, error_line, "the error message")


def test_a_yaml_syntax_error_names_its_line_and_column(sandbox):
    """A stray `]` is reported where it stands: line 4, column 24."""
    expect_manifest_error(sandbox, """\
        version: 1
        tasks:
          - id: a
            command: [echo, hi]]
        """, "4:24", "YAML syntax error")


def test_an_unknown_field_names_its_key(sandbox):
    """A misspelt `comand:` is reported at its key, line 5 column 5, with the allowed fields."""
    expect_manifest_error(sandbox, """\
        version: 1
        tasks:
          - id: a
            command: echo hi
            comand: echo typo
        """, "5:5", "unknown field 'comand'")


def test_a_duplicate_id_names_both_places_and_nothing_runs(sandbox):
    """The second `id: same` is reported (5:9) along with the first (3:9); the first task,
    which would create a file, never runs."""
    expect_manifest_error(sandbox, """\
        version: 1
        tasks:
          - id: same
            command: "touch ran"
          - id: same
            command: "touch ran"
        """, "5:9", "duplicate task id 'same': also produced by the task at manifest.yaml:3:9")
    expect(not (sandbox.path / "ran").exists(), "a task ran although the manifest had an error")


def test_a_bad_duration_names_its_value(sandbox):
    """`timeout: 10 parsecs` is reported at the value, line 5 column 14."""
    expect_manifest_error(sandbox, """\
        version: 1
        tasks:
          - id: a
            command: echo hi
            timeout: 10 parsecs
        """, "5:14", "bad duration '10 parsecs'")


def test_a_timeout_longer_than_a_year_names_its_value_and_nothing_runs(sandbox):
    """`timeout: 2562048h` once passed and then timed out every attempt at once (an overflow):
    it is reported at its value, line 5 column 14, as longer than the longest accepted."""
    expect_manifest_error(sandbox, """\
        version: 1
        tasks:
          - id: a
            command: "touch ran"
            timeout: 2562048h
        """, "5:14", "timeout 2562048h is longer than 8760h (365 days), the longest duration "
                     "accepted")
    expect(not (sandbox.path / "ran").exists(), "a task ran although the manifest had an error")


def test_an_unterminated_quote_is_a_syntax_error_not_a_swallowed_task(sandbox):
    """A missing closing quote must not make the rest of the file part of one string: here it
    would turn task b into text of task a's command and run only a. Whichever position the
    error names, it is an error on every rank, and nothing runs."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: a
            command: "echo unterminated
          - id: b
            command: [touch, ran]
        """)
    run = sandbox.run("manifest.yaml", every_rank_status=True)
    expect_equal(run.rc, 2, "exit status")
    expect_equal(run.rank_statuses, {rank: 2 for rank in range(sandbox.np)}, "rank statuses")
    expect(re.search(r"manifest\.yaml:\d+:\d+: ", run.stderr),
           f"stderr names no manifest.yaml:line:column: {run.stderr!r}")
    expect(not (run.run_dir / "results.jsonl").exists(), "results.jsonl was written")


def test_a_missing_manifest_exits_2_naming_the_file(sandbox):
    """A manifest path that does not exist is an error, not a hang or a crash."""
    run = sandbox.run("no-such-manifest.yaml", every_rank_status=True)
    expect_usage_error(sandbox, run, "no-such-manifest.yaml: cannot read manifest")


def test_a_bad_max_output_exits_2_with_one_message(sandbox):
    """`--max-output nonsense` is a usage error, printed by rank 0 alone."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: a
            command: ["true"]
        """)
    run = sandbox.run("manifest.yaml", "--max-output", "nonsense", every_rank_status=True)
    expect_usage_error(sandbox, run, "--max-output: expected a size like 64K, 100M or 2G, "
                                     "got 'nonsense'")


def test_durations_and_sizes_beyond_their_limits_in_flags_exit_2_with_one_message(sandbox):
    """--kill-grace 2562048h (which overflowed), --time-limit 9000h and --max-output 2048T: each
    a usage error saying the value is beyond the limit, printed by rank 0 alone."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: a
            command: ["true"]
        """)
    for flag, value, message in (
            ("--kill-grace", "2562048h", "longer than 8760h (365 days)"),
            ("--time-limit", "9000h", "longer than 8760h (365 days)"),
            ("--max-output", "2048T", "larger than 1024T, the largest size accepted")):
        run = sandbox.run("manifest.yaml", flag, value, every_rank_status=True)
        expect_usage_error(sandbox, run, f"{flag}: {value} is {message}")


def test_an_out_directory_holding_a_run_is_refused(sandbox):
    """A second run into the same --out would mix two runs' results: it exits 2 instead."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: a
            command: ["true"]
        """)
    first = sandbox.run("manifest.yaml")
    expect_equal(first.rc, 0, "exit status of the first run")
    run = sandbox.run("manifest.yaml", out=first.run_dir, every_rank_status=True)
    expect_equal(run.rc, 2, "exit status of the second run")
    expect_equal(run.rank_statuses, {rank: 2 for rank in range(sandbox.np)}, "rank statuses")
    expect_in("already holds a run", run.stderr, "stderr")
    expect_equal(len(first.attempts), 1, "attempts of the first run")
    lines = (first.run_dir / "results.jsonl").read_text().splitlines()
    expect_equal(len(lines), 2, "lines of the first run's results.jsonl, kept by the second")


if __name__ == "__main__":
    run_tests(globals())
