"""DCTRReweighter against hep_ml's GBReweighter on Gaussian problems with known exact weights.

Every method is trained on the same ``n`` source and ``n`` target events and judged on an
independent held-out sample of the same size drawn from the same two densities:

* the median of ``|w / w_exact - 1|`` over the held-out source events of the bulk (1-D: ``|x| < 2``;
  n-D: events whose exact weight lies between its 2.5 % and 97.5 % quantiles), both weights first
  normalized to mean one over the held-out source sample;
* the two-sample AUC of a fresh classifier (``metrics.classifier_two_sample_auc``) between the
  reweighted held-out source and the held-out target, with the unweighted source ("before") and
  the exact weights as references;
* the Kish effective sample size of the weights divided by ``n``;
* the wall-clock time of ``fit`` and of ``predict_weights`` on the held-out source.

The sections are the problems (``--sections``, all by default): ``gauss1d`` (the 1-D Gaussian
N(0, 1) -> N(1, 1.3^2)), ``corr5d`` and ``corr10d`` (correlated Gaussians). ``n`` is 5x10^4 per
class by default, 2x10^5 with ``--full`` and 10^3 with ``--quick`` (DCTR networks capped at 3
epochs, hep_ml's trees at 5: a smoke test).

hep_ml is an optional dependency: ``pip install ".[bench]"`` (or ``pip install hep_ml``).

Run ``python bench/bench_dctr_vs_hep_ml.py --help`` for the options.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from _common import Run, Size, machine_line, markdown_table, run, timed
from sklearn.ensemble import HistGradientBoostingClassifier

from skhep_reweight import DCTRReweighter
from skhep_reweight.datasets import make_correlated_gaussians, make_gaussian_reweighting
from skhep_reweight.metrics import classifier_two_sample_auc, effective_sample_size

SIZES = {
    "n": Size("events per class, for training and again held out", 1_000, 50_000, 200_000),
    "max_epochs": Size("cap on the epochs of DCTRReweighter()", 3, None, None),
    "n_estimators": Size("cap on the trees of each GBReweighter", 5, None, None),
}
MIN_N = 1_000

# Settings of hep_ml's own reweighting demo (notebooks/DemoReweighting.ipynb).
HEP_ML_DEMO_SETTINGS = {
    "n_estimators": 250,
    "learning_rate": 0.1,
    "max_depth": 3,
    "min_samples_leaf": 1000,
    "gb_args": {"subsample": 0.4},
}

# The gradient-boosted classifier plugged into DCTRReweighter (optional row).
HGB_SETTINGS = {
    "max_iter": 500,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 100,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "n_iter_no_change": 10,
}

# The bulk of the weight distribution where the median error is measured.
BULK_ABS_X_1D = 2.0
BULK_QUANTILES_ND = (0.025, 0.975)

DATASETS = {
    "gauss1d": (
        "1-D Gaussian N(0,1) -> N(1,1.3^2)",
        lambda n, rs: make_gaussian_reweighting(n, random_state=rs),
    ),
    "corr5d": (
        "5-D correlated Gaussians",
        lambda n, rs: make_correlated_gaussians(n, 5, random_state=rs),
    ),
    "corr10d": (
        "10-D correlated Gaussians",
        lambda n, rs: make_correlated_gaussians(n, 10, random_state=rs),
    ),
}

HEP_ML_MISSING = (
    "hep_ml is not installed; it is an optional dependency of the benchmarks. Install it with\n"
    '    pip install ".[bench]"    (from the repository root), or  pip install hep_ml\n'
    "or run only the DCTR rows with --skip-hep-ml."
)


def import_gb_reweighter():
    """hep_ml's GBReweighter, or exit with an explanation when hep_ml is missing."""
    try:
        from hep_ml.reweight import GBReweighter
    except ImportError as exc:
        raise SystemExit(f"{HEP_ML_MISSING}\n(import error: {exc})") from None
    return GBReweighter


def build_methods(args, device: str) -> list[tuple[str, str, Callable]]:
    """(name, api, factory) of every method compared; api is 'dctr' or 'hep_ml'."""
    rs = args.random_state
    epochs = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    trees = {"n_estimators": args.n_estimators} if args.n_estimators else {}
    methods = [
        (
            "DCTRReweighter()",
            "dctr",
            lambda: DCTRReweighter(device=device, random_state=rs, **epochs),
        ),
    ]
    if not args.skip_hgb:
        methods.append(
            (
                "DCTRReweighter(HistGradientBoostingClassifier)",
                "dctr",
                lambda: DCTRReweighter(
                    HistGradientBoostingClassifier(**HGB_SETTINGS, random_state=rs), random_state=rs
                ),
            )
        )
    if not args.skip_hep_ml:
        GBReweighter = import_gb_reweighter()
        methods.append(
            (
                "GBReweighter()",
                "hep_ml",
                lambda: GBReweighter(gb_args={"random_state": rs}, **trees),
            )
        )
        demo = {**HEP_ML_DEMO_SETTINGS, **trees}
        demo["gb_args"] = {**demo["gb_args"], "random_state": rs}
        methods.append(("GBReweighter(demo settings)", "hep_ml", lambda: GBReweighter(**demo)))
    return methods


