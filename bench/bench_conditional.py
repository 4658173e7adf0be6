"""The three constructions of ConditionalReweighter side by side: single training, ratio of
classifiers, marginal-then-conditional.

Every method is trained on the same n source + n target events (default n = 10^5 per class,
``--n``; ``--full``: 5x10^5, 10^6 events in all) and judged on fresh events against the exact
conditional weights, on three problems, the sections of the script (``--sections``, all by
default):

* ``closure``: ``make_conditional_gaussians`` (x' ~ N(0, 1) -> N(1, 1), residual x - x' ~ N(0, 1)
  -> N(0.2, 1.2^2)); DCTRReweighter on (x, x') is added as the marginal reference.
* ``hole``: the same with no source events at |x'| < 0.5 in training; judged in bins of x' across
  the hole.
* ``interpolation``: ``make_conditional_response`` with truth only at 100 and 200 GeV in training,
  judged at 100, 112.5, ..., 200 GeV. The features are the response x/x' and x' (the form in
  which the conditional log-ratio is linear in x'); ``--raw-features`` adds the same fits on
  (x, x').

Metrics in each bin of x' (on fresh source events at that x'):

* ``L1``: E_p|w - w_exact| / E_p[w_exact], the mean error of the weights relative to their mean
  (w_exact averages to one at every x');
* ``<w>``: the mean learned weight (1 for a conditional reweighter);
* for the interpolation, the weighted mean and width of x/x' against the target's (1.02 and
  1.2/sqrt(x')).

And per method: the fit time (wall clock, CPU unless ``--device``), the epochs run.

``--quick`` trains on 2000 events per class for at most 3 epochs (a smoke test). Run
``python bench/bench_conditional.py --help`` for the options.
"""

from __future__ import annotations

import numpy as np
from _common import Run, Size, markdown_table, run, timed

from skhep_reweight import ConditionalReweighter, DCTRReweighter
from skhep_reweight.datasets import make_conditional_gaussians, make_conditional_response
from skhep_reweight.metrics import weighted_mean_std

SIZES = {
    "n": Size("training events per class", 2_000, 100_000, 500_000),
    "n_test": Size("fresh events per evaluation (half of them source)", 4_000, 200_000, 200_000),
    "max_epochs": Size("cap on every network's epochs", 3, None, None),
}
METHODS = ("joint", "ratio", "marginal_then_conditional")
SHORT = {
    "joint": "joint",
    "ratio": "ratio",
    "marginal_then_conditional": "marg→cond",
    "dctr": "DCTR",
}
HOLE = (-0.5, 0.5)
GAUSSIAN_EDGES = np.arange(-1.5, 2.51, 0.25)
RESPONSE_POINTS = np.arange(100.0, 200.1, 12.5)


def _epochs(rw) -> str:
    nets = [getattr(rw, "net_", None)] + [
        getattr(getattr(rw, name, None), "net_", None)
        for name in ("marginal_reweighter_", "joint_reweighter_", "conditional_reweighter_")
    ]
    return "+".join(str(len(net.history)) for net in nets if net is not None)


def _fit(method, X, y, args, device):
    options = {"device": device, "random_state": args.random_state}
    if args.max_epochs:
        options["max_epochs"] = args.max_epochs
    if method == "dctr":
        rw = DCTRReweighter(**options)
    else:
        rw = ConditionalReweighter([1], method=method, **options)
    rw, seconds = timed(lambda: rw.fit(X, y), device)
    return rw, seconds


def _closure(r: Run) -> tuple[dict, str]:
    result = _gaussian_problem("closure", r.args, r.device, (*METHODS, "dctr"))
    return result, _gaussian_table("closure", result)


def _hole(r: Run) -> tuple[dict, str]:
    result = _gaussian_problem("hole", r.args, r.device, METHODS)
    return result, _gaussian_table("hole", result)


def _interpolation(r: Run) -> tuple[dict, str]:
    results, tables = {}, []
    for raw in (False, True) if r.args.raw_features else (False,):
        key = "raw_features" if raw else "response_features"
        results[key] = _response_problem(r.args, r.device, raw)
        tables.append(_response_table(results[key], raw))
    return results, "\n\n".join(tables)


def _gaussian_problem(name, args, device, methods):
    hole = HOLE if name == "hole" else None
    train = make_conditional_gaussians(args.n, source_hole=hole, random_state=args.random_state)
    test = make_conditional_gaussians(args.n_test, random_state=args.random_state + 1)
    source = test.X[test.y == 0]
    exact = test.weight_function(source)
    index = np.digitize(source[:, 1], GAUSSIAN_EDGES)
    result = {"bins": GAUSSIAN_EDGES.tolist(), "methods": {}}
    for method in methods:
        rw, seconds = _fit(method, train.X, train.y, args, device)
        w = rw.predict_weights(source)
        l1, mean_w = [], []
        for b in range(1, len(GAUSSIAN_EDGES)):
            s = index == b
            l1.append(float(np.mean(np.abs(w[s] - exact[s])) / np.mean(exact[s])))
            mean_w.append(float(np.mean(w[s])))
        result["methods"][method] = {
            "fit_s": seconds,
            "epochs": _epochs(rw),
            "l1": l1,
            "mean_weight": mean_w,
        }
        print(f"{name}: {method} fitted in {seconds:.1f} s", flush=True)
    return result


