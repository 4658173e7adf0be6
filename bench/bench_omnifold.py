"""OmniFold (built-in network and BDT) against iterative Bayesian unfolding (IBU), on unfolding
problems with a known truth.

The data have n events and the simulation as many (default n = 10^5, ``--n``; ``--full``:
10^6; ``--quick``: 3000 events and at most 3 epochs per network, a smoke test). Three sections
(``--sections``, all by default):

* ``gaussian``: ``make_gaussian_unfolding`` (the OmniFold paper's example: truth N(0.2, 0.8^2)
  in the data, N(0, 1) in the simulation, smearing 0.5, full efficiency, no fakes),
  ``--n-iterations`` iterations (4) of ``OmniFold()`` with the built-in network (its defaults),
  of ``OmniFold(HistGradientBoostingClassifier(...))`` (BDT OmniFold, settings in ``HGB``) and
  of IBU (``response_matrix`` and ``iterative_bayesian_unfolding`` on 0.2-wide bins over
  [-5, 5] at both levels, narrow against the smearing). Per iteration the unfolded mean and
  width against the closed form of OmniFold with a perfect classifier
  (``omnifold_moments``) and against the data's truth; at the last iteration the per-bin pulls
  and the weighted KS distance to the data's truth, and each method's time per iteration.
* ``efficiency_fakes``: the same problem with a truth-dependent efficiency
  0.3 + 0.65 / (1 + exp(-2 t)) and 0.1 fakes per generated event, OmniFold (network) against
  IBU (fakes from the simulation as a fixed expected histogram), ``--n-iterations-long``
  iterations (10): OmniFold's convention for events failing the detector selection (they keep
  their previous weight) converges more slowly than IBU's division by the efficiency, so the
  tables give both the ``--n-iterations``-th and the last iteration.
* ``correlated``: ``make_correlated_unfolding`` (2-D, truth correlation 0.6 in the data, 0 in
  the simulation): OmniFold (network) on both features at once against IBU per marginal, the
  simulation reweighted by the product of the two 1-D IBU factors of each event, which keeps
  the simulation's correlation. "Closed form": the perfect-classifier iteration in matrix form
  (``closed_form_iterations``), what OmniFold reaches after each iteration.

Definitions (every figure from the unfolded simulation: its truth-level events with the unfolded
weights; IBU's unfolded histogram is turned into per-event weights, unfolded / prior count of
the event's truth bin, so that both methods are judged by the same code):

* mean, std: ``metrics.weighted_mean_std`` of the unfolded simulation; "closed form": the
  perfect-classifier OmniFold iteration (``gaussian_omnifold_moments``; valid at full
  efficiency without fakes); "data truth": the moments of the data's generator-level sample.
* pulls: on 0.2-wide bins over [-2.0, 2.4] (the data truth's mean +- 2.75 sigma), the unfolded
  histogram scaled to the data's truth count, (unfolded - truth) / sqrt(sum w^2 of the
  unfolded + truth count). This error counts the simulation's and the data truth's own
  statistics, not the data's statistical uncertainty carried through the unfolding, nor the
  correlation of the unfolded result with the data truth (the same events): a pull std far
  from 1 says by how much they matter.
* KS: ``metrics.weighted_ks_distance`` between the unfolded simulation and the data's truth.
* time / iteration: wall-clock fit time divided by the iterations (IBU: the response matrix,
  the histograms and the iterations).

Run ``python bench/bench_omnifold.py --help`` for the options.
"""

from __future__ import annotations

import warnings

import numpy as np
from _common import Run, Size, markdown_table, run, timed
from sklearn.ensemble import HistGradientBoostingClassifier

from skhep_reweight.datasets import make_correlated_unfolding, make_gaussian_unfolding
from skhep_reweight.metrics import weighted_ks_distance, weighted_mean_std
from skhep_reweight.unfold import (
    OmniFold,
    UnfoldingWeightWarning,
    iterative_bayesian_unfolding,
    response_matrix,
)