def split_dataset(key: str, n: int, random_state: int):
    """Draw 2n events per class from one problem; first n train, last n held out."""
    data = DATASETS[key][1](2 * n, random_state)
    source, target = data.X[data.y == 0], data.X[data.y == 1]
    exact = data.exact_weights[data.y == 0]
    return {
        "source_train": source[:n],
        "target_train": target[:n],
        "source_test": source[n:],
        "target_test": target[n:],
        "exact_test": exact[n:],
    }


def bulk_mask(source_test: np.ndarray, exact_test: np.ndarray) -> np.ndarray:
    """Held-out source events where the weight error is measured (see module docstring)."""
    if source_test.shape[1] == 1:
        return np.abs(source_test[:, 0]) < BULK_ABS_X_1D
    low, high = np.quantile(exact_test, BULK_QUANTILES_ND)
    return (exact_test >= low) & (exact_test <= high)


def evaluate(weights: np.ndarray, split: dict, mask: np.ndarray, random_state: int) -> dict:
    """Quality of held-out weights (any normalization; they are rescaled to mean one here)."""
    raw_mean = float(np.mean(weights))
    w = weights / raw_mean
    exact = split["exact_test"] / np.mean(split["exact_test"])
    rel = np.abs(w[mask] / exact[mask] - 1.0)
    # The same error with both weights rescaled to mean one over the bulk only: it isolates the
    # shape of the weights in the bulk from the normalization, which a few wild tail weights
    # can dominate.
    rel_bulk = np.abs(
        (weights[mask] / np.mean(weights[mask]))
        / (split["exact_test"][mask] / np.mean(split["exact_test"][mask]))
        - 1.0
    )
    auc = classifier_two_sample_auc(
        split["source_test"], split["target_test"], source_weight=w, random_state=random_state
    )
    return {
        "raw_mean_weight": raw_mean,
        "median_rel_error": float(np.median(rel)),
        "p90_rel_error": float(np.quantile(rel, 0.9)),
        "median_rel_error_bulk_normalized": float(np.median(rel_bulk)),
        "auc": float(auc),
        "ess_fraction": effective_sample_size(w) / len(w),
        "max_weight": float(w.max()),
    }


def run_dataset(key: str, args, methods, device: str) -> list[dict]:
    n = args.n
    split = split_dataset(key, n, args.random_state)
    mask = bulk_mask(split["source_test"], split["exact_test"])
    rows = []

    def record(name, weights, fit_s=None, predict_s=None):
        row = {"dataset": key, "method": name, "fit_s": fit_s, "predict_s": predict_s}
        row.update(evaluate(weights, split, mask, args.random_state))
        rows.append(row)
        print(f"  {name:<48} {format_row(row)}", flush=True)

    print(f"{DATASETS[key][0]}: n = {n} per class, bulk = {mask.sum()} held-out events", flush=True)
    record("none (before reweighting)", np.ones(n))
    record("exact weights", split["exact_test"])
    for name, api, factory in methods:
        estimator = factory()
        if api == "dctr":
            fit = lambda e=estimator: e.fit_samples(split["source_train"], split["target_train"])  # noqa: E731
        else:
            fit = lambda e=estimator: e.fit(split["source_train"], split["target_train"])  # noqa: E731
        _, fit_s = timed(fit, device)
        weights, predict_s = timed(
            lambda e=estimator: e.predict_weights(split["source_test"]), device
        )
        record(name, np.asarray(weights, dtype=np.float64), fit_s, predict_s)
    return rows


def format_row(row: dict) -> str:
    return " | ".join(table_cells(row)[2:])


def _seconds(x):
    return "—" if x is None else f"{x:.2f}"


def table_cells(row: dict) -> list[str]:
    return [
        row["dataset"],
        row["method"],
        f"{row['median_rel_error']:.4f}",
        f"{row['median_rel_error_bulk_normalized']:.4f}",
        f"{row['auc']:.4f}",
        f"{row['ess_fraction']:.3f}",
        f"{row['max_weight']:.3g}",
        f"{row['raw_mean_weight']:.3g}",
        _seconds(row["fit_s"]),
        _seconds(row["predict_s"]),
    ]


