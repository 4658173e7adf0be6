"""What one ensemble member of a fit does: build the objective, minimize it, keep the trace.

Everything here is a module-level function or a picklable class, so that joblib can run ensemble
members (or the points of a grid scan) in separate processes. The estimator in
:mod:`skhep_reweight.fit._srgn` validates the inputs and packs them into a :class:`Problem`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from sklearn.base import clone

from .._classifier import fit_balanced_classifier, raw_log_ratio
from .._nn import PREDICT_BATCH_SIZE
from ._objectives import dctr_cross_entropy, held_out_split, weighted_auc

__all__ = ["Problem", "run_member"]


@dataclass
class Problem:
    """The validated inputs and settings of a fit, shared by all ensemble members."""

    data: np.ndarray  # the data's features (detector level, or generator level)
    data_weight: np.ndarray
    sim: np.ndarray  # the nominal sample at the data's level
    gen: np.ndarray  # the nominal sample at generator level (what the reweighter sees)
    sim_weight: np.ndarray
    weight_model: Any  # fitted parametrized reweighter, or callable (X_gen, theta) -> weights
    reweighter_data: tuple | None  # (X, y, theta[, sample_weight]) to fit the reweighter per member
    gen_columns: Any  # feature names the reweighter was fitted with, or None
    bounds: np.ndarray  # shape (n_parameters, 2)
    theta_init: np.ndarray
    objective: str
    strategy: str
    optimizer: str
    grid_points: int
    refine: bool
    xtol: float
    ftol: float
    max_iter: int
    test_fraction: float
    classifier: Any
    auc_objective: str = "auto"  # "auc", "abs" (|AUC - 1/2|) or "auto"
    local_width: float | None = None  # parametrized strategy: half-width of the second stage
    network: dict = field(default_factory=dict)  # the built-in classifier (network_spec)
    n_jobs_points: int | None = None  # joblib workers over grid points (one member only)
    verbose: int = 0  # 1: a progress line per member over the evaluated points


# ---------------------------------------------------------------- the weights


def _gen_input(problem: Problem, X: np.ndarray) -> Any:
    """X_gen as the reweighter was fitted (a DataFrame with its column names, or the array)."""
    if problem.gen_columns is None:
        return X
    import pandas as pd

    return pd.DataFrame(X, columns=problem.gen_columns)


def _check_weights(w: ArrayLike, n: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"the weight function returned {w.shape[0]} weights for {n} events")
    if not np.all(np.isfinite(w)):
        raise ValueError("the weight function returned NaN or infinite weights")
    return w


def generator_weights(
    problem: Problem, model: Any, X_gen: np.ndarray, theta: ArrayLike
) -> np.ndarray:
    """w(x_G, theta) per event: theta one point (broadcast) or one row per event."""
    if hasattr(model, "predict_weights"):
        w = model.predict_weights(_gen_input(problem, X_gen), theta=theta)
    else:
        w = model(X_gen, np.asarray(theta, dtype=np.float64))
    return _check_weights(w, X_gen.shape[0])


def generator_log_weights(
    problem: Problem, model: Any, X_gen: np.ndarray, theta: ArrayLike
) -> np.ndarray:
    """log w(x_G, theta): the reweighter's (clipped) log-ratio, or the log of the callable."""
    if hasattr(model, "decision_function"):
        return model.decision_function(_gen_input(problem, X_gen), theta=theta)
    with np.errstate(divide="ignore"):
        return np.log(generator_weights(problem, model, X_gen, theta))


# ---------------------------------------------------------------- the classifier g

_NEEDS_WEIGHTS = "the SRGN classifier is trained on reweighted simulation and needs one that does"


def _train_classifier(
    problem: Problem, X: np.ndarray, y01: np.ndarray, weight: np.ndarray, seed: int
) -> Any:
    """A fresh classifier between simulation (0) and data (1), class totals balanced. Its score
    is :func:`~skhep_reweight._classifier.raw_log_ratio`, the logit: the AUC counts the order
    only, which the logit shares with the probability."""
    model, _ = fit_balanced_classifier(
        problem.classifier,
        X,
        y01,
        weight,
        seed=seed,
        network=problem.network,
        desc="SRGN classifier",
        needs_weights=_NEEDS_WEIGHTS,
    )
    return model


class _HeldOut:
    """The member's split of data and simulation into training and AUC (test) events."""

    def __init__(self, problem: Problem, split_seed: int) -> None:
        p = problem
        test_d, test_s = held_out_split(len(p.data), len(p.sim), p.test_fraction, split_seed)
        self.train = (p.sim[~test_s], p.gen[~test_s], p.sim_weight[~test_s])
        self.test = (p.sim[test_s], p.gen[test_s], p.sim_weight[test_s])
        self.data_train = (p.data[~test_d], p.data_weight[~test_d])
        self.data_test = (p.data[test_d], p.data_weight[test_d])

    @staticmethod
    def labels(n_sim: int, n_data: int) -> np.ndarray:
        return np.r_[np.zeros(n_sim, dtype=np.int64), np.ones(n_data, dtype=np.int64)]


