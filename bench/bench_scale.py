"""Scale: a grid search on joblib's backends and a Dask cluster, and training from files.

Two sections:

* ``grid``: a 16-point grid search (``GridSearchCV``, 2 folds: 32 fits and one refit) of
  ``DCTRReweighter`` on the 10-D correlated Gaussians, ``--n-grid`` events a class, every fit
  ``--grid-epochs`` epochs on one torch thread. Run three ways with identical results (checked):
  sequential (``n_jobs=None``), joblib's default process backend (loky, ``n_jobs=2``) and
  ``joblib.parallel_backend("dask")`` on a ``distributed.LocalCluster`` of 2 process workers of one
  thread; the workers of both have imported torch and the package before the clock starts (a
  cluster's workers are started once and kept). Then what the same graph needs on N workers: the
  number of tasks, the mean time of one fit (sequential time / 33) and the scheduler's overhead per
  task, measured by submitting ``--n-noop`` empty tasks to the same cluster (round trip per task,
  in sequence and in bulk). The time on N workers is estimated as ceil(32 / N) fits + the refit +
  the overhead.
* ``stream``: ``--n-stream`` events a class of a 5-D Gaussian pair (target shifted by 0.3 in
  every feature, exact weights known) written to two parquet files in row groups of 10^4, then
  ``DCTRReweighter(max_epochs=--stream-epochs, batch_size=8192, early_stopping=False)`` trained
  (a) from the files (``io.EventSource``, chunks of 10^5) and (b) in memory on the same events
  read at once, each in its own process: wall time, time per epoch, peak resident memory
  (``ru_maxrss``) and the closure (median |w / w_exact - 1| on 10^5 fresh source events).

Run ``python bench/bench_scale.py --help`` for the options.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from _common import Run, Size, markdown_table, run

SIZES = {
    "n_grid": Size("events a class in the grid search", 2000, 100_000, 100_000),
    "grid_epochs": Size("epochs of every grid-search fit", 1, 10, 10),
    "n_noop": Size("empty tasks timed on the cluster", 100, 1000, 1000),
    "n_stream": Size("events a class trained from files", 200_000, 5_000_000, 5_000_000),
    "stream_epochs": Size("epochs of the streamed and in-memory fits", 1, 2, 5),
}

GRID = {
    "hidden_layer_sizes": [(32,), (64, 64), (50, 50, 50), (128, 128)],
    "learning_rate": [3e-4, 1e-3, 3e-3, 1e-2],
}


def _grid_problem(r: Run):
    from skhep_reweight.datasets import make_correlated_gaussians

    data = make_correlated_gaussians(r.args.n_grid, n_features=10, random_state=0)
    return data.X, data.y


def _search(n_jobs, epochs):
    from sklearn.model_selection import GridSearchCV

    from skhep_reweight import DCTRReweighter

    base = DCTRReweighter(max_epochs=epochs, device="cpu", random_state=0)
    return GridSearchCV(base, GRID, cv=2, n_jobs=n_jobs)


def _noop(i: int) -> int:
    return i


def _warm(i: int = 0) -> int:
    """Import what a fit imports, so that no timed task pays a worker's start."""
    import torch  # noqa: F401

    import skhep_reweight.reweight  # noqa: F401

    return i