HEADERS = [
    "problem",
    "method",
    "median abs(w/w_exact - 1)",
    "same, bulk-normalized",
    "AUC after",
    "ESS / n",
    "max w",
    "raw mean w",
    "fit [s]",
    "predict [s]",
]


def caption(n: int) -> str:
    return (
        f"Trained on n = {n:,} source + {n:,} target events per problem, evaluated on an "
        f"independent held-out sample of the same size. Every weight (the exact ones included) "
        f"is rescaled to mean 1 over the held-out source before any metric. Median error over "
        f"the held-out source events with |x| < {BULK_ABS_X_1D:g} (1-D) or with an exact "
        f"weight between its {BULK_QUANTILES_ND[0]:.1%} and {BULK_QUANTILES_ND[1]:.1%} "
        f"quantiles (n-D)."
    )


def notes(info: dict) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in HEP_ML_DEMO_SETTINGS.items())
    hgb = ", ".join(f"{k}={v!r}" for k, v in HGB_SETTINGS.items())
    items = [
        "raw mean w: the mean over the held-out source of the weights as predict_weights "
        "returns them. Neither estimator renormalizes: DCTRReweighter returns its estimate of "
        "q/p (mean close to 1 when learned well); hep_ml's GBReweighter returns "
        "exp(decision_function), whose scale is arbitrary (hep_ml leaves normalization to the "
        "user).",
        "AUC after: metrics.classifier_two_sample_auc (a fresh gradient-boosted classifier, 50/50 "
        "split of the held-out events) between the weighted held-out source and the held-out "
        "target. 'none' is the AUC before reweighting; 'exact weights' is what a perfect "
        "reweighter reaches on these events, its distance from 0.5 is the noise of the test. "
        "Where ESS / n is near 0 a handful of events carry all the weight and the AUC says "
        "nothing (it depends on which half of the split they fall in).",
        "same, bulk-normalized: the median error with both weights rescaled to mean 1 over "
        "the bulk events only, so that a few extreme weights outside the bulk do not set the "
        "normalization.",
        "ESS / n: Kish effective sample size (sum w)^2 / sum w^2 over n. max w: the largest "
        "held-out source weight after the rescaling to mean 1.",
        "fit / predict: wall-clock seconds (time.perf_counter) of fit on the training events "
        "and of predict_weights on the n held-out source events.",
        "DCTRReweighter() is the package default (MLP 3x50 SiLU, AdamW, batch 1024, early "
        "stopping on 20 % of the events, at most 100 epochs).",
        f"GBReweighter(demo settings): {settings} (hep_ml's reweighting demo). Both "
        f"GBReweighter rows also get gb_args random_state for reproducibility.",
        f"DCTRReweighter(HistGradientBoostingClassifier): {hgb}.",
        f"Threads: torch and OpenMP limited to {info['torch_threads']}; hep_ml's trees run on "
        f"one thread.",
        f"Machine: {machine_line(info)}.",
    ]
    return "\n".join(f"- {item}" for item in items)


def _section(key: str):
    """The section of one problem: every method on it, one table."""

    def section(r: Run) -> tuple[dict, str]:
        rows = run_dataset(key, r.args, r.state["methods"], r.device)
        table = markdown_table(HEADERS, [table_cells(row) for row in rows], caption(r.args.n))
        return {"n_per_class": r.args.n, "rows": rows}, f"## {DATASETS[key][0]}\n\n{table}"

    return section


def _before(r: Run) -> None:
    r.state["methods"] = build_methods(r.args, r.device)


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--skip-hep-ml", action="store_true", help="run without hep_ml (DCTR rows only)"
    )
    parser.add_argument(
        "--skip-hgb",
        action="store_true",
        help="leave out DCTRReweighter(HistGradientBoostingClassifier)",
    )


def _check_arguments(args, parser) -> None:
    if args.n < MIN_N:
        parser.error(f"--n must be at least {MIN_N}")


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {key: _section(key) for key in DATASETS},
        argv,
        name=lambda args: f"dctr_vs_hep_ml_n{args.n}",
        title="DCTRReweighter vs hep_ml GBReweighter",
        sizes=SIZES,
        add_arguments=_add_arguments,
        check_arguments=_check_arguments,
        before=_before,
        notes=lambda r: notes(r.info),
        constants={"hep_ml_demo_settings": HEP_ML_DEMO_SETTINGS, "hgb_settings": HGB_SETTINGS},
    )


if __name__ == "__main__":
    raise SystemExit(main())
