"""Events per second and peak memory of ``skhep-reweight apply`` on parquet and ROOT files.

A small ``DCTRReweighter`` (the default network, 10 features named ``x0`` ... ``x9``, one epoch on
``--n-train`` events: the weights' values do not change the cost) is saved with
``skhep_reweight.save``. For each format (the sections ``parquet`` and ``root``) and each size of
``--n-events`` (default 10^6 and 10^7; ``--full``: 10^7 and 3x10^7; ``--quick``: 10^4 and
4x10^4), an input file of 10 float32 columns is written in chunks of 10^6 events
(``pyarrow.parquet.ParquetWriter``, one row group per chunk; uproot ``mktree`` then
``tree.extend``, one basket per branch and chunk; both with their default compression), then

    skhep-reweight apply model.skrw INPUT -o OUTPUT --quiet   [--tree Events]

runs in a fresh Python process, with the weights written to the same format. Per run:

* wall-clock seconds of the process, and the seconds the command reports for its own chunk loop
  (reading, predicting, writing: without the interpreter start, the imports and the model load);
* events per second for both;
* the peak resident memory of the process and its CPU seconds: the process is started by a fresh,
  small Python wrapper that reads ``resource.getrusage(RUSAGE_CHILDREN)`` after it (a child of the
  benchmark itself would report at least the benchmark's own peak: on Linux the high-water mark of
  the spawning process's memory carries over into the child's ``ru_maxrss``).

A first run on a file of 1000 events (left out when the sizes are below 10^5) gives the memory
floor (interpreter, torch, the model). The memory should not grow with the size of the file:
``apply`` holds one chunk (200 000 events by default, ``--chunk-size``) at a time.

With ``--split`` (default on), the smallest size of each format is also run in this process with
timers around each stage of the same loop (``iterate_events``, ``predict_weights``, the check of the
training ranges, ``WeightWriter.write``), to show where the time goes.

The input files go to a temporary folder (``--tmp-dir``) and are deleted after each run;
``--full`` needs about 1.3 GB of free disk per 3x10^7 events. Needs uproot, pyarrow and pandas:
``pip install ".[root,parquet]"``.

Run ``python bench/bench_apply_throughput.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import Run, Size, machine_line, markdown_table, run

import skhep_reweight
from skhep_reweight import DCTRReweighter

SIZES = {
    "n_events": Size(
        "events of the input files, one run each",
        [10_000, 40_000],
        [1_000_000, 10_000_000],
        [10_000_000, 30_000_000],
        nargs="+",
    ),
    "n_train": Size("events of the brief training (both classes)", 2_000, 20_000, 20_000),
}
N_FEATURES = 10
FEATURES = [f"x{i}" for i in range(N_FEATURES)]
TREE = "Events"
WRITE_CHUNK = 1_000_000  # events per row group / per tree.extend when the inputs are written
FLOOR_EVENTS = 1_000
TARGET_SHIFT = 0.2
SUFFIX = {"parquet": ".parquet", "root": ".root"}
BYTES_PER_EVENT = N_FEATURES * 4 + 8  # float32 features (uncompressible noise) and the weight

MISSING = (
    "this benchmark needs uproot, pyarrow and pandas; install them with\n"
    '    pip install ".[root,parquet]"    (from the repository root)'
)


# ---------------------------------------------------------------------------- model and files
def train_model(r: Run, folder: Path) -> Path:
    """The saved model: the default network, one epoch on ``--n-train`` events."""
    import pandas as pd

    rng = np.random.RandomState(r.args.random_state)
    per_class = r.args.n_train // 2
    source = pd.DataFrame(rng.normal(size=(per_class, N_FEATURES)), columns=FEATURES)
    target = pd.DataFrame(
        rng.normal(TARGET_SHIFT, 1.0, size=(per_class, N_FEATURES)), columns=FEATURES
    )
    model = DCTRReweighter(
        max_epochs=1, early_stopping=False, device=r.device, random_state=r.args.random_state
    ).fit_samples(source, target)
    return skhep_reweight.save(model, folder / "model.skrw")


def _chunks(n_events: int, seed: int):
    rng = np.random.RandomState(seed)
    for start in range(0, n_events, WRITE_CHUNK):
        size = min(WRITE_CHUNK, n_events - start)
        yield rng.standard_normal(size=(size, N_FEATURES)).astype(np.float32)


def write_input(fmt: str, path: Path, n_events: int, seed: int) -> None:
    """A file of ``n_events`` x 10 float32 columns, written chunk by chunk."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(name, pa.float32()) for name in FEATURES])
        with pq.ParquetWriter(path, schema) as writer:
            for X in _chunks(n_events, seed):
                columns = {name: X[:, j] for j, name in enumerate(FEATURES)}
                writer.write_table(pa.table(columns, schema=schema))
    else:
        import uproot

        with uproot.recreate(path) as file:
            tree = file.mktree(TREE, {name: np.float32 for name in FEATURES})
            for X in _chunks(n_events, seed):
                tree.extend(
                    {name: np.ascontiguousarray(X[:, j]) for j, name in enumerate(FEATURES)}
                )


