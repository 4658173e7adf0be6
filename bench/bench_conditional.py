"""The three constructions of ConditionalReweighter side by side: single training, ratio of
classifiers, marginal-then-conditional.

Every method is trained on the same n source + n target events (default n = 10^5 per class,
``--n``; ``--full``: 5x10^5, 10^6 events in all) and judged on fresh events against the exact
conditional weights, on three problems:

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

Run ``python bench/bench_conditional.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import (
    add_common_arguments,
    limit_threads,
    machine_info,
    machine_line,
    markdown_table,
    resolve_device,
    timed,
    write_results,
)

from skhep_reweight import ConditionalReweighter, DCTRReweighter
from skhep_reweight.datasets import make_conditional_gaussians, make_conditional_response
from skhep_reweight.metrics import weighted_mean_std

DEFAULT_N = 100_000
FULL_N = 500_000
N_TEST = 200_000  # fresh source events per evaluation
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
    if method == "dctr":
        rw = DCTRReweighter(device=device, random_state=args.random_state)
    else:
        rw = ConditionalReweighter(
            [1], method=method, device=device, random_state=args.random_state
        )
    rw, seconds = timed(lambda: rw.fit(X, y), device)
    return rw, seconds


def _gaussian_problem(name, args, device, methods):
    hole = HOLE if name == "hole" else None
    train = make_conditional_gaussians(args.n, source_hole=hole, random_state=args.random_state)
    test = make_conditional_gaussians(N_TEST, random_state=args.random_state + 1)
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
            N_TEST, truth_values=[e], random_state=args.random_state + 1 + k
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help=f"events per class ({DEFAULT_N})")
    parser.add_argument("--full", action="store_true", help=f"n = {FULL_N} per class")
    parser.add_argument(
        "--problems",
        nargs="+",
        choices=("closure", "hole", "interpolation"),
        default=["closure", "hole", "interpolation"],
    )
    parser.add_argument(
        "--raw-features", action="store_true", help="interpolation also on (x, x') directly"
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.n is None:
        args.n = FULL_N if args.full else DEFAULT_N
    device = resolve_device(args.device)
    limiter = limit_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    info = machine_info(device)
    start = time.perf_counter()

    payload: dict = {"n_per_class": args.n, "n_test": N_TEST}
    tables = [f"ConditionalReweighter methods, n = {args.n} per class. {machine_line(info)}"]
    for name in args.problems:
        if name == "interpolation":
            for raw in (False, True) if args.raw_features else (False,):
                key = "interpolation_raw" if raw else "interpolation"
                payload[key] = _response_problem(args, device, raw)
                tables.append(_response_table(payload[key], raw))
        else:
            methods = (*METHODS, "dctr") if name == "closure" else METHODS
            payload[name] = _gaussian_problem(name, args, device, methods)
            tables.append(_gaussian_table(name, payload[name]))
    write_results(
        args.output_dir,
        "conditional",
        payload,
        "\n\n".join(tables),
        args=args,
        info=info,
        total_s=time.perf_counter() - start,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
