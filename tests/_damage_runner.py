"""Reads every damaged file of a corpus through the public functions and the command line, in a
process of its own, and measures each attempt's peak memory.

Run by ``tests/test_damaged_files.py`` as ``python _damage_runner.py PLAN RESULT``: PLAN is a
JSON list of attempts, RESULT receives one outcome per attempt. An outcome is ``"error"`` (the
package's ValueError, the file named; from the command line: exit status 2, at most three
lines on stderr), ``"intact"`` (the damage hit bytes the read does not use: the values or the
predictions equal the undamaged file's exactly) or ``"wrong"`` with what went wrong. The peak
memory of each attempt is the growth of the resident set above what it was before the attempt
(Linux: /proc/self/clear_refs resets the high-water mark).
"""

import contextlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np


def _rss_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak():
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _read_all(kind, path, columns, tree, weight):
    from skhep_reweight.io import EventSource, count_events, iterate_events, read_events

    if kind == "read_events":
        X, w = read_events(path, columns, tree=tree, weight=weight)
        return np.column_stack([X, w])
    if kind == "iterate_events":
        parts = [np.column_stack([X, w]) for X, w in iterate_events(
            path, columns, tree=tree, weight=weight, chunk_size=700
        )]  # fmt: skip
        return np.vstack(parts)
    if kind == "EventSource":
        source = EventSource(path, columns, tree=tree, weight=weight, chunk_size=700)
        return np.vstack([np.column_stack([X, w]) for X, w in source])
    if kind == "count_events":
        return np.array([count_events(path, tree=tree)], dtype=float)
    raise ValueError(kind)


def _cli(args):
    from skhep_reweight._cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(args)
    return status, err.getvalue()


def _attempt(plan, expected):
    """(outcome, detail) of one attempt."""
    path = plan["path"]
    name = Path(path).name
    if plan["kind"] == "cli":
        status, err = _cli(plan["args"])
        lines = err.strip().splitlines()
        if status == 0 and plan["args"][0] == "fit":
            return "intact", ""  # the source read as it was written (the reads above check it)
        if status == 0:
            from skhep_reweight.io import read_events

            values, _ = read_events(plan["output"], ["weight"])
            if np.array_equal(values[:, 0], np.asarray(expected)):
                return "intact", ""
            return "wrong", "exit 0 with other weights"
        if status != 2 or len(lines) > 3 or name not in err or ": error:" not in lines[0]:
            return "wrong", f"exit {status}: {err[-300:]}"
        if Path(plan["output"]).exists() or list(Path(plan["output"]).parent.glob(".*")):
            return "wrong", "an output or a hidden file was left"
        return "error", lines[0]
    try:
        if plan["kind"] == "load":
            from skhep_reweight import load

            model = load(path)
            probe = np.asarray(plan["probe"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = model.predict_weights(probe)
        else:
            result = _read_all(plan["kind"], path, plan["columns"], plan["tree"], plan["weight"])
    except ValueError as error:  # DamagedFileError is one
        text = str(error)
        if name not in text:
            return "wrong", f"the message does not name the file: {text[:200]}"
        return "error", f"{type(error).__name__}: {text[:300]}"
    except Exception as error:  # any other type is the failure being looked for
        return "wrong", f"{type(error).__module__}.{type(error).__name__}: {str(error)[:300]}"
    if np.array_equal(np.asarray(result, dtype=float), np.asarray(expected, dtype=float)):
        return "intact", ""
    return "wrong", "read without an error, with other values"


def main(plan_path, result_path):
    import torch  # noqa: F401 - imported before the first measurement, as the CLI would

    plans = json.loads(Path(plan_path).read_text())
    expected = {key: np.load(value) for key, value in plans["expected"].items()}
    results = []
    for plan in plans["attempts"]:
        _reset_peak()
        before = _rss_mib("VmRSS")
        outcome, detail = _attempt(plan, expected[plan["expected"]])
        results.append(
            {
                "id": plan["id"],
                "outcome": outcome,
                "detail": detail,
                "peak_mib": _rss_mib("VmHWM") - before,
            }
        )
    Path(result_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
