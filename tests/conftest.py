"""Fixtures shared by the test modules."""

import contextlib
import itertools
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Train on one CPU thread for a module whose networks are small: a second intra-op thread
    gains nothing there, and on a busy two-core machine the two threads wait for each other
    (test_srgn.py and test_unweight.py ran ten times slower with torch's default of one thread
    per core). Restores the previous setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@dataclass
class Done:
    """The end of a command-line run: exit status (negative: killed by that signal), output."""

    returncode: int
    stdout: str
    stderr: str


class CommandLine:
    """``skhep-reweight`` runs, each a process of its own, forked from one process that imported
    torch and the package once (``_cli_zygote.py``): a run costs its work, not three seconds of
    imports, so tests can start dozens. A child is the console command's own function
    (``entry_point``) with its own signals, output and exit status; what it does not exercise
    (the console script's wrapper) is tested by test_cli.py's ``--version`` and ``--help`` runs."""

    def __init__(self, folder: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        self.folder = folder
        self.count = itertools.count()
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_cli_zygote.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert "ready" in json.loads(self.process.stdout.readline())

    def _ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def start(self, args, cwd):
        """Start ``skhep-reweight *args`` in ``cwd``; returns (pid, stdout file, stderr file)."""
        k = next(self.count)
        out, err = self.folder / f"{k}.out", self.folder / f"{k}.err"
        request = {"op": "run", "args": [str(a) for a in args], "cwd": str(cwd or Path.cwd())}
        pid = self._ask(**request, stdout=str(out), stderr=str(err))["pid"]
        return pid, out, err

    def wait(self, pid, out, err):
        code = self._ask(op="wait", pid=pid)["code"]
        return Done(code, out.read_text(), err.read_text())

    def run(self, *args, cwd=None):
        """Run ``skhep-reweight *args`` in ``cwd`` to its end."""
        return self.wait(*self.start(args, cwd))

    def interrupt(self, args, runs):
        """Run ``skhep-reweight *args`` once per (cwd, signal, delay) of ``runs``, all at once,
        each sent its signal ``delay`` seconds after it started unless it has ended."""
        requests, files = [], []
        for cwd, signum, delay in runs:
            k = next(self.count)
            out, err = self.folder / f"{k}.out", self.folder / f"{k}.err"
            files.append((out, err))
            requests.append(
                {"args": [str(a) for a in args], "cwd": str(cwd), "stdout": str(out),
                 "stderr": str(err), "signal": int(signum), "delay": float(delay)}
            )  # fmt: skip
        codes = self._ask(op="interrupt", runs=requests)["codes"]
        return [
            Done(code, out.read_text(), err.read_text())
            for code, (out, err) in zip(codes, files, strict=True)
        ]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


@pytest.fixture(scope="session")
def command_line(tmp_path_factory):
    """The command line, each run a process of its own (see :class:`CommandLine`)."""
    runner = CommandLine(tmp_path_factory.mktemp("command_line"))
    yield runner
    runner.close()


_HOLDER = """
import sys
from pathlib import Path
from skhep_reweight._files import OutputSet
with OutputSet({"--output": Path(sys.argv[1])}):
    print("writing", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def another_run_writing(path):
    """Another process in the middle of a run that writes ``path`` (it holds the output's
    staging folder and lock) for the duration of the block."""
    other = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLDER), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "writing"
        yield
    finally:
        other.communicate("\n", timeout=60)


@pytest.fixture
def holding():
    """:func:`another_run_writing`, for a test."""
    return another_run_writing