class RetrainAUC:
    """AUC(theta) of eq. (5) with a fresh classifier trained at every theta (eq. 4).

    The classifier at every point starts from the same seed: points differ by their weights only,
    which keeps the AUC curve as smooth as the training allows.
    """

    def __init__(self, problem: Problem, model: Any, split_seed: int, classifier_seed: int) -> None:
        self.problem, self.model, self.seed = problem, model, classifier_seed
        self.split = _HeldOut(problem, split_seed)

    def __call__(self, theta: np.ndarray) -> float:
        p, s = self.problem, self.split
        sim, gen, sw = s.train
        data, dw = s.data_train
        w = generator_weights(p, self.model, gen, theta) * sw
        fitted = _train_classifier(
            p, np.vstack([sim, data]), s.labels(len(sim), len(data)), np.r_[w, dw], self.seed
        )
        sim_t, gen_t, sw_t = s.test
        data_t, dw_t = s.data_test
        score = raw_log_ratio(fitted, np.vstack([sim_t, data_t]))
        w_t = generator_weights(p, self.model, gen_t, theta) * sw_t
        return weighted_auc(s.labels(len(sim_t), len(data_t)), score, np.r_[w_t, dw_t])


class ParametrizedAUC:
    """AUC(theta) read from one classifier g(x, theta) trained once (the cheap strategy).

    Every simulated training event receives a point theta drawn uniformly inside the bounds and is
    weighted by w(x_G, theta) at its own point, divided by the simulation's mean weight at that
    point (:func:`_normalization`), so that at every theta the reweighted simulation and the data
    carry the same total weight. Every data event receives a point drawn from the same set of
    points. theta alone then tells the classifier nothing about the class, and at each theta it
    learns to separate the data from the simulation reweighted to that theta. The AUC at a point
    is that of g(., theta) on the held-out events weighted at that point.
    """

    def __init__(
        self,
        problem: Problem,
        model: Any,
        split_seed: int,
        classifier_seed: int,
        box: np.ndarray | None = None,
    ) -> None:
        self.problem, self.model = problem, model
        self.split = s = _HeldOut(problem, split_seed)
        self.box = problem.bounds if box is None else box
        rng = np.random.RandomState(classifier_seed)
        sim, gen, sw = s.train
        data, dw = s.data_train
        low, high = self.box[:, 0], self.box[:, 1]
        theta_sim = rng.uniform(low, high, size=(len(sim), len(low)))
        theta_data = theta_sim[rng.randint(len(sim), size=len(data))]
        w = generator_weights(problem, model, gen, theta_sim)
        w = w / _normalization(problem, model, gen, sw, theta_sim, self.box) * sw
        X = np.vstack([np.hstack([sim, theta_sim]), np.hstack([data, theta_data])])
        self.classifier = _train_classifier(
            problem, X, s.labels(len(sim), len(data)), np.r_[w, dw], classifier_seed
        )

    def __call__(self, theta: np.ndarray) -> float:
        p, s = self.problem, self.split
        sim_t, gen_t, sw_t = s.test
        data_t, dw_t = s.data_test
        X = np.vstack([sim_t, data_t])
        X = np.hstack([X, np.broadcast_to(theta, (len(X), len(theta)))])
        score = raw_log_ratio(self.classifier, X)
        w_t = generator_weights(p, self.model, gen_t, theta) * sw_t
        return weighted_auc(s.labels(len(sim_t), len(data_t)), score, np.r_[w_t, dw_t])


# points per parameter of the grid on which the simulation's mean weight is tabulated
NORMALIZATION_POINTS = {1: 41, 2: 15}


def _normalization(
    problem: Problem,
    model: Any,
    gen: np.ndarray,
    sim_weight: np.ndarray,
    theta: np.ndarray,
    box: np.ndarray,
) -> np.ndarray:
    """The simulation's weighted mean of w(x_G, t) at every event's own point t.

    Tabulated on a grid over the box where theta is drawn (41 points in one parameter, 15 per
    parameter in two, 5 in more) and interpolated linearly in its logarithm. The classifier's
    loss balances the classes' totals over all points together; a learned weight whose
    normalization drifts with theta (or the sampling noise of a heavy-tailed exact weight) would
    otherwise make theta itself informative about the class.
    """
    from scipy.interpolate import RegularGridInterpolator

    n_parameters = box.shape[0]
    points = NORMALIZATION_POINTS.get(n_parameters, 5)
    axes = [np.linspace(lo, hi, points) for lo, hi in box]
    grid = np.array(list(itertools.product(*axes)), dtype=np.float64)
    total = sim_weight.sum()
    log_mean = np.array(
        [
            np.log(
                max(np.dot(generator_weights(problem, model, gen, t), sim_weight) / total, 1e-300)
            )
            for t in grid
        ]
    ).reshape([points] * n_parameters)
    interpolate = RegularGridInterpolator(axes, log_mean, bounds_error=False, fill_value=None)
    return np.exp(interpolate(theta))


