"""Task output: one file per stream and attempt, exact bytes, none when empty, capped if asked."""

from harness import expect, expect_equal, expect_in, run_tests

# The line `yes abcdefghi` repeats: output whose every byte can be checked.
PATTERN_LINE = b"abcdefghi\n"


def pattern(size):
    """The first `size` bytes that `yes abcdefghi | head -c size` prints."""
    return (PATTERN_LINE * (size // len(PATTERN_LINE) + 1))[:size]


def test_stdout_and_stderr_are_kept_apart_byte_for_byte(sandbox):
    """NUL, a non-UTF-8 byte and a missing final newline all reach the files unchanged."""
    sandbox.write("manifest.yaml", r"""
        version: 1
        tasks:
          - id: both
            command: 'printf "out\000\377tail"; printf "err\nline2" >&2'
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    attempt = run.only_attempt("both")
    expect_equal(attempt["stdout"], "logs/both.1.out", "stdout file")
    expect_equal(attempt["stderr"], "logs/both.1.err", "stderr file")
    expect_equal(run.output(attempt, "stdout"), b"out\x00\xfftail", "stdout bytes")
    expect_equal(run.output(attempt, "stderr"), b"err\nline2", "stderr bytes")
    expect_equal((attempt["stdout_bytes"], attempt["stderr_bytes"]), (9, 9), "byte counts")
    expect("stdout_truncated" not in attempt and "stderr_truncated" not in attempt,
           f"nothing is truncated: {attempt}")


def test_a_megabyte_of_output_arrives_whole(sandbox):
    """1,000,000 bytes on stdout, under the default cap, are all in the file."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: chatty
            command: "yes abcdefghi | head -c 1000000"
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    attempt = run.only_attempt("chatty")
    expect_equal(attempt["stdout_bytes"], 1_000_000, "stdout_bytes")
    expect(run.output(attempt, "stdout") == pattern(1_000_000), "stdout differs from the pattern")


def test_a_task_without_output_has_no_files(sandbox):
    """A silent task's stdout and stderr are null, its byte counts 0, and it leaves no log."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: silent
            command: ["true"]
        """)
    run = sandbox.run("manifest.yaml")
    expect_equal(run.rc, 0, "exit status")
    attempt = run.only_attempt("silent")
    expect_equal((attempt["stdout"], attempt["stderr"]), (None, None), "output files")
    expect_equal((attempt["stdout_bytes"], attempt["stderr_bytes"]), (0, 0), "byte counts")
    expect_equal(sorted(p.name for p in (run.run_dir / "logs").iterdir()), [], "files in logs/")


def test_output_over_max_output_is_capped_with_a_marker(sandbox):
    """With --max-output 1K, 100 KB on stdout leaves the first 1024 bytes and a truncation
    marker; the record still counts all 100,000 bytes. The small stderr is not truncated."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: flood
            command: "yes abcdefghi | head -c 100000; echo small >&2"
        """)
    run = sandbox.run("manifest.yaml", "--max-output", "1K")
    expect_equal(run.rc, 0, "exit status")
    attempt = run.only_attempt("flood")
    expect_equal(attempt.get("stdout_truncated"), True, "stdout_truncated")
    expect_equal(attempt["stdout_bytes"], 100_000, "stdout_bytes")
    captured = run.output(attempt, "stdout")
    expect_equal(captured[:1024], pattern(1024), "the first 1024 bytes")
    marker = captured[1024:]
    expect_in(b"truncated", marker, "what follows the first 1024 bytes")
    expect(len(marker) < 200, f"after 1024 bytes only a marker follows, got {len(marker)} bytes")
    expect("stderr_truncated" not in attempt, f"stderr is not truncated: {attempt}")
    expect_equal(run.output(attempt, "stderr"), b"small\n", "stderr")


def test_each_attempt_keeps_its_own_output(sandbox):
    """A retried task's attempts write logs/<id>.<attempt>.out, so no attempt hides another."""
    sandbox.write("manifest.yaml", """\
        version: 1
        tasks:
          - id: twice
            command: "echo attempt {attempt}; [ {attempt} -ge 2 ]"
            retries: 1
        """)
    run = sandbox.run("manifest.yaml", "--retry-backoff", "10ms")
    expect_equal(run.rc, 0, "exit status")
    first, second = run.attempts_of("twice")
    expect_equal((first["stdout"], second["stdout"]), ("logs/twice.1.out", "logs/twice.2.out"),
                 "stdout files")
    expect_equal(run.output(first, "stdout"), b"attempt 1\n", "output of attempt 1")
    expect_equal(run.output(second, "stdout"), b"attempt 2\n", "output of attempt 2")


if __name__ == "__main__":
    run_tests(globals())