SIZES = {
    "n": Size("data events; the simulation has as many", 3_000, 100_000, 1_000_000),
    "n_iterations": Size("iterations of gaussian and correlated", 4, 4, 4),
    "n_iterations_long": Size("iterations of efficiency_fakes", 10, 10, 10),
    "max_epochs": Size("cap on every network's epochs", 3, None, None),
}
# BDT OmniFold: the settings of bench_dctr_vs_hep_ml.py's HGB rows (early stopping on 20 % of
# each step's events, at most 500 trees).
HGB = {
    "max_iter": 500,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 100,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "n_iter_no_change": 10,
}
IBU_EDGES = np.round(np.arange(-5.0, 5.0001, 0.2), 10)  # truth and reco bins of IBU
PULL_EDGES = np.round(np.arange(-2.0, 2.4001, 0.2), 10)  # judged bins (data truth +- 2.75 sd)
PULL_EDGES_2D = np.round(np.arange(-1.6, 2.0001, 0.4), 10)  # 2-D cells of the correlated case
MIN_CELL_COUNT = 20  # 2-D cells judged: data truth count at least this
FAKE_RATE = 0.1


def efficiency(t: np.ndarray) -> np.ndarray:
    """Truth-dependent efficiency of ``efficiency_fakes``: 0.3 at low t to 0.95 at high t."""
    return 0.3 + 0.65 / (1.0 + np.exp(-2.0 * t[:, 0]))


METHOD_NAMES = {
    "prior": "simulation (no unfolding)",
    "omnifold": "OmniFold (network)",
    "omnifold_bdt": "OmniFold (BDT)",
    "ibu": "IBU",
    "ibu_marginals": "IBU per marginal (product)",
}


# ------------------------------------------------------------------ the methods
def _omnifold(r: Run, data, n_iterations: int, bdt: bool = False):
    """A fitted OmniFold on ``data``, its fit time and the weight warnings it raised."""
    options = {"n_iterations": n_iterations, "random_state": r.args.random_state}
    if bdt:
        unfold = OmniFold(HistGradientBoostingClassifier(**HGB), **options)
    else:
        if r.args.max_epochs:
            options["max_epochs"] = r.args.max_epochs
        unfold = OmniFold(device=r.device, **options)
    fit = dict(pass_reco=data.pass_reco, pass_gen=data.pass_gen)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnfoldingWeightWarning)
        unfold, seconds = timed(
            lambda: unfold.fit(data.X_data, X_sim=data.X_sim, X_gen=data.X_gen, **fit), r.device
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, UnfoldingWeightWarning)]
    return unfold, seconds, messages


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value as numpy.histogram counts it (last bin closed); -1 outside."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = len(edges) - 2
    index[(values < edges[0]) | (values > edges[-1]) | ~np.isfinite(values)] = -1
    return index


def _ibu_weights(truth, reco, data, n_iterations, *, pass_reco=None, pass_gen=None, fake_scale=1):
    """IBU on one feature: per-event weights of the simulation after iterations 1..n, shape
    (n_iterations, n_sim) (unfolded / prior count of the event's truth bin; 0 outside)."""
    response, eff, fakes, prior = response_matrix(
        truth, reco, IBU_EDGES, IBU_EDGES, pass_reco=pass_reco, pass_gen=pass_gen
    )
    counts = np.histogram(data, IBU_EDGES)[0].astype(float)
    used = eff > 0  # truth bins without simulated events (far tails) are left out
    factors = np.zeros((n_iterations, prior.size))
    factors[:, used] = (
        iterative_bayesian_unfolding(
            counts,
            response[:, used],
            prior=prior[used],
            n_iterations=n_iterations,
            fakes=fakes * fake_scale,
            return_iterations=True,
        )[1:]
        / prior[used]
    )
    index = _bin_index(truth, IBU_EDGES)
    weights = np.where(index >= 0, factors[:, np.maximum(index, 0)], 0.0)
    if pass_gen is not None:
        weights[:, ~pass_gen] = 0.0
    return weights


