"""The command line against an equivalent hep_ml script: ROOT files in, weights out, 10-D.

A 10-D Gaussian pair with event weights on both sides and a known exact density ratio is written
to ROOT files, and the same training events and the same held-out events go through:

* ``skhep-reweight fit config.toml`` (``DCTRReweighter`` with its defaults inside 2 folds) and
  ``skhep-reweight apply MODEL test_source.root -o weights.root --weight w``;
* a hep_ml script that does the same by hand: it reads the ROOT files with uproot, fits
  ``hep_ml.reweight.GBReweighter``, plain or inside
  ``hep_ml.reweight.FoldingReweighter(n_folds=2)``, pickles it, and in a second run reads the
  held-out source, predicts its weights and writes them with ``skhep_reweight.io.write_weights``.

Every fit and every apply is a fresh Python process (``subprocess``), timed by wall clock, so
that both sides pay for their imports and their file input and output. The weights written for
the held-out source are then read back and judged against the held-out target:

* the two-sample AUC (``metrics.classifier_two_sample_auc``, the same ``random_state`` for every
  row) with the generator weights alone ("before") and with the exact weights as references;
* the Kish effective sample size over n;
* the mean and median of ``|w / w_exact - 1|`` over the bulk of the held-out source (events whose
  exact ratio lies between its 2.5 % and 97.5 % quantiles), both first normalized.

The problem: the source is ``make_correlated_gaussians(n_features=10)``'s source N(0, S), with a
generator weight uniform in [0.5, 1.5] per event, independent of x; the target events are drawn
from N(m, D) and carry the weight t(x) = exp(a.(x - m) - a.D.a / 2), part of the target's
definition: the weighted target is N(m + D a, D), whose ratio to N(0, S) is exact. a has length
``TILT`` = 0.3 in D's metric (the target weights scatter by about 30 %). A tool that ignored the
target weights would learn the wrong ratio.

``n`` is 10^5 events per sample by default (as many again held out), 10^6 with ``--full`` and
2000 with ``--quick`` (at most 2 epochs, 5 trees: a smoke test). Needs hep_ml, uproot and
pandas: ``pip install ".[bench,root]"``.

Run ``python bench/bench_cli_vs_hep_ml.py --help`` for the options.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import Run, Size, machine_line, markdown_table, run

import skhep_reweight
from skhep_reweight.datasets import gaussian_density_ratio, make_correlated_gaussians
from skhep_reweight.io import read_events
from skhep_reweight.metrics import classifier_two_sample_auc, effective_sample_size

SIZES = {
    "n": Size("training events per sample; as many again are held out", 2_000, 100_000, 1_000_000),
    "max_epochs": Size("cap on DCTRReweighter's epochs", 2, None, None),
    "n_estimators": Size("trees of each GBReweighter", 5, 200, 200),
}
MIN_N = 1_000

N_FEATURES = 10
FEATURES = [f"x{i}" for i in range(N_FEATURES)]
WEIGHT = "w"
TREE = "Events"
N_FOLDS = 2
GENERATOR_WEIGHT_RANGE = (0.5, 1.5)
TILT = 0.3  # length of the target's weight tilt a in the target covariance's metric
BULK_QUANTILES = (0.025, 0.975)
ROOT_CHUNK = 100_000  # events per tree.extend when the inputs are written

# hep_ml's GBReweighter as in its reweighting demo (notebooks/DemoReweighting.ipynb), with the
# number of trees from --n-estimators and gb_args' random_state from --random-state.
HEP_ML_SETTINGS = {
    "learning_rate": 0.1,
    "max_depth": 3,
    "min_samples_leaf": 1000,
    "gb_args": {"subsample": 0.4},
}

HEP_ML_MISSING = (
    "this benchmark needs hep_ml, uproot and pandas; install them with\n"
    '    pip install ".[bench,root]"    (from the repository root)'
)

# The hand-written hep_ml workflow, run as its own process (fit, then apply), as a user of
# hep_ml would write it. It is written to the temporary folder next to the ROOT files.
HEP_ML_SCRIPT = '''\
"""hep_ml's GBReweighter on ROOT files: fit (pickle the model) or apply (write the weights)."""
import json
import pickle
import sys
import time

