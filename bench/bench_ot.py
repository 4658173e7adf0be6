"""OTCalibrator's exact discrete and neural maps against POT alone and the parametric floor, on
2-D Gaussians whose optimal map is known in closed form.

Data: ``make_gaussian_transport`` (simulation N(0, S) -> data N((0.5, -0.5), D), with covariances
that differ in scale, correlation and orientation), n simulated + n data events, at n = 10^3,
10^4, 10^5 events per class (``--sizes``). The exact map is T*(x) = mu_d + A (x - mu_s) and the
exact transport cost W2^2 = E|T*(x) - x|^2 (0.9903 with the defaults). Side by side, at every
size, in three sections (``--sections``, all by default):

* ``discrete``: ``OTCalibrator(method="discrete")``, the exact discrete plan (POT's ``ot.emd``),
  its barycentric projection, and the nearest-neighbour rule that moves new events.
* ``POT ot.emd``: POT's solver used directly, as a user without this package would: the squared
  Euclidean cost matrix, ``ot.emd`` on uniform weights (with the estimator's iteration limit,
  ``max(10^5, 50 n^2)``) and the barycentric projection. The time covers exactly these three
  steps. POT gives the map on the fitted simulated events only (no rule for new events), so its
  error is measured on those n events, not on the held-out ones.
* ``neural``: ``OTCalibrator(method="neural", max_epochs=E)``, the gradient of an input-convex
  potential trained with the min-max objective (E = the estimator's default, 100, unless
  ``--max-epochs``).
* ``parametric floor`` (section ``floor``): the closed-form Gaussian map from the sample means
  and covariances of the same n + n events (``gaussian_transport_map``), what any method could
  reach from n events if it knew that the map is linear: its error is the statistical floor at
  that size.

The two discrete rows need the n x n cost matrix and the n x n plan (8 n^2 bytes each: 400 MB
in all at n = 5000, 1.6 GB at n = 10^4) and a network-simplex solve that grows faster than n^2.
They run at every size n <= ``--discrete-max`` (default 5000, the largest size at which
``method="auto"`` picks the discrete solver: 2.5e7 pairs), and at ``--discrete-max`` itself when
a larger size is asked for, so that the default run has discrete rows at 10^3 and 5x10^3; larger
sizes show them as skipped (memory: n^2 cost matrix). ``--full`` sets ``--discrete-max 10000``
(1.6 GB), which adds 10^4; ``--quick`` runs 200 events a class, 2 epochs (a smoke test).

Metrics:

* ``fit s``: wall-clock time of ``fit`` (``time.perf_counter``; CPU unless ``--device``), after
  one untimed tiny fit of each kind (imports, torch set-up); epochs run for the neural map.
* ``|T - T*|``: median and 90 % quantile of the Euclidean distance between the fitted map and the
  exact one, on 10^4 held-out simulated events (``--n-test``; a fresh ``make_gaussian_transport``
  with seed ``random_state + 1``); for POT alone on the n fitted simulated events.
* ``cost``: the estimate of W2^2 (``transport_cost_``; for POT alone sum(plan * cost); for the
  floor the closed-form W2^2 of the sample moments) and its relative error against the exact W2^2.
* ``|T^-1(T*(x)) - x|``: median accuracy of the inverse map (``inverse_transform``) on the
  held-out events moved by the exact map; for the floor its exact matrix inverse.

Run ``python bench/bench_ot.py --help`` for the options.
"""

from __future__ import annotations

import warnings

import numpy as np
from _common import Run, Size, markdown_table, run, timed

from skhep_reweight import OTCalibrator
from skhep_reweight.datasets import gaussian_transport_map, make_gaussian_transport

DISCRETE_MAX = 5_000  # = sqrt of OTCalibrator's own limit for method="auto" (2.5e7 pairs)
DEFAULT_EPOCHS = OTCalibrator().get_params()["max_epochs"]
ALL_SIZES = [1_000, 10_000, 100_000]
SIZES = {
    "sizes": Size("events per class", [200], ALL_SIZES, ALL_SIZES, nargs="+"),
    "discrete_max": Size(
        "largest n of the two discrete rows, which need n x n float64 matrices; also run at "
        "this n when a larger size is asked for",
        200,
        DISCRETE_MAX,
        10_000,
    ),
    "max_epochs": Size("epochs of the neural map", 2, DEFAULT_EPOCHS, DEFAULT_EPOCHS),
    "n_test": Size("held-out simulated events of the map errors", 500, 10_000, 10_000),
}
# The methods of each section.
SECTIONS = {
    "discrete": ("discrete", "POT ot.emd"),
    "neural": ("neural",),
    "floor": ("parametric floor",),
}


