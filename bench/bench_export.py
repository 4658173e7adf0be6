"""Deployment: onnxruntime against predict_weights, and the size of each model file.

A DCTRReweighter with the default network (three hidden layers of 50, SiLU) is fitted briefly on
the Gaussian example (the numbers below do not depend on how well it is trained), exported with
``skhep_reweight.export.to_onnx`` and saved with ``skhep_reweight.save``. Two sections:

* ``throughput``: on the same ``n`` events (default 10^6), the median of ``--repeats`` calls after
  one warm-up of ``DCTRReweighter.predict_weights(X)`` (float64 input) and of an onnxruntime
  session on the ONNX file (float32 input, ``--threads`` intra-op threads, default 2), with the
  largest relative difference of the two weights;
* ``sizes``: the bytes of the ONNX file, of the ``save`` file and of ``pickle.dumps``.

Run ``python bench/bench_export.py --help`` for the options.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
from _common import Run, Size, markdown_table, median, run, timed

import skhep_reweight
from skhep_reweight import DCTRReweighter
from skhep_reweight.datasets import make_gaussian_reweighting
from skhep_reweight.export import to_onnx

SIZES = {
    "n": Size("events per predict call", 20_000, 1_000_000, 10_000_000),
    "n_train": Size("events of the brief training (both classes)", 4_000, 40_000, 40_000),
    "repeats": Size("timed calls of each kind; the median is reported", 2, 7, 7),
}


def _model(r: Run) -> DCTRReweighter:
    if "model" not in r.state:
        per_class = r.args.n_train // 2
        train = make_gaussian_reweighting(per_class, random_state=r.args.random_state)
        r.state["model"] = DCTRReweighter(
            max_epochs=1, early_stopping=False, device="cpu", random_state=r.args.random_state
        ).fit(train.X, train.y)
        r.state["folder"] = Path(tempfile.mkdtemp())
        r.state["onnx"] = to_onnx(r.state["model"], r.state["folder"] / "reweighter.onnx")
    return r.state["model"]


def _throughput(r: Run) -> tuple[dict, str]:
    import onnxruntime

    model = _model(r)
    X = make_gaussian_reweighting(-(-r.args.n // 2), random_state=r.args.random_state + 1).X
    X = np.ascontiguousarray(X[: r.args.n])
    X32 = X.astype(np.float32)
    options = onnxruntime.SessionOptions()
    if r.args.threads:
        options.intra_op_num_threads = r.args.threads
        options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(r.state["onnx"]), options, providers=["CPUExecutionProvider"]
    )
    cases = [
        ("DCTRReweighter.predict_weights(X)", lambda: model.predict_weights(X)),
        ("onnxruntime session.run (float32)", lambda: session.run(["weight"], {"X": X32})[0]),
    ]
    results, outputs = [], []
    for name, fn in cases:
        outputs.append(np.asarray(fn(), dtype=np.float64))  # warm-up
        times = [timed(fn)[1] for _ in range(r.args.repeats)]
        t = median(times)
        results.append({"case": name, "median_s": t, "events_per_s": r.args.n / t})
        print(f"{name:<40} {t:.3f} s  {r.args.n / t:,.0f} events/s", flush=True)
    difference = float(np.max(np.abs(outputs[1] / outputs[0] - 1.0)))
    rows = [[x["case"], f"{x['median_s']:.3f}", f"{x['events_per_s'] / 1e6:.2f}"] for x in results]
    caption = (
        f"{r.args.n:,} events, default network, median of {r.args.repeats} calls after a "
        f"warm-up; largest relative difference of the weights {difference:.2g}."
    )
    table = markdown_table(["call", "median [s]", "10^6 events/s"], rows, caption)
    return {"n_events": r.args.n, "max_relative_difference": difference, "results": results}, (
        table
    )


def _sizes(r: Run) -> tuple[dict, str]:
    model = _model(r)
    saved = skhep_reweight.save(model, r.state["folder"] / "reweighter.skhep")
    sizes = {
        "onnx_bytes": r.state["onnx"].stat().st_size,
        "save_bytes": saved.stat().st_size,
        "pickle_bytes": len(pickle.dumps(model)),
    }
    rows = [[key.removesuffix("_bytes"), f"{value:,}"] for key, value in sizes.items()]
    caption = "The same fitted DCTRReweighter (default network) in each format."
    return sizes, markdown_table(["format", "bytes"], rows, caption)


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"throughput": _throughput, "sizes": _sizes},
        argv,
        name="export",
        title="Deployment: ONNX and the safe save format",
        sizes=SIZES,
    )


if __name__ == "__main__":
    raise SystemExit(main())