def _grid(r: Run) -> tuple[dict, str]:
    import joblib
    from distributed import Client, LocalCluster

    X, y = _grid_problem(r)
    epochs = r.args.grid_epochs
    results = {}
    start = time.perf_counter()
    sequential = _search(None, epochs).fit(X, y)
    results["sequential"] = time.perf_counter() - start
    print(f"sequential {results['sequential']:.1f} s", flush=True)
    joblib.Parallel(n_jobs=2)(joblib.delayed(_warm)(i) for i in range(2))  # start the workers
    start = time.perf_counter()
    loky = _search(2, epochs).fit(X, y)
    results["loky, n_jobs=2"] = time.perf_counter() - start
    print(f"loky {results['loky, n_jobs=2']:.1f} s", flush=True)
    import dask

    no_trim = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()}
    no_trim.pop("MALLOC_TRIM_THRESHOLD_", None)
    for label, environ in (
        ("dask LocalCluster, 2 workers", None),
        ("the same without MALLOC_TRIM_THRESHOLD_", no_trim),
    ):
        settings = {} if environ is None else {"distributed.nanny.pre-spawn-environ": environ}
        with (
            dask.config.set(settings),
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(_warm)
            start = time.perf_counter()
            with joblib.parallel_backend("dask"):
                spread = _search(-1, epochs).fit(X, y)
            results[label] = time.perf_counter() - start
            print(f"{label} {results[label]:.1f} s", flush=True)
            if environ is None:
                client.submit(_noop, -1).result()  # warm
                start = time.perf_counter()
                for i in range(r.args.n_noop):
                    client.submit(_noop, i, pure=False).result()
                round_trip = (time.perf_counter() - start) / r.args.n_noop
                start = time.perf_counter()
                client.gather(client.map(_noop, range(r.args.n_noop), pure=False))
                bulk = (time.perf_counter() - start) / r.args.n_noop
    scores = [s.cv_results_["mean_test_score"] for s in (sequential, loky, spread)]
    identical = bool(np.array_equal(scores[0], scores[1]) and np.array_equal(scores[0], scores[2]))
    n_tasks = len(sequential.cv_results_["params"]) * 2
    per_fit = results["sequential"] / (n_tasks + 1)
    estimates = {
        n: per_fit * (math.ceil(n_tasks / n) + 1) + bulk * n_tasks for n in (2, 8, 32, 100)
    }
    rows = [
        [name, f"{seconds:.1f}", f"{results['sequential'] / seconds:.2f}"]
        for name, seconds in results.items()
    ]
    table = markdown_table(
        ["backend", "wall [s]", "speed-up"],
        rows,
        f"16-point grid, 2 folds ({n_tasks} fits + 1 refit), {r.args.n_grid} events a class, "
        f"{r.args.grid_epochs} epochs a fit; cv_results_ identical on all three: {identical}.",
    )
    rows = [[str(n), f"{t:.1f}"] for n, t in estimates.items()]
    table += "\n\n" + markdown_table(
        ["workers", "estimated wall [s]"],
        rows,
        f"One fit {per_fit:.2f} s (sequential / {n_tasks + 1}); the scheduler's overhead per "
        f"task {round_trip * 1e3:.1f} ms one at a time (submit and wait), {bulk * 1e3:.2f} ms in "
        f"bulk ({r.args.n_noop} empty tasks). Estimate: ceil({n_tasks} / N) fits, the refit, "
        "and the bulk overhead of every task.",
    )
    return {
        "wall_s": results,
        "identical": identical,
        "n_tasks": n_tasks,
        "per_fit_s": per_fit,
        "overhead_round_trip_s": round_trip,
        "overhead_bulk_s": bulk,
        "estimates_s": estimates,
    }, table


_WRITE = textwrap.dedent(
    """
    import sys, pathlib
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    folder, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    rng = np.random.RandomState(0)
    for name, shift in (("source", 0.0), ("target", 0.3)):
        writer = None
        for start in range(0, n, 500_000):
            X = rng.normal(shift, 1.0, size=(min(500_000, n - start), 5))
            table = pa.table({f"x{j}": X[:, j] for j in range(5)})
            writer = writer or pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
            writer.write_table(table, row_group_size=10_000)
        writer.close()
    """
)

_FIT = textwrap.dedent(
    """
    import json, resource, sys, time, pathlib
    import numpy as np, torch
    torch.set_num_threads(int(sys.argv[4]))
    from skhep_reweight import DCTRReweighter
    from skhep_reweight.io import EventSource, read_events
    folder, mode, epochs = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    columns = [f"x{j}" for j in range(5)]
    model = DCTRReweighter(max_epochs=epochs, batch_size=8192, early_stopping=False,
                           random_state=0, device="cpu")
    start = time.perf_counter()
    if mode == "files":
        source = EventSource(folder / "source.parquet", columns, chunk_size=100_000)
        target = EventSource(folder / "target.parquet", columns, chunk_size=100_000)
        model.fit_samples(source, target)
    else:
        source, _ = read_events(folder / "source.parquet", columns)
        target, _ = read_events(folder / "target.parquet", columns)
        model.fit_samples(source, target)
    seconds = time.perf_counter() - start
    X = np.random.RandomState(7).normal(0.0, 1.0, size=(100_000, 5))
    exact = np.exp(0.3 * X.sum(axis=1) - 5 * 0.3**2 / 2)
    error = float(np.median(np.abs(model.predict_weights(X) / exact - 1)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "median_error": error,
                      "epochs": int(model.n_iter_)}))
    """
)


def _stream(r: Run) -> tuple[dict, str]:
    n = r.args.n_stream
    folder = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    subprocess.run([sys.executable, "-c", _WRITE, str(folder), str(n)], check=True)
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    results = {}
    for mode in ("files", "memory"):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _FIT,
                str(folder),
                mode,
                str(r.args.stream_epochs),
                str(r.args.threads or 2),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        print(mode, results[mode], flush=True)
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    rows = [
        [
            "io.EventSource (chunks of 10^5)" if mode == "files" else "in memory (read_events)",
            f"{x['seconds']:.0f}",
            f"{x['seconds'] / x['epochs']:.0f}",
            f"{x['peak_mib']:.0f}",
            f"{x['median_error']:.4f}",
        ]
        for mode, x in results.items()
    ]
    table = markdown_table(
        ["training", "wall [s]", "per epoch [s]", "peak memory [MiB]", "median |w/w_exact - 1|"],
        rows,
        f"{n} events a class, 5 features ({size:.0f} MiB of parquet), "
        f"{r.args.stream_epochs} epochs, batch 8192, no early stopping; the wall time of the "
        "files includes the first pass and the clipped-count pass.",
    )
    return {"n_per_class": n, "parquet_mib": size, "runs": results}, table


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"grid": _grid, "stream": _stream},
        argv,
        name="scale",
        title="Scale: a grid search on a Dask cluster, training from files",
        sizes=SIZES,
        threads=1,
    )


if __name__ == "__main__":
    raise SystemExit(main())