def _gaussian_table(name, result) -> str:
    methods = list(result["methods"])
    edges = result["bins"]
    headers = (
        ["x' bin"] + [f"{SHORT[m]} L1" for m in methods] + [f"{SHORT[m]} ⟨w⟩" for m in methods]
    )
    rows = []
    for b in range(len(edges) - 1):
        lo, hi = edges[b], edges[b + 1]
        mark = " (hole)" if name == "hole" and HOLE[0] <= lo and hi <= HOLE[1] else ""
        rows.append(
            [f"[{lo:+.2f}, {hi:+.2f}){mark}"]
            + [f"{result['methods'][m]['l1'][b]:.3g}" for m in methods]
            + [f"{result['methods'][m]['mean_weight'][b]:.3g}" for m in methods]
        )
    rows.append(
        ["fit time (epochs)"]
        + [
            f"{result['methods'][m]['fit_s']:.0f} s ({result['methods'][m]['epochs']})"
            for m in methods
        ]
        + [""] * len(methods)
    )
    caption = f"**{name}**"
    if "dctr" in methods:
        caption += (
            " (DCTR learns the joint ratio q(x, x')/p(x, x'): its L1 against the conditional "
            "weights is large by design, its ⟨w⟩ follows q(x')/p(x') = exp(x' - 1/2))"
        )
    return markdown_table(headers, rows, caption=caption)


def _response_problem(args, device, raw):
    train = make_conditional_response(args.n, random_state=args.random_state)

    def features(X):
        return X if raw else np.column_stack([X[:, 0] / X[:, 1], X[:, 1]])

    tests = {}
    for k, e in enumerate(RESPONSE_POINTS):
        test = make_conditional_response(
            args.n_test, truth_values=[e], random_state=args.random_state + 1 + k
        )
        source = test.X[test.y == 0]
        tests[float(e)] = (source, test.weight_function(source), test.response_std(e))
    result = {"points": RESPONSE_POINTS.tolist(), "methods": {}}
    for method in METHODS:
        rw, seconds = _fit(method, features(train.X), train.y, args, device)
        rows = []
        for e, (source, exact, target_std) in tests.items():
            w = rw.predict_weights(features(source))
            mean, std = weighted_mean_std(source[:, :1] / source[:, 1:], w)
            rows.append(
                {
                    "truth": e,
                    "l1": float(np.mean(np.abs(w - exact)) / np.mean(exact)),
                    "mean_weight": float(np.mean(w)),
                    "response_mean": float(mean[0]),
                    "response_std_over_target": float(std[0] / target_std),
                }
            )
        result["methods"][method] = {"fit_s": seconds, "epochs": _epochs(rw), "points": rows}
        label = "(x, x')" if raw else "(x/x', x')"
        print(f"interpolation {label}: {method} in {seconds:.1f} s", flush=True)
    return result


def _response_table(result, raw) -> str:
    methods = list(result["methods"])
    headers = ["x' (GeV)"] + [
        f"{SHORT[m]} {q}" for m in methods for q in ("L1", "⟨w⟩", "mean", "σ/σ_q")
    ]
    rows = []
    for k, e in enumerate(result["points"]):
        seen = " (trained)" if e in (100.0, 200.0) else ""
        row = [f"{e:g}{seen}"]
        for m in methods:
            p = result["methods"][m]["points"][k]
            row += [
                f"{p['l1']:.3f}",
                f"{p['mean_weight']:.3f}",
                f"{p['response_mean']:.4f}",
                f"{p['response_std_over_target']:.3f}",
            ]
        rows.append(row)
    rows.append(
        ["fit time (epochs)"]
        + [
            c
            for m in methods
            for c in (
                f"{result['methods'][m]['fit_s']:.0f} s ({result['methods'][m]['epochs']})",
                "",
                "",
                "",
            )
        ]
    )
    features = "(x, x')" if raw else "(x/x', x')"
    return markdown_table(
        headers,
        rows,
        caption=f"**interpolation**, features {features}; target mean 1.02, σ_q = 1.2/sqrt(x')",
    )


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--raw-features", action="store_true", help="interpolation also on (x, x') directly"
    )


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"closure": _closure, "hole": _hole, "interpolation": _interpolation},
        argv,
        name="conditional",
        title=lambda args: f"ConditionalReweighter methods, n = {args.n} per class",
        sizes=SIZES,
        add_arguments=_add_arguments,
    )


if __name__ == "__main__":
    raise SystemExit(main())
