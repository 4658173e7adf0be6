"""The suite's signal tests pass the same way when SIGINT is ignored, as it is for a background
job of a non-interactive shell, under ``nohup`` and on some batch and CI runners: the process
inherits SIG_IGN and Python keeps it, so a test that sends itself SIGINT and waits for the
KeyboardInterrupt would wait for the end of whatever it interrupts.

This test runs the tests marked ``signals`` (those that send a signal to the test process
itself) in a child pytest that ignores SIGINT, with a timeout: before the fix,
``test_interrupted_fit_raises_and_leaves_no_fitted_model`` trained for its full
``max_epochs=10_000`` there (hours). The command-line runs interrupted at random moments
(``test_cli_outputs.py``) set each run's handlers as a shell-started program has them, so they
do not depend on the runner's disposition.
"""

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_signal_tests_pass_with_sigint_ignored():
    tests = Path(__file__).parent
    marked = [str(p) for p in sorted(tests.glob("test_*.py")) if "mark.signals" in p.read_text()]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "signals",
         "-o", "addopts=", *marked],
        cwd=tests.parent, capture_output=True, text=True, timeout=300,
        preexec_fn=_ignore_sigint, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed is not None
    assert int(passed.group(1)) >= 2  # the signal tests of test_base and test_hostile_input