import numpy as np
import uproot
from hep_ml.reweight import FoldingReweighter, GBReweighter

from skhep_reweight.io import write_weights


def read(path, columns, weight, tree):
    with uproot.open(path) as file:
        arrays = file[tree].arrays(columns + [weight], library="np")
    return np.column_stack([arrays[c] for c in columns]), arrays[weight]


def main():
    spec = json.loads(open(sys.argv[1]).read())
    mode = sys.argv[2]
    columns, weight, tree = spec["columns"], spec["weight"], spec["tree"]
    if mode == "fit":
        source, source_weight = read(spec["train_source"], columns, weight, tree)
        target, target_weight = read(spec["train_target"], columns, weight, tree)
        base = GBReweighter(**spec["params"])
        if spec["folding"]:
            reweighter = FoldingReweighter(
                base, n_folds=spec["n_folds"], random_state=spec["random_state"], verbose=False
            )
        else:
            reweighter = base
        start = time.perf_counter()
        reweighter.fit(source, target, source_weight, target_weight)
        seconds = time.perf_counter() - start
        if spec["folding"]:  # out-of-fold weights of the training source, as the CLI writes
            oof = reweighter.predict_weights(source, original_weight=source_weight)
            write_weights(spec["oof_output"], oof, name="weight", tree=tree)
        with open(spec["model"], "wb") as stream:
            pickle.dump(reweighter, stream)
    else:
        with open(spec["model"], "rb") as stream:
            reweighter = pickle.load(stream)
        X, source_weight = read(spec["input"], columns, weight, tree)
        start = time.perf_counter()
        if spec["folding"]:  # new events: hep_ml's documented mean over the folds
            weights = reweighter.predict_weights(
                X, original_weight=source_weight, vote_function=lambda w: np.mean(w, axis=0)
            )
        else:
            weights = reweighter.predict_weights(X, original_weight=source_weight)
        seconds = time.perf_counter() - start
        write_weights(spec["output"], weights, name="weight", tree=tree)
    print(json.dumps({"seconds": seconds}))