# ---------------------------------------------------------------------------- one apply process
def child_environment(threads: int) -> dict:
    """This environment, with this script's package first on the path and --threads threads."""
    env = dict(os.environ)
    package_root = str(Path(skhep_reweight.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    return env


# A fresh, small Python that runs the command and reports its wall time, exit status, peak RSS
# (KiB on Linux) and CPU seconds. The rusage of a child of the benchmark itself would not do:
# on Linux a child's ru_maxrss starts from the peak RSS of the process that spawned it (the
# high-water mark of the parent's memory carries over through fork or vfork and exec), so it
# would report the benchmark's own peak; the wrapper's peak is some 15 MiB.
WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
status = subprocess.run(sys.argv[1:]).returncode
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print("RUSAGE " + json.dumps([status, wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime]))
"""


def apply_process(r: Run, fmt: str, model: Path, source: Path, output: Path) -> dict:
    """Run ``skhep-reweight apply`` in a fresh wrapper process; wall time, its own time, peak
    RSS and CPU time of the apply process alone."""
    command = [sys.executable, "-m", "skhep_reweight._cli", "apply", str(model), str(source),
               "-o", str(output), "--quiet"]  # fmt: skip
    if fmt == "root":
        command += ["--tree", TREE]
    if r.args.chunk_size:
        command += ["--chunk-size", str(r.args.chunk_size)]
    completed = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command],
        env=r.state["env"],
        capture_output=True,
        text=True,
    )
    text = completed.stdout + completed.stderr
    report = re.search(r"^RUSAGE (.*)$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or report is None:
        raise SystemExit(f"the wrapper of {' '.join(command)} failed:\n{text[-3000:]}")
    status, wall, max_rss_kib, cpu_s = json.loads(report.group(1))
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status}):\n{text[-3000:]}")
    # "N events weighted in S s (R events/s)": R has three significant digits, S one decimal
    match = re.search(r"(\d+) events weighted in [0-9.]+ s \(([0-9.e+]+) events/s\)", text)
    if match is None:
        raise SystemExit(f"unexpected output of {' '.join(command)}:\n{text[-2000:]}")
    n_weighted = int(match.group(1))
    return {
        "wall_s": wall,
        "own_s": n_weighted / float(match.group(2)),
        "n_weighted": n_weighted,
        "peak_rss_mib": max_rss_kib / 1024,
        "cpu_s": cpu_s,
    }


# ---------------------------------------------------------------------------- the stages
def split_stages(r: Run, fmt: str, model_path: Path, source: Path, output: Path) -> dict:
    """The loop of ``apply`` in this process, with a timer around each stage."""
    from skhep_reweight._base import outside_range
    from skhep_reweight.io import WeightWriter, count_events, iterate_events

    model = skhep_reweight.load(model_path)
    tree = TREE if fmt == "root" else None
    n_events = count_events(source, tree=tree)
    chunk_size = r.args.chunk_size or 200_000
    times = dict.fromkeys(("read", "predict", "range check", "write"), 0.0)
    start = time.perf_counter()
    with WeightWriter(output, name="weight", tree=TREE, n_events=n_events) as writer:
        chunks = iterate_events(source, FEATURES, tree=tree, chunk_size=chunk_size, library="pd")
        while True:
            t0 = time.perf_counter()
            item = next(chunks, None)
            t1 = time.perf_counter()
            times["read"] += t1 - t0
            if item is None:
                break
            X, _ = item
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                weights = model.predict_weights(X)
            t2 = time.perf_counter()
            outside_range(np.asarray(X, dtype=np.float64), model.feature_range_).any(axis=1).sum()
            t3 = time.perf_counter()
            writer.write(weights)
            times["predict"] += t2 - t1
            times["range check"] += t3 - t2
            times["write"] += time.perf_counter() - t3
        t4 = time.perf_counter()
    times["write"] += time.perf_counter() - t4  # the last flush and closing the file
    total = time.perf_counter() - start
    return {"n_events": n_events, "total_s": total, "stages_s": times}


# ---------------------------------------------------------------------------- sections
def _check_disk(folder: Path, n_events: int) -> None:
    need = 1.3 * BYTES_PER_EVENT * n_events
    free = shutil.disk_usage(folder).free
    if free < need:
        raise SystemExit(
            f"{n_events:,} events need about {need / 2**30:.1f} GiB in {folder}, only "
            f"{free / 2**30:.1f} GiB are free: choose --tmp-dir or smaller --n-events"
        )


def _section(fmt: str):
    def section(r: Run) -> tuple[dict, str]:
        folder = r.state["folder"]
        sizes = sorted(r.args.n_events)
        if sizes[0] >= 100 * FLOOR_EVENTS:  # the floor row, unless the sizes are that small
            sizes.insert(0, FLOOR_EVENTS)
        rows, split = [], None
        for i, n_events in enumerate(sizes):
            _check_disk(folder, n_events)
            source = folder / f"events_{n_events}{SUFFIX[fmt]}"
            output = folder / f"weights_{n_events}{SUFFIX[fmt]}"
            start = time.perf_counter()
            write_input(fmt, source, n_events, r.args.random_state + 1 + i)
            written_s = time.perf_counter() - start
            try:
                result = apply_process(r, fmt, r.state["model"], source, output)
                if result["n_weighted"] != n_events:
                    raise SystemExit(f"apply weighted {result['n_weighted']} of {n_events} events")
                row = {
                    "n_events": n_events,
                    "input_mib": source.stat().st_size / 2**20,
                    "write_input_s": written_s,
                    **result,
                    "events_per_s": n_events / result["wall_s"],
                    "own_events_per_s": n_events / result["own_s"] if result["own_s"] else None,
                }
                rows.append(row)
                print(f"  {fmt} {' | '.join(table_cells(row))}", flush=True)
                if r.args.split and n_events == min(r.args.n_events):
                    output.unlink(missing_ok=True)
                    split = split_stages(r, fmt, r.state["model"], source, output)
                    stages = ", ".join(f"{k} {v:.2f} s" for k, v in split["stages_s"].items())
                    print(f"  {fmt} stages at {n_events:,} events: {stages}", flush=True)
            finally:
                source.unlink(missing_ok=True)
                output.unlink(missing_ok=True)
                output.with_suffix(".log").unlink(missing_ok=True)
        caption = (
            f"`skhep-reweight apply` on a {fmt} file of 10 float32 features, a fresh process per "
            f"row, chunk size {r.args.chunk_size or 200_000:,}. A row of {FLOOR_EVENTS:,} events "
            "is the memory floor: interpreter, imports and the model."
        )
        tables = [markdown_table(HEADERS, [table_cells(row) for row in rows], caption)]
        if split is not None:
            tables.append(split_table(fmt, split))
        return {"rows": rows, "split": split}, f"## {fmt}\n\n" + "\n\n".join(tables)

    return section


def table_cells(row: dict) -> list[str]:
    own = row["own_events_per_s"]
    return [
        f"{row['n_events']:,}",
        f"{row['input_mib']:.0f}",
        f"{row['wall_s']:.2f}",
        f"{row['own_s']:.2f}",
        f"{row['events_per_s'] / 1e6:.3f}",
        "—" if own is None else f"{own / 1e6:.3f}",
        f"{row['peak_rss_mib']:.0f}",
        f"{row['cpu_s']:.1f}",
    ]


HEADERS = [
    "events",
    "input [MiB]",
    "wall [s]",
    "apply's own [s]",
    "10^6 events/s (wall)",
    "10^6 events/s (own)",
    "peak RSS [MiB]",
    "CPU [s]",
]


def split_table(fmt: str, split: dict) -> str:
    total = split["total_s"]
    rows = [[k, f"{v:.2f}", f"{v / total:.0%}"] for k, v in split["stages_s"].items()]
    rows.append(["total (in this process)", f"{total:.2f}", "100%"])
    caption = (
        f"Where the time of the chunk loop goes, {split['n_events']:,} events ({fmt}), the same "
        "loop as `apply` run in this process with a timer around each stage: read = "
        "`iterate_events` (decompress, convert, check for NaN, build the DataFrame), predict = "
        "`predict_weights`, range check = counting the events outside the training ranges, "
        "write = `WeightWriter.write` and closing the file."
    )
    return markdown_table(["stage", "seconds", "share"], rows, caption)


def _before(r: Run) -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        import uproot  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"{MISSING}\n(import error: {exc})") from None
    r.state["folder"] = Path(tempfile.mkdtemp(prefix="skhep_apply_", dir=r.args.tmp_dir))
    atexit.register(shutil.rmtree, r.state["folder"], ignore_errors=True)
    r.state["env"] = child_environment(r.args.threads)
    r.state["model"] = train_model(r, r.state["folder"])


def notes(r: Run) -> str:
    items = [
        "wall: the whole process, interpreter start, imports (torch, scikit-learn, uproot or "
        "pyarrow, pandas) and loading the model included. apply's own: the seconds apply "
        "reports for its chunk loop (reading, predicting, checking the training ranges, "
        "writing).",
        "peak RSS: ru_maxrss of the apply process, read with getrusage(RUSAGE_CHILDREN) by a "
        "fresh wrapper Python that runs only it (its ru_maxrss includes the wrapper's own peak, "
        "about 15 MiB). CPU: its user + system seconds. wall: timed in the wrapper.",
        f"Threads: OMP/MKL/OpenBLAS_NUM_THREADS={r.args.threads} in the child (torch takes its "
        "thread count from it).",
        f"Model: DCTRReweighter() defaults (3x50 SiLU), one epoch on {r.args.n_train:,} "
        f"events, saved with skhep_reweight.save. Inputs: N(0, 1) float32 in each column, "
        f"chunks of {WRITE_CHUNK:,} events; output: one float64 weight per event.",
        f"Machine: {machine_line(r.info)}.",
    ]
    return "\n".join(f"- {item}" for item in items)


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="apply's --chunk-size (default: its own)"
    )
    parser.add_argument(
        "--split",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time each stage of the loop at the smaller size (default: on)",
    )
    parser.add_argument(
        "--tmp-dir", type=Path, default=None, help="folder of the temporary input files"
    )


def _check_arguments(args, parser) -> None:
    if args.chunk_size is not None and args.chunk_size < 1:
        parser.error("--chunk-size must be positive")


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"parquet": _section("parquet"), "root": _section("root")},
        argv,
        name="apply_throughput",
        title="skhep-reweight apply: throughput and peak memory",
        sizes=SIZES,
        add_arguments=_add_arguments,
        check_arguments=_check_arguments,
        before=_before,
        notes=notes,
        constants={"n_features": N_FEATURES, "write_chunk": WRITE_CHUNK, "floor": FLOOR_EVENTS},
    )


if __name__ == "__main__":
    raise SystemExit(main())
