"""Runs the command line in forked children of one process that has done the slow imports.

``tests/test_cli_outputs.py`` interrupts many runs of ``skhep-reweight`` at random moments. As
separate programs each would spend three seconds importing torch and matplotlib before the
moment being tested; here one process imports them once (and starts no thread, so that forking
it is safe), then forks a child per run. Each child is the command line as a user starts it
(``entry_point``, the console script's function), with its own process, signals and exit
status.

Protocol, one JSON object per line: ``{"op": "run", "args": [...], "cwd": ..., "stdout": path,
"stderr": path}`` answers ``{"pid": n}``; ``{"op": "wait", "pid": n}`` answers ``{"code": exit
status}`` (negative: killed by that signal); ``{"op": "interrupt", "runs": [{"args", "cwd",
"stdout", "stderr", "signal", "delay"}, ...]}`` starts every run at once, sends each its signal
``delay`` seconds after its start if it is still running (before it is reaped, so that the pid
cannot belong to another process by then), and answers ``{"codes": [...]}``.
``tests/conftest.py`` drives it (the ``command_line`` fixture).
"""

import json
import os
import signal
import sys
import time


def _child(request):
    os.chdir(request["cwd"])
    for name, descriptor in (("stdout", 1), ("stderr", 2)):
        os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), descriptor)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(0)  # noqa: SIM115 - the child's lifetime
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    # a zygote started by a runner that ignores SIGINT inherits SIG_IGN; a user's shell does not
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = ["skhep-reweight", *request["args"]]
    from skhep_reweight._cli import entry_point

    status = 1
    try:
        status = entry_point()
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


# A run still going after this long is killed (SIGKILL), so that a hung run fails its test
# instead of blocking the suite.
LIMIT_S = 300


def _reap(pid, start):
    """The exit status of ``pid`` if it has ended (killing it past LIMIT_S), else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        return os.waitstatus_to_exitcode(status)
    if time.monotonic() - start > LIMIT_S:
        os.kill(pid, signal.SIGKILL)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return None


def _fork(request):
    pid = os.fork()
    if pid == 0:
        _child(request)
    return pid


def _interrupt(runs):
    """Start every run, signal each at its moment unless it ended, and return the exit codes."""
    started = [(run, _fork(run), time.monotonic()) for run in runs]
    codes = [None] * len(runs)
    signalled = [False] * len(runs)
    while any(code is None for code in codes):
        for k, (run, pid, start) in enumerate(started):
            if codes[k] is not None:
                continue
            codes[k] = _reap(pid, start)
            if codes[k] is None and not signalled[k] and time.monotonic() - start >= run["delay"]:
                os.kill(pid, run["signal"])  # not reaped yet: still this run's pid
                signalled[k] = True
        time.sleep(0.002)
    return codes


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import torch

    assert torch is not None
    print(json.dumps({"ready": os.getpid()}), flush=True)
    starts = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            pid = _fork(request)
            starts[pid] = time.monotonic()
            print(json.dumps({"pid": pid}), flush=True)
        elif request["op"] == "interrupt":
            print(json.dumps({"codes": _interrupt(request["runs"])}), flush=True)
        elif request["op"] == "wait":
            pid = request["pid"]
            while (code := _reap(pid, starts[pid])) is None:
                time.sleep(0.005)
            del starts[pid]
            print(json.dumps({"code": code}), flush=True)


if __name__ == "__main__":
    main()