class AbsoluteAUC:
    """|AUC(theta) - 1/2|: a classifier whose ordering is inverted separates the samples as well."""

    def __init__(self, auc: Any) -> None:
        self.auc = auc

    def __call__(self, theta: np.ndarray) -> float:
        return abs(self.auc(theta) - 0.5)


class DCTRLoss:
    """Minus eq. (3): the frozen reweighter's cross-entropy between data and nominal sample."""

    def __init__(self, problem: Problem, model: Any) -> None:
        self.problem, self.model = problem, model

    def __call__(self, theta: np.ndarray) -> float:
        p = self.problem
        return dctr_cross_entropy(
            generator_log_weights(p, self.model, p.data, theta),
            generator_log_weights(p, self.model, p.gen, theta),
            p.data_weight,
            p.sim_weight,
        )

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and its gradient in theta through the reweighter's network (autograd)."""
        p, net = self.problem, self.model.net_
        module = net.module_.eval()
        log_prior = float(np.log(self.model.prior_ratio_))
        t = torch.tensor(theta, dtype=torch.float32, device=net.device, requires_grad=True)
        total = 0.0
        for X, w, sign in ((p.data, p.data_weight, 1.0), (p.gen, p.sim_weight, -1.0)):
            scale = 1.0 / w.sum()
            for start in range(0, len(X), PREDICT_BATCH_SIZE):
                x = torch.as_tensor(X[start : start + PREDICT_BATCH_SIZE], dtype=torch.float32)
                x = x.to(net.device)
                s = module(torch.cat([x, t.expand(len(x), -1)], dim=1))[:, 0].double()
                ww = torch.as_tensor(w[start : start + PREDICT_BATCH_SIZE], device=net.device)
                term = -scale * torch.dot(
                    ww, torch.nn.functional.logsigmoid(sign * (s + log_prior))
                )
                term.backward()
                total += float(term.detach())
        return total, t.grad.detach().cpu().double().numpy()


# ---------------------------------------------------------------- the optimizers


class _Trace:
    """Wraps an objective, records every point it is evaluated at, and remembers the values.

    Powell's line searches come back to points already evaluated (each new direction brackets
    from scratch); the objective is deterministic within a member, so a repeated point is looked
    up instead of training another classifier.
    """

    def __init__(self, function: Callable[[np.ndarray], float], progress: Any = None) -> None:
        self.function = function
        self.progress = progress
        self.theta: list[np.ndarray] = []
        self.value: list[float] = []
        self._seen: dict[bytes, float] = {}

    def record(self, theta: ArrayLike, value: float) -> None:
        theta = np.array(theta, dtype=np.float64)
        self.theta.append(theta)
        self.value.append(float(value))
        self._seen[theta.tobytes()] = float(value)
        if self.progress is not None:
            best = int(np.argmin(self.value))
            self.progress.set_postfix(
                theta=np.array2string(self.theta[best], precision=4),
                best=f"{self.value[best]:.5f}",
                refresh=False,
            )
            self.progress.update(1)

    def reset(self) -> None:
        """Forget the remembered values (the objective changed); the trace keeps its record."""
        self._seen = {}

    def __call__(self, theta: ArrayLike) -> float:
        theta = np.asarray(theta, dtype=np.float64)
        key = theta.tobytes()
        if key not in self._seen:
            self.record(theta, self.function(theta))
        return self._seen[key]

    def value_and_gradient(self, theta: ArrayLike) -> tuple[float, np.ndarray]:
        value, gradient = self.function.value_and_gradient(np.asarray(theta, dtype=np.float64))
        self.record(theta, value)
        return value, gradient


def _powell(
    trace: _Trace, x0: ArrayLike, bounds: ArrayLike, problem: Problem
) -> tuple[np.ndarray, float]:
    """Bounded Powell in units of the bounds' widths, so that ``xtol`` is relative to the range
    of every parameter whatever its scale (an MeV mass and a coupling alike)."""
    low = problem.bounds[:, 0]
    width = problem.bounds[:, 1] - low
    result = minimize(
        lambda u: trace(low + u * width),
        (np.asarray(x0) - low) / width,
        method="Powell",
        bounds=(np.asarray(bounds) - low[:, None]) / width[:, None],
        options={"xtol": problem.xtol, "ftol": problem.ftol, "maxiter": problem.max_iter},
    )
    return low + np.asarray(result.x, dtype=np.float64) * width, float(result.fun)