main()
'''


# ---------------------------------------------------------------------------- the problem
def make_problem(n: int, random_state: int) -> dict:
    """2n events per sample (the first n train, the last n are held out), their weights and the
    exact ratio of the weighted target to the weighted source at the held-out source."""
    data = make_correlated_gaussians(2 * n, N_FEATURES, random_state=random_state)
    source, target = data.X[data.y == 0], data.X[data.y == 1]
    rng = np.random.RandomState(random_state + 1)
    direction = rng.normal(size=N_FEATURES)
    direction /= np.linalg.norm(direction)
    chol = np.linalg.cholesky(data.target_cov)  # D = L L^T
    tilt = TILT * np.linalg.solve(chol.T, direction)  # a = TILT L^-T v, so a.D.a = TILT^2
    target_weight = np.exp((target - data.target_mean) @ tilt - 0.5 * TILT**2)
    weighted_target_mean = data.target_mean + data.target_cov @ tilt
    source_weight = rng.uniform(*GENERATOR_WEIGHT_RANGE, size=len(source))
    exact = gaussian_density_ratio(
        source[n:], data.source_mean, data.source_cov, weighted_target_mean, data.target_cov
    )
    return {
        "source_train": source[:n],
        "source_weight_train": source_weight[:n],
        "target_train": target[:n],
        "target_weight_train": target_weight[:n],
        "source_test": source[n:],
        "source_weight_test": source_weight[n:],
        "target_test": target[n:],
        "target_weight_test": target_weight[n:],
        "exact_ratio_test": exact,
    }


def write_root(path: Path, X: np.ndarray, weight: np.ndarray) -> None:
    """A TTree (``mktree`` + ``extend``, not an RNTuple) of the features and the weight."""
    import uproot

    branches = {name: np.float64 for name in [*FEATURES, WEIGHT]}
    with uproot.recreate(path) as file:
        tree = file.mktree(TREE, branches)
        for start in range(0, len(X), ROOT_CHUNK):
            chunk = {name: X[start : start + ROOT_CHUNK, j] for j, name in enumerate(FEATURES)}
            chunk[WEIGHT] = weight[start : start + ROOT_CHUNK]
            tree.extend(chunk)


def config_text(args, device: str) -> str:
    params = {"random_state": args.random_state, "device": device}
    if args.max_epochs:
        params["max_epochs"] = args.max_epochs
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
    columns = ", ".join(json.dumps(c) for c in FEATURES)
    return f"""\
[source]
path = "train_source.root"
tree = "{TREE}"
weight = "{WEIGHT}"
[target]
path = "train_target.root"
tree = "{TREE}"
weight = "{WEIGHT}"
[features]
columns = [{columns}]
[estimator]
name = "DCTRReweighter"
params = {{ {inline} }}
folds = {N_FOLDS}
[validation]
random_state = {args.random_state}
[output]
model = "model.skrw"
report = "report"
"""


# ---------------------------------------------------------------------------- processes
def child_environment(threads: int) -> dict:
    """This environment, with the package this script imports first on the path and the
    thread count of --threads for torch, OpenMP and BLAS in the child."""
    env = dict(os.environ, MPLBACKEND="Agg")
    package_root = str(Path(skhep_reweight.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    return env


def run_process(command: list[str], folder: Path, env: dict) -> tuple[float, str]:
    """Run a command in ``folder``; its wall-clock seconds and its standard output."""
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed (exit status {completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}"
        )
    return seconds, completed.stdout


def _number(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else None


def run_cli(folder: Path, env: dict) -> dict:
    cli = [sys.executable, "-m", "skhep_reweight._cli"]
    fit_s, fit_out = run_process([*cli, "fit", "config.toml", "--quiet"], folder, env)
    apply_command = [
        *cli, "apply", "model.skrw", "test_source.root", "-o", "weights_cli.root",
        "--tree", TREE, "--weight", WEIGHT, "--quiet",
    ]  # fmt: skip
    apply_s, apply_out = run_process(apply_command, folder, env)
    return {
        "fit_s": fit_s,
        "train_s": _number(r"fitted in ([0-9.]+) s", fit_out),
        "apply_s": apply_s,
        "predict_s": _number(r"weighted in ([0-9.]+) s", apply_out),
        "weights": folder / "weights_cli.root",
    }


def run_hep_ml(folder: Path, env: dict, args, folding: bool) -> dict:
    tag = "folding" if folding else "plain"
    params = {**HEP_ML_SETTINGS, "n_estimators": args.n_estimators}
    params["gb_args"] = {**params["gb_args"], "random_state": args.random_state}
    spec = {
        "columns": FEATURES,
        "weight": WEIGHT,
        "tree": TREE,
        "train_source": "train_source.root",
        "train_target": "train_target.root",
        "input": "test_source.root",
        "model": f"hep_ml_{tag}.pkl",
        "output": f"weights_hep_ml_{tag}.root",
        "oof_output": f"hep_ml_{tag}_oof_weights.root",
        "folding": folding,
        "n_folds": N_FOLDS,
        "random_state": args.random_state,
        "params": params,
    }
    (folder / f"hep_ml_{tag}.json").write_text(json.dumps(spec))
    script = [sys.executable, "hep_ml_reweight.py", f"hep_ml_{tag}.json"]
    fit_s, fit_out = run_process([*script, "fit"], folder, env)
    apply_s, apply_out = run_process([*script, "apply"], folder, env)
    return {
        "fit_s": fit_s,
        "train_s": json.loads(fit_out.strip().splitlines()[-1])["seconds"],
        "apply_s": apply_s,
        "predict_s": json.loads(apply_out.strip().splitlines()[-1])["seconds"],
        "weights": folder / spec["output"],
    }


# ---------------------------------------------------------------------------- metrics
def evaluate(weights: np.ndarray, problem: dict, mask: np.ndarray, random_state: int) -> dict:
    """Quality of the held-out source's final weights (generator weight times ratio)."""
    g = problem["source_weight_test"]
    raw_mean = float(np.sum(weights) / np.sum(g))  # the learned ratio's g-weighted mean
    w = weights / raw_mean  # normalized: sum w = sum g
    exact = g * problem["exact_ratio_test"]
    exact = exact * np.sum(g) / np.sum(exact)
    rel = np.abs(w[mask] / exact[mask] - 1.0)
    auc = classifier_two_sample_auc(
        problem["source_test"],
        problem["target_test"],
        source_weight=w,
        target_weight=problem["target_weight_test"],
        random_state=random_state,
    )
    return {
        "auc": float(auc),
        "ess_fraction": effective_sample_size(w) / len(w),
        "mean_rel_error": float(np.mean(rel)),
        "median_rel_error": float(np.median(rel)),
        "max_weight": float(w.max() / np.mean(w)),
        "raw_mean_ratio": raw_mean,
    }


def _seconds(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def table_cells(row: dict) -> list[str]:
    total = None if row["fit_s"] is None else row["fit_s"] + row["apply_s"]
    return [
        row["method"],
        _seconds(row["fit_s"]),
        _seconds(row["train_s"]),
        _seconds(row["apply_s"]),
        _seconds(row["predict_s"]),
        _seconds(total),
        f"{row['auc']:.4f}",
        f"{row['ess_fraction']:.3f}",
        f"{row['mean_rel_error']:.4f}",
        f"{row['median_rel_error']:.4f}",
        f"{row['max_weight']:.3g}",
        f"{row['raw_mean_ratio']:.3g}",
    ]


HEADERS = [
    "method",
    "fit wall [s]",
    "of which training [s]",
    "apply wall [s]",
    "of which predict [s]",
    "fit + apply [s]",
    "AUC",
    "ESS / n",
    "mean abs(w/w_exact - 1)",
    "median",
    "max w / mean w",
    "raw mean ratio",
]


def _section(r: Run) -> tuple[dict, str]:
    args = r.args
    n = args.n
    folder = Path(tempfile.mkdtemp(prefix="skhep_cli_vs_hep_ml_"))
    try:
        start = time.perf_counter()
        problem = make_problem(n, args.random_state)
        write_root(folder / "train_source.root", problem["source_train"],
                   problem["source_weight_train"])  # fmt: skip
        write_root(folder / "train_target.root", problem["target_train"],
                   problem["target_weight_train"])  # fmt: skip
        write_root(folder / "test_source.root", problem["source_test"],
                   problem["source_weight_test"])  # fmt: skip
        (folder / "config.toml").write_text(config_text(args, r.device))
        (folder / "hep_ml_reweight.py").write_text(HEP_ML_SCRIPT)
        print(f"inputs written in {time.perf_counter() - start:.1f} s to {folder}", flush=True)
        low, high = np.quantile(problem["exact_ratio_test"], BULK_QUANTILES)
        mask = (problem["exact_ratio_test"] >= low) & (problem["exact_ratio_test"] <= high)
        env = child_environment(args.threads)
        g = problem["source_weight_test"]
        none = {"fit_s": None, "train_s": None, "apply_s": None, "predict_s": None}
        references = [
            ("none (generator weights only)", g),
            ("exact weights", g * problem["exact_ratio_test"]),
        ]
        rows = []
        for name, weights in references:
            rows.append({"method": name, **none, **evaluate(weights, problem, mask,
                                                            args.random_state)})  # fmt: skip
            print(f"  {name:<44} AUC {rows[-1]['auc']:.4f}", flush=True)
        runs = [(f"skhep-reweight fit + apply ({N_FOLDS} folds)", lambda: run_cli(folder, env))]
        if not args.skip_hep_ml:
            runs += [
                ("hep_ml GBReweighter", lambda: run_hep_ml(folder, env, args, False)),
                (f"hep_ml FoldingReweighter({N_FOLDS} folds)",
                 lambda: run_hep_ml(folder, env, args, True)),
            ]  # fmt: skip
        for name, method in runs:
            timing = method()
            weights_path = timing.pop("weights")
            weights = read_events(weights_path, ["weight"], tree=TREE)[0][:, 0]
            if len(weights) != n:
                raise SystemExit(f"{weights_path} holds {len(weights)} weights, expected {n}")
            row = {"method": name, **timing, **evaluate(weights, problem, mask, args.random_state)}
            rows.append(row)
            print(f"  {name:<44} {' | '.join(table_cells(row)[1:])}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    caption = (
        f"10-D correlated Gaussians with event weights, n = {n:,} training events per sample "
        f"({N_FOLDS} folds where stated), judged on {n:,} held-out source events against "
        f"{n:,} held-out target events. Every process is a fresh Python (imports, reading and "
        f"writing the ROOT files included). Errors over the {mask.sum():,} held-out source "
        f"events whose exact ratio lies between its {BULK_QUANTILES[0]:.1%} and "
        f"{BULK_QUANTILES[1]:.1%} quantiles."
    )
    table = markdown_table(HEADERS, [table_cells(row) for row in rows], caption)
    return {"n_per_sample": n, "n_bulk": int(mask.sum()), "rows": rows}, (
        f"## 10-D Gaussians from ROOT files\n\n{table}"
    )


def notes(r: Run) -> str:
    settings = {**HEP_ML_SETTINGS, "n_estimators": r.args.n_estimators}
    epochs = f", max_epochs={r.args.max_epochs}" if r.args.max_epochs else ""
    items = [
        "fit wall / apply wall: wall-clock seconds of the whole process (interpreter start, "
        "imports, reading the ROOT files, training or predicting, writing; for the command line "
        "also the validation report with its figures, and for both folded methods the "
        "out-of-fold weights of the training source). 'of which training' and 'of which "
        "predict' are the times the process reports for its own fit and prediction loop "
        "(skhep-reweight's 'fitted in', its apply 'weighted in' which includes reading and "
        "writing in chunks; the hep_ml script's fit() and predict_weights() alone).",
        "AUC: metrics.classifier_two_sample_auc between the held-out source, weighted, and the "
        "held-out target with its weights, random_state the same for every row. 'none' is "
        "the AUC before reweighting; 'exact weights' what a perfect reweighter reaches.",
        "Weights are normalized so that their sum is the sum of the generator weights before "
        "any metric; 'raw mean ratio' is sum(w) / sum(g) before that (DCTRReweighter returns "
        "an estimate of q/p, hep_ml's scale is arbitrary). ESS / n: Kish effective sample size "
        "of the final weights over n. mean / median abs(w/w_exact - 1): over the bulk events, "
        "w_exact = g times the exact ratio.",
        f"skhep-reweight: DCTRReweighter defaults (random_state, device={r.device!r}{epochs}) "
        f"in {N_FOLDS} folds (estimator.folds), folds combined on new events by the geometric "
        "mean of their weights; apply with --weight w and its default chunk size.",
        f"hep_ml: GBReweighter({', '.join(f'{k}={v!r}' for k, v in settings.items())}), "
        "gb_args also given random_state; FoldingReweighter(n_folds=2) combines its folds on "
        "new events with vote_function = mean over the folds (hep_ml's documented choice); "
        "the model is pickled between the two processes.",
        f"Threads: OMP/MKL/OpenBLAS_NUM_THREADS={r.args.threads} in every child process "
        "(torch takes its thread count from it); hep_ml's trees run on one thread.",
        f"Machine: {machine_line(r.info)}.",
    ]
    return "\n".join(f"- {item}" for item in items)


def _before(r: Run) -> None:
    try:
        import pandas  # noqa: F401  (the command line reads into DataFrames)
        import uproot  # noqa: F401

        if not r.args.skip_hep_ml:
            import hep_ml  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"{HEP_ML_MISSING}\n(import error: {exc})") from None


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--skip-hep-ml", action="store_true", help="run the command line only (no hep_ml rows)"
    )


def _check_arguments(args, parser) -> None:
    if args.n < MIN_N:
        parser.error(f"--n must be at least {MIN_N}")


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"gauss10d": _section},
        argv,
        name=lambda args: f"cli_vs_hep_ml_n{args.n}",
        title="skhep-reweight fit/apply vs a hep_ml script, from ROOT files",
        sizes=SIZES,
        add_arguments=_add_arguments,
        check_arguments=_check_arguments,
        before=_before,
        notes=notes,
        constants={
            "hep_ml_settings": HEP_ML_SETTINGS,
            "n_folds": N_FOLDS,
            "tilt": TILT,
            "generator_weight_range": GENERATOR_WEIGHT_RANGE,
            "bulk_quantiles": BULK_QUANTILES,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
