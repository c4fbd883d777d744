"""`cmake --install` gives a prefix with the binary, the plugin headers and a CMake package: a
plugin author's project finds it with find_package(jobrunner) and builds the example plugin,
which the installed binary then loads and runs."""

import os
import shutil
from pathlib import Path

from harness import (IS_ROOT, REPO_ROOT, ROOT_CONSENT_ENV, execute, expect, expect_equal,
                     expect_in, jobrunner_binary, read_results, run_tests)

BUILD_LIMIT_S = 300  # a plugin build on a loaded machine


def build_dir():
    """The build tree of the binary under test: where `cmake --install` reads from."""
    return Path(jobrunner_binary()).resolve().parent


def run_checked(command, cwd, what, env=None, limit_s=BUILD_LIMIT_S):
    rc, stdout, stderr, _ = execute(command, cwd, limit_s, env)
    expect_equal(rc, 0, f"exit status of {what}; stdout: {stdout[-2000:]} stderr: {stderr[-2000:]}")
    return stdout


def test_an_installed_jobrunner_builds_and_runs_a_plugin_found_with_find_package(sandbox):
    """Installs into a temporary prefix, configures jobs/examples/ against it alone
    (CMAKE_PREFIX_PATH), builds libword_count.so, and runs a word-count task with the installed
    binary and that plugin."""
    prefix = sandbox.path / "prefix"
    run_checked(["cmake", "--install", str(build_dir()), "--prefix", str(prefix)], sandbox.path,
                "cmake --install")
    for installed in ("bin/jobrunner", "include/jobrunner/task_kind.h",
                      "include/jobrunner/serialize.h"):
        expect((prefix / installed).is_file(), f"{installed} is not installed")
    configs = list(prefix.glob("lib*/**/cmake/jobrunner/jobrunnerConfig.cmake"))
    expect(len(configs) == 1, f"one jobrunnerConfig.cmake under {prefix}: {configs}")

    plugin_build = sandbox.path / "plugin-build"
    run_checked(["cmake", "-S", str(REPO_ROOT / "jobs" / "examples"), "-B", str(plugin_build),
                 f"-DCMAKE_PREFIX_PATH={prefix}"], sandbox.path, "configuring the plugin")
    run_checked(["cmake", "--build", str(plugin_build)], sandbox.path, "building the plugin")
    plugin = plugin_build / "libword_count.so"
    expect(plugin.is_file(), f"{plugin} was not built")

    binary = str(prefix / "bin" / "jobrunner")
    env = ROOT_CONSENT_ENV if IS_ROOT else None
    kinds = run_checked([binary, "--plugin", str(plugin), "--list-kinds"], sandbox.path,
                        "--list-kinds", env, limit_s=60)
    expect_in("word-count", kinds, "the installed binary lists the plugin's kind")
    sandbox.write("data/a.txt", "one two three four\n")
    sandbox.write("manifest.yaml", f"""\
        version: 1
        plugins: [{plugin}]
        tasks:
          - id: words
            kind: word-count
            args: {{path: data/a.txt}}
        """)
    run_checked([binary, "--progress", "log", "--out", "run", "manifest.yaml"], sandbox.path,
                "a run with the installed binary", env, limit_s=60)
    attempts, _ = read_results(sandbox.path / "run")
    expect_equal([a["result"]["words"] for a in attempts if a.get("task") == "words"], [4],
                 "words counted by the plugin")


def skip_reason(_np):
    return None if shutil.which("cmake") else "cmake is not installed"


if __name__ == "__main__":
    run_tests(globals(), skip_reason)