def _grid(problem: Problem, bounds: np.ndarray) -> np.ndarray:
    axes = [np.linspace(lo, hi, problem.grid_points) for lo, hi in bounds]
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


def _scan(trace: _Trace, problem: Problem) -> tuple[np.ndarray, float]:
    """Evaluate the grid (through joblib, in parallel over points when asked), refine around
    its minimum."""
    points = _grid(problem, problem.bounds)
    # always through joblib (n_jobs=None runs in this process, unless a parallel_backend such as
    # "dask" is active); the values come back in order, each recorded as it arrives
    parallel = Parallel(n_jobs=problem.n_jobs_points, return_as="generator")
    values = []
    for t, v in zip(points, parallel(delayed(trace.function)(t) for t in points), strict=True):
        trace.record(t, v)
        values.append(v)
    best = points[int(np.argmin(values))]
    if not problem.refine:
        return best, float(np.min(values))
    step = (problem.bounds[:, 1] - problem.bounds[:, 0]) / (problem.grid_points - 1)
    local = np.column_stack(
        [
            np.maximum(best - step, problem.bounds[:, 0]),
            np.minimum(best + step, problem.bounds[:, 1]),
        ]
    )
    return _powell(trace, best, local, problem)


def _minimize(trace: _Trace, problem: Problem, gradient: bool) -> tuple[np.ndarray, float]:
    if problem.optimizer == "grid":
        return _scan(trace, problem)
    if gradient:
        result = minimize(
            trace.value_and_gradient,
            problem.theta_init,
            jac=True,
            method="L-BFGS-B",
            bounds=problem.bounds,
            options={"maxiter": problem.max_iter},
        )
        return np.asarray(result.x, dtype=np.float64), float(result.fun)
    return _powell(trace, problem.theta_init, problem.bounds, problem)


def _local_box(problem: Problem, theta: np.ndarray) -> np.ndarray:
    """The window of half-width ``local_width`` (a share of each bounded range) around theta,
    shifted inside the bounds where it would cross one."""
    low, high = problem.bounds[:, 0], problem.bounds[:, 1]
    half = problem.local_width * (high - low)
    centre = np.clip(theta, low + half, high - half)
    return np.column_stack([np.maximum(centre - half, low), np.minimum(centre + half, high)])


def _absolute(problem: Problem) -> bool:
    """Whether the fit minimizes |AUC - 1/2| rather than the AUC (``auc_objective``)."""
    if problem.auc_objective == "auto":
        return problem.strategy == "parametrized"
    return problem.auc_objective == "abs"


def run_member(problem: Problem, seeds: tuple[int, int, int]) -> dict:
    """One independently seeded fit: its own reweighter (when trained here), split and classifier.

    Returns a dict with ``theta``, ``value`` (the objective there), the ``trace`` of evaluated
    points and values, the member's ``reweighter`` (or None) and, with the parametrized
    strategy, its ``classifier``.
    """
    reweighter_seed, split_seed, classifier_seed = seeds
    model = problem.weight_model
    fitted_reweighter = None
    if problem.reweighter_data is not None:
        X, y, theta, *weight = problem.reweighter_data
        model = clone(model).set_params(random_state=reweighter_seed)
        model.fit(X, y, sample_weight=weight[0] if weight else None, theta=theta)
        fitted_reweighter = model

    classifier = None
    if problem.objective == "dctr":
        objective = DCTRLoss(problem, model)
    elif problem.strategy == "retrain":
        objective = RetrainAUC(problem, model, split_seed, classifier_seed)
    else:
        objective = ParametrizedAUC(problem, model, split_seed, classifier_seed)
        classifier = objective.classifier
    if problem.objective == "auc" and _absolute(problem):
        objective = AbsoluteAUC(objective)
    gradient = problem.optimizer == "gradient"
    progress = None
    if problem.verbose >= 1:
        from tqdm.auto import tqdm

        progress = tqdm(desc=f"SRGN fit (seed {classifier_seed})", unit="point", leave=True)
    trace = _Trace(objective, progress)
    try:
        theta, value = _minimize(trace, problem, gradient)
        if (
            problem.objective == "auc"
            and problem.strategy == "parametrized"
            and problem.local_width is not None
        ):
            box = _local_box(problem, theta)
            local = ParametrizedAUC(problem, model, split_seed, classifier_seed + 1, box)
            classifier = local.classifier
            trace.function = AbsoluteAUC(local) if _absolute(problem) else local
            trace.reset()
            theta, value = _powell(trace, theta, box, problem)
    finally:
        if progress is not None:
            progress.close()
    return {
        "theta": theta,
        "value": float(value),
        "trace": (np.array(trace.theta).reshape(-1, len(theta)), np.array(trace.value)),
        "reweighter": fitted_reweighter,
        "classifier": classifier,
    }