# ------------------------------------------------------------------ the figures of merit
def _moments(z: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    mean, std = weighted_mean_std(z, w)
    return float(mean[0]), float(std[0])


def _closure(z: np.ndarray, w: np.ndarray, truth: np.ndarray) -> dict:
    """Pulls on PULL_EDGES and the KS distance of the unfolded simulation (z, w) to truth."""
    scaled = w * (truth.shape[0] / w.sum())
    unfolded = np.histogram(z, PULL_EDGES, weights=scaled)[0]
    variance = np.histogram(z, PULL_EDGES, weights=scaled**2)[0]
    target = np.histogram(truth, PULL_EDGES)[0]
    pulls = (unfolded - target) / np.sqrt(variance + target)
    return {
        "pulls": pulls.tolist(),
        "pull_mean": float(pulls.mean()),
        "pull_std": float(pulls.std(ddof=1)),
        "chi2_per_bin": float(np.mean(pulls**2)),
        "ks": float(weighted_ks_distance(z, truth, source_weight=w)[0]),
    }


def _per_iteration(z: np.ndarray, weights: np.ndarray) -> list[list[float]]:
    return [list(_moments(z, w)) for w in weights]


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


# ------------------------------------------------------------------ section: gaussian
def _gaussian(r: Run) -> tuple[dict, str]:
    n, n_it = r.args.n, r.args.n_iterations
    data = make_gaussian_unfolding(n, random_state=r.args.random_state)
    z, truth = data.X_gen[:, 0], data.X_data_truth[:, 0]
    closed_mean, closed_std = data.omnifold_moments(n_it)
    result: dict = {
        "n": n,
        "n_iterations": n_it,
        "closed_form": {
            "prior": [data.truth_mean[1], data.truth_std[1]],
            "mean": closed_mean.tolist(),
            "std": closed_std.tolist(),
        },
        "data_truth": list(_moments(truth[:, None], None)),
        "prior": {**_closure(z, np.ones_like(z), truth), "moments": _moments(z[:, None], None)},
        "methods": {},
    }
    weights = {}
    for key, bdt in (("omnifold", False), ("omnifold_bdt", True)):
        unfold, seconds, messages = _omnifold(r, data, n_it, bdt=bdt)
        weights[key] = unfold.weights_[:, 1]
        result["methods"][key] = {
            "fit_s": seconds,
            "s_per_iteration": seconds / n_it,
            "epochs": unfold.n_epochs_[0].tolist(),
            "warnings": messages,
        }
        print(f"gaussian: {METHOD_NAMES[key]} in {seconds:.1f} s", flush=True)
    ibu, seconds = timed(lambda: _ibu_weights(z, data.X_sim[:, 0], data.X_data[:, 0], n_it))
    weights["ibu"] = ibu
    result["methods"]["ibu"] = {"fit_s": seconds, "s_per_iteration": seconds / n_it}
    for key, w in weights.items():
        result["methods"][key]["moments"] = _per_iteration(z[:, None], w)
        result["methods"][key].update(_closure(z, w[-1], truth))
    return result, _gaussian_tables(result)


def _moment_table(result: dict, methods: list[str], closed_form: bool, caption: str) -> str:
    headers = ["iteration"]
    if closed_form:
        headers += ["closed form mean", "closed form std"]
    for m in methods:
        headers += [f"{METHOD_NAMES[m]} mean", f"{METHOD_NAMES[m]} std"]
    rows = []
    prior = result["prior"]["moments"]
    row = ["0 (prior)"]
    if closed_form:
        row += [_fmt(v) for v in result["closed_form"]["prior"]]
    rows.append(row + [_fmt(v) for v in prior] * len(methods))
    for k in range(result["n_iterations"]):
        row = [str(k + 1)]
        if closed_form:
            row += [_fmt(result["closed_form"]["mean"][k]), _fmt(result["closed_form"]["std"][k])]
        for m in methods:
            row += [_fmt(v) for v in result["methods"][m]["moments"][k]]
        rows.append(row)
    truth = result["data_truth"]
    rows.append(["data truth"] + [_fmt(v) for v in truth] * (len(methods) + closed_form))
    return markdown_table(headers, rows, caption=caption)


def _closure_rows(result: dict, methods: list[str], key=lambda m: m) -> list[list[str]]:
    rows = []
    for m in methods:
        c = result["methods"][key(m)] if m != "prior" else result["prior"]
        time = f"{c['s_per_iteration']:.3g}" if "s_per_iteration" in c else "—"
        rows.append(
            [
                METHOD_NAMES[m],
                _fmt(c["pull_mean"], 2),
                _fmt(c["pull_std"], 2),
                _fmt(c["chi2_per_bin"], 2),
                _fmt(c["ks"]),
                time,
            ]
        )
    return rows


CLOSURE_HEADERS = ["method", "pull mean", "pull std", "χ²/bin", "KS", "time / iteration [s]"]


def _gaussian_tables(result: dict) -> str:
    methods = ["omnifold", "omnifold_bdt", "ibu"]
    n_it = result["n_iterations"]
    moments = _moment_table(
        result,
        methods,
        True,
        f"**gaussian**, n = {result['n']}: unfolded mean and std per iteration",
    )
    closure = markdown_table(
        CLOSURE_HEADERS,
        _closure_rows(result, ["prior", *methods]),
        caption=f"**gaussian**, iteration {n_it}: pulls on {len(PULL_EDGES) - 1} bins "
        "against the data truth, weighted KS distance, time per iteration",
    )
    notes = [
        f"{METHOD_NAMES[m]}: epochs per iteration (step 1, step 2) "
        f"{', '.join(f'{a}+{b}' for a, b in result['methods'][m]['epochs'])}"
        for m in ("omnifold",)
    ]
    for m in ("omnifold", "omnifold_bdt"):
        if result["methods"][m]["warnings"]:
            notes.append(f"{METHOD_NAMES[m]}: {len(result['methods'][m]['warnings'])} warnings")
    return "\n\n".join([moments, closure, "; ".join(notes) + "."])


# ------------------------------------------------------------------ section: efficiency_fakes
def _efficiency_fakes(r: Run) -> tuple[dict, str]:
    n, n_it = r.args.n, r.args.n_iterations_long
    report = sorted({min(r.args.n_iterations, n_it), n_it})
    data = make_gaussian_unfolding(
        n, efficiency=efficiency, fake_rate=FAKE_RATE, random_state=r.args.random_state
    )
    gen = data.pass_gen
    z, truth = data.X_gen[gen, 0], data.X_data_truth[:, 0]
    result: dict = {
        "n": n,
        "n_iterations": n_it,
        "reported_iterations": report,
        "efficiency": "0.3 + 0.65 / (1 + exp(-2 t))",
        "fake_rate": FAKE_RATE,
        "data_truth": list(_moments(truth[:, None], None)),
        "prior": {**_closure(z, np.ones_like(z), truth), "moments": _moments(z[:, None], None)},
        "methods": {},
    }
    unfold, seconds, messages = _omnifold(r, data, n_it)
    weights = {"omnifold": unfold.weights_[:, 1][:, gen]}
    result["methods"]["omnifold"] = {
        "fit_s": seconds,
        "s_per_iteration": seconds / n_it,
        "epochs": unfold.n_epochs_[0].tolist(),
        "warnings": messages,
    }
    print(f"efficiency_fakes: OmniFold in {seconds:.1f} s", flush=True)
    # the simulation's fakes are the expected fakes of the data: n data / n simulated events
    ibu, seconds = timed(
        lambda: _ibu_weights(
            data.X_gen[:, 0],
            data.X_sim[:, 0],
            data.X_data[:, 0],
            n_it,
            pass_reco=data.pass_reco,
            pass_gen=gen,
            fake_scale=n / int(gen.sum()),
        )
    )
    weights["ibu"] = ibu[:, gen]
    result["methods"]["ibu"] = {"fit_s": seconds, "s_per_iteration": seconds / n_it}
    for key, w in weights.items():
        result["methods"][key]["moments"] = _per_iteration(z[:, None], w)
        result["methods"][key]["closure"] = {str(k): _closure(z, w[k - 1], truth) for k in report}
    return result, _efficiency_tables(result)


def _efficiency_tables(result: dict) -> str:
    methods = ["omnifold", "ibu"]
    moments = _moment_table(
        result,
        methods,
        False,
        f"**efficiency_fakes**, n = {result['n']}, efficiency {result['efficiency']}, "
        f"{result['fake_rate']} fakes per event: unfolded mean and std per iteration",
    )
    rows = [[f"{METHOD_NAMES['prior']}"] + _closure_rows(result, ["prior"])[0][1:]]
    for k in result["reported_iterations"]:
        for m in methods:
            c = result["methods"][m]["closure"][str(k)]
            rows.append(
                [
                    f"{METHOD_NAMES[m]}, iteration {k}",
                    _fmt(c["pull_mean"], 2),
                    _fmt(c["pull_std"], 2),
                    _fmt(c["chi2_per_bin"], 2),
                    _fmt(c["ks"]),
                    f"{result['methods'][m]['s_per_iteration']:.3g}",
                ]
            )
    closure = markdown_table(
        CLOSURE_HEADERS,
        rows,
        caption="**efficiency_fakes**: pulls and KS distance against the data truth",
    )
    return "\n\n".join([moments, closure])


# ------------------------------------------------------------------ section: correlated
def closed_form_iterations(
    mean_data: np.ndarray,
    cov_data: np.ndarray,
    mean_sim: np.ndarray,
    cov_sim: np.ndarray,
    smearing: float,
    n_iterations: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Truth mean and covariance after OmniFold iterations 1..n with perfect classifiers, for
    Gaussian truths and an independent Gaussian smearing of width :math:`\epsilon` per feature:
    the matrix form of ``gaussian_omnifold_moments``.

    With the weighted simulation's truth :math:`\mathcal{N}(m, S)` and the detector-level
    covariances :math:`C_a = C_D + \epsilon^2 I`, :math:`C_b = S + \epsilon^2 I`, step 1's
    log-ratio is :math:`-x^\top A x/2 + b^\top x` with :math:`A = C_a^{-1} - C_b^{-1}`,
    :math:`b = C_a^{-1}\mu_D - C_b^{-1} m`; averaging the ratio over the smearing at fixed
    truth (step 2) gives :math:`A' = A K`, :math:`b' = K b` with
    :math:`K = (I + \epsilon^2 A)^{-1}`, and the next truth has precision :math:`S^{-1} + A'`
    and mean :math:`S_n (S^{-1} m + b')`.
    """
    identity = np.eye(len(mean_data))
    c_a = cov_data + smearing**2 * identity
    m, S = np.asarray(mean_sim, dtype=float), np.asarray(cov_sim, dtype=float)
    out = []
    for _ in range(n_iterations):
        c_b = S + smearing**2 * identity
        A = np.linalg.inv(c_a) - np.linalg.inv(c_b)
        b = np.linalg.solve(c_a, mean_data) - np.linalg.solve(c_b, m)
        K = np.linalg.inv(identity + smearing**2 * A)
        S_next = np.linalg.inv(np.linalg.inv(S) + A @ K)
        m = S_next @ (np.linalg.solve(S, m) + K @ b)
        S = S_next
        out.append((m.copy(), S.copy()))
    return out


def _corr(Z: np.ndarray, w: np.ndarray) -> float:
    c = np.cov(Z.T, aweights=w)
    return float(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]))


def _closure_2d(Z: np.ndarray, w: np.ndarray, truth: np.ndarray) -> dict:
    """Pulls on the 2-D cells of PULL_EDGES_2D with at least MIN_CELL_COUNT data truth events."""
    edges = [PULL_EDGES_2D, PULL_EDGES_2D]
    scaled = w * (truth.shape[0] / w.sum())
    unfolded = np.histogram2d(Z[:, 0], Z[:, 1], edges, weights=scaled)[0]
    variance = np.histogram2d(Z[:, 0], Z[:, 1], edges, weights=scaled**2)[0]
    target = np.histogram2d(truth[:, 0], truth[:, 1], edges)[0]
    used = target >= MIN_CELL_COUNT
    pulls = (unfolded - target)[used] / np.sqrt(variance + target)[used]
    return {
        "n_cells": int(used.sum()),
        "pull_mean": float(pulls.mean()),
        "pull_std": float(pulls.std(ddof=1)),
        "chi2_per_bin": float(np.mean(pulls**2)),
        "ks": weighted_ks_distance(Z, truth, source_weight=w).tolist(),
        "moments": [list(v) for v in zip(*weighted_mean_std(Z, w), strict=True)],
    }


def _correlated(r: Run) -> tuple[dict, str]:
    n, n_it = r.args.n, r.args.n_iterations
    data = make_correlated_unfolding(n, random_state=r.args.random_state)
    Z, truth = data.X_gen, data.X_data_truth
    ones = np.ones(n)
    closed = closed_form_iterations(
        data.truth_mean[0],
        data.truth_cov[0],
        data.truth_mean[1],
        data.truth_cov[1],
        data.smearing,
        n_it,
    )
    result: dict = {
        "n": n,
        "n_iterations": n_it,
        "correlation": list(data.correlation),
        "data_truth_correlation": _corr(truth, np.ones(truth.shape[0])),
        "closed_form": {
            "correlation": [float(S[0, 1] / np.sqrt(S[0, 0] * S[1, 1])) for _, S in closed],
            "mean": [m.tolist() for m, _ in closed],
            "std": [np.sqrt(np.diag(S)).tolist() for _, S in closed],
        },
        "prior": {"correlation": _corr(Z, ones), **_closure_2d(Z, ones, truth)},
        "data_truth_moments": [list(v) for v in zip(*weighted_mean_std(truth), strict=True)],
        "methods": {},
    }
    unfold, seconds, messages = _omnifold(r, data, n_it)
    weights = {"omnifold": unfold.weights_[:, 1]}
    result["methods"]["omnifold"] = {
        "fit_s": seconds,
        "s_per_iteration": seconds / n_it,
        "epochs": unfold.n_epochs_[0].tolist(),
        "warnings": messages,
    }
    print(f"correlated: OmniFold in {seconds:.1f} s", flush=True)

    def marginals():
        factors = [
            _ibu_weights(Z[:, j], data.X_sim[:, j], data.X_data[:, j], n_it)
            for j in range(Z.shape[1])
        ]
        return np.prod(factors, axis=0)

    weights["ibu_marginals"], seconds = timed(marginals)
    result["methods"]["ibu_marginals"] = {"fit_s": seconds, "s_per_iteration": seconds / n_it}
    for key, w in weights.items():
        result["methods"][key]["correlation"] = [_corr(Z, wk) for wk in w]
        result["methods"][key].update(_closure_2d(Z, w[-1], truth))
    return result, _correlated_tables(result)


def _correlated_tables(result: dict) -> str:
    methods = ["omnifold", "ibu_marginals"]
    closed = result["closed_form"]
    rows = [
        ["0 (prior)", _fmt(result["correlation"][1])]
        + [_fmt(result["prior"]["correlation"])] * len(methods)
    ]
    for k in range(result["n_iterations"]):
        rows.append(
            [str(k + 1), _fmt(closed["correlation"][k])]
            + [_fmt(result["methods"][m]["correlation"][k]) for m in methods]
        )
    rows.append(["data truth"] + [_fmt(result["data_truth_correlation"])] * (len(methods) + 1))
    correlation = markdown_table(
        ["iteration", "closed form correlation"]
        + [f"{METHOD_NAMES[m]} correlation" for m in methods],
        rows,
        caption=f"**correlated**, n = {result['n']}, 2-D, truth correlation "
        f"{result['correlation'][0]} (data) and {result['correlation'][1]} (simulation): "
        "unfolded correlation per iteration",
    )
    rows = []
    for m in ["prior", *methods]:
        c = result["prior"] if m == "prior" else result["methods"][m]
        (m0, s0), (m1, s1) = c["moments"]
        rows.append(
            [
                METHOD_NAMES[m],
                f"{m0:.4f}, {m1:.4f}",
                f"{s0:.4f}, {s1:.4f}",
                f"{c['ks'][0]:.4f}, {c['ks'][1]:.4f}",
                _fmt(c["pull_mean"], 2),
                _fmt(c["pull_std"], 2),
                _fmt(c["chi2_per_bin"], 2),
                f"{c['s_per_iteration']:.3g}" if "s_per_iteration" in c else "—",
            ]
        )
    (m0, m1), (s0, s1) = closed["mean"][-1], closed["std"][-1]
    rows.append(
        ["closed form (perfect classifier)", f"{m0:.4f}, {m1:.4f}", f"{s0:.4f}, {s1:.4f}"]
        + [""] * 5
    )
    (m0, s0), (m1, s1) = result["data_truth_moments"]
    rows.append(["data truth", f"{m0:.4f}, {m1:.4f}", f"{s0:.4f}, {s1:.4f}"] + [""] * 5)
    closure = markdown_table(
        [
            "method",
            "means",
            "stds",
            "KS (per feature)",
            "2-D pull mean",
            "2-D pull std",
            "χ²/cell",
            "time / iteration [s]",
        ],
        rows,
        caption=f"**correlated**, iteration {result['n_iterations']}: marginals and pulls on "
        f"the {result['prior']['n_cells']} cells (0.4 × 0.4) with at least {MIN_CELL_COUNT} "
        "data truth events",
    )
    return "\n\n".join([correlation, closure])


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {
            "gaussian": _gaussian,
            "efficiency_fakes": _efficiency_fakes,
            "correlated": _correlated,
        },
        argv,
        name="omnifold",
        title=lambda args: f"OmniFold against IBU, n = {args.n} data and simulated events",
        sizes=SIZES,
        constants={
            "hgb": HGB,
            "ibu_edges": [float(IBU_EDGES[0]), float(IBU_EDGES[-1]), 0.2],
            "pull_edges": [float(PULL_EDGES[0]), float(PULL_EDGES[-1]), 0.2],
            "pull_edges_2d": [float(PULL_EDGES_2D[0]), float(PULL_EDGES_2D[-1]), 0.4],
            "min_cell_count": MIN_CELL_COUNT,
            "fake_rate": FAKE_RATE,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