# ------------------------------------------------------------------------------------ metrics
def _map_errors(mapped: np.ndarray, exact: np.ndarray) -> dict:
    """Median and 90 % quantile of the Euclidean distance between two sets of mapped points."""
    distance = np.linalg.norm(mapped - exact, axis=1)
    return {
        "error_median": float(np.median(distance)),
        "error_q90": float(np.quantile(distance, 0.9)),
    }


def _inverse_error(inverse, test_sim: np.ndarray, test_moved: np.ndarray) -> float:
    """Median |T^-1(T*(x)) - x| over the held-out simulated events."""
    return float(np.median(np.linalg.norm(inverse(test_moved) - test_sim, axis=1)))


def _record_warnings(caught) -> list[str]:
    """The distinct messages of the warnings caught during a fit (recorded in the results)."""
    return sorted({f"{w.category.__name__}: {w.message}" for w in caught})


# ------------------------------------------------------------------------------------ methods
def _estimator(method: str, args, device: str, seed: int) -> OTCalibrator:
    if method == "discrete":
        return OTCalibrator(method="discrete")
    return OTCalibrator(
        method="neural", random_state=seed, device=device, max_epochs=args.max_epochs
    )


def _fit_estimator(method, args, device, train, test_sim, test_moved) -> dict:
    """Fit OTCalibrator with one method and judge it on the held-out simulated events."""
    estimator = _estimator(method, args, device, args.random_state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, fit_s = timed(lambda: estimator.fit(train.X, train.y), device)
        mapped, transform_s = timed(lambda: estimator.transform(test_sim), device)
        inverse_error = _inverse_error(estimator.inverse_transform, test_sim, test_moved)
    return {
        "fit_s": fit_s,
        "transform_s": transform_s,
        "epochs": len(estimator.net_.history) if method == "neural" else None,
        **_map_errors(mapped, train.transport_map(test_sim)),
        "evaluated_on": "held-out",
        "transport_cost": estimator.transport_cost_,
        "inverse_error_median": inverse_error,
        "warnings": _record_warnings(caught),
    }


def _pot_alone(train) -> dict:
    """POT's exact solver and the barycentric projection, without the estimator around them."""
    import ot

    sim, data = train.X[train.y == 0], train.X[train.y == 1]

    def solve():
        a = np.full(len(sim), 1.0 / len(sim))
        b = np.full(len(data), 1.0 / len(data))
        cost = ot.dist(sim, data, metric="sqeuclidean")
        plan = ot.emd(a, b, cost, numItermax=max(100_000, 50 * cost.size))
        projected = plan @ data / plan.sum(axis=1, keepdims=True)
        return projected, float(np.sum(plan * cost))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (projected, cost), fit_s = timed(solve)
    return {
        "fit_s": fit_s,
        "epochs": None,
        # No rule for new events: the map is known on the fitted simulated events only.
        **_map_errors(projected, train.transport_map(sim)),
        "evaluated_on": "fitted",
        "transport_cost": cost,
        "inverse_error_median": None,
        "warnings": _record_warnings(caught),
    }


def _parametric_floor(train, test_sim, test_moved) -> dict:
    """The closed-form Gaussian map of the sample means and covariances."""
    sim, data = train.X[train.y == 0], train.X[train.y == 1]

    def fit():
        mean_s, mean_d = sim.mean(axis=0), data.mean(axis=0)
        cov_s, cov_d = np.cov(sim, rowvar=False), np.cov(data, rowvar=False)
        A, w2 = gaussian_transport_map(mean_s, cov_s, mean_d, cov_d)
        return mean_s, mean_d, A, w2

    (mean_s, mean_d, A, w2), fit_s = timed(fit)
    A_inv = np.linalg.inv(A)
    mapped = mean_d + (test_sim - mean_s) @ A.T
    return {
        "fit_s": fit_s,
        "epochs": None,
        **_map_errors(mapped, train.transport_map(test_sim)),
        "evaluated_on": "held-out",
        "transport_cost": w2,
        "inverse_error_median": _inverse_error(
            lambda y: mean_s + (y - mean_d) @ A_inv.T, test_sim, test_moved
        ),
        "warnings": [],
    }


# ------------------------------------------------------------------------------------ driver
def _warm_up(device: str) -> None:
    """One tiny fit of each kind before any timing: the first call pays for imports (POT,
    scikit-learn's neighbours) and torch's one-time set-up, which would go to the first row."""
    small = make_gaussian_transport(200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        OTCalibrator(method="discrete").fit(small.X, small.y).transform(small.X[:10])
        OTCalibrator(method="neural", max_epochs=1, device=device, random_state=0).fit(
            small.X, small.y
        ).inverse_transform(small.X[:10])
    _pot_alone(small)


def _sizes(args) -> tuple[list[int], list[int]]:
    """All sizes, and those at which the two discrete rows run (see the module docstring)."""
    discrete = [n for n in args.sizes if n <= args.discrete_max]
    if any(n > args.discrete_max for n in args.sizes) and args.discrete_max not in discrete:
        discrete.append(args.discrete_max)
    return sorted(set(args.sizes) | set(discrete)), sorted(set(discrete))


def _section(name: str):
    """The section of one group of methods: its rows at every size."""

    def section(r: Run) -> tuple[dict, str]:
        args = r.args
        sizes, discrete_sizes = _sizes(args)
        test = make_gaussian_transport(args.n_test, random_state=args.random_state + 1)
        rows = []
        for n in sizes if name == "discrete" else args.sizes:
            rows += _run_size(args, r.device, n, SECTIONS[name], n in discrete_sizes, test)
        r.state["w2_squared"] = test.w2_squared
        result = {"sizes": sizes, "w2_squared": test.w2_squared, "rows": rows}
        return result, f"## {', '.join(SECTIONS[name])}\n\n{_table(rows)}"

    return section


def _run_size(args, device: str, n: int, methods, run_discrete: bool, test) -> list[dict]:
    """The methods of one section at n events per class (discrete ones only when
    run_discrete)."""
    train = make_gaussian_transport(n, random_state=args.random_state)
    test_sim = test.X[test.y == 0]
    test_moved = test.transport_map(test_sim)
    rows = []
    for method in methods:
        row = {"n": n, "method": method, "w2_squared": train.w2_squared}
        if method in SECTIONS["discrete"] and not run_discrete:
            rows.append({**row, "skipped": "memory: n^2 cost matrix"})
            continue
        if method == "POT ot.emd":
            result = _pot_alone(train)
        elif method == "parametric floor":
            result = _parametric_floor(train, test_sim, test_moved)
        else:
            result = _fit_estimator(method, args, device, train, test_sim, test_moved)
        result["cost_relative_error"] = result["transport_cost"] / train.w2_squared - 1
        print(
            f"n={n} {method}: fit {result['fit_s']:.2f} s, "
            f"median |T - T*| {result['error_median']:.4f}",
            flush=True,
        )
        rows.append({**row, **result})
    return rows


def _format(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _table(rows: list[dict]) -> str:
    headers = [
        "n / class",
        "method",
        "fit s",
        "epochs",
        "median \\|T - T*\\|",
        "q90 \\|T - T*\\|",
        "on",
        "cost",
        "cost / W2² - 1",
        "median \\|T⁻¹(T*(x)) - x\\|",
        "note",
    ]
    lines = []
    for r in rows:
        if "skipped" in r:
            lines.append([r["n"], r["method"], *["—"] * 8, f"skipped ({r['skipped']})"])
            continue
        note = "; ".join(r["warnings"]) if r["warnings"] else ""
        lines.append(
            [
                r["n"],
                r["method"],
                f"{r['fit_s']:.2f}",
                _format(r["epochs"], "d"),
                f"{r['error_median']:.4f}",
                f"{r['error_q90']:.4f}",
                r["evaluated_on"],
                f"{r['transport_cost']:.4f}",
                f"{r['cost_relative_error']:+.2%}",
                _format(r["inverse_error_median"], ".4f"),
                note,
            ]
        )
    return markdown_table(headers, lines)


def _notes(r: Run) -> str:
    args, w2 = r.args, r.state["w2_squared"]
    return (
        "OTCalibrator on 2-D Gaussians (make_gaussian_transport), n simulated + n data events; "
        f"maps judged against the closed-form optimal map T* on {args.n_test} held-out "
        "simulated events (POT alone: on the n fitted ones, column 'on'); exact "
        f"W2² = {w2:.4f}; neural map trained for at most {args.max_epochs} epochs."
    )


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {name: _section(name) for name in SECTIONS},
        argv,
        name=lambda args: "ot" if args.max_epochs == DEFAULT_EPOCHS else f"ot_e{args.max_epochs}",
        title="OTCalibrator against POT alone and the parametric floor",
        sizes=SIZES,
        before=lambda r: _warm_up(r.device),
        notes=_notes,
    )


if __name__ == "__main__":
    raise SystemExit(main())
