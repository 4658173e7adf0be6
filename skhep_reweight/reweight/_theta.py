"""Parameters theta of a parametrized reweighting: checks, the filling of the nominal sample's
missing theta, broadcasting and the trained range."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "THETA_RANGE_TOLERANCE",
    "broadcast_theta",
    "check_in_range",
    "fill_source_theta",
    "outside_range",
    "theta_for_fit",
    "trained_range",
]

# A uniform sample of n parameter points misses the ends of its range by about width / n; points
# within this fraction of the width outside the observed [min, max] still count as inside.
THETA_RANGE_TOLERANCE = 0.01


def _as_2d_float(theta: ArrayLike, name: str) -> np.ndarray:
    try:
        t = np.asarray(theta, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric: {exc}") from None
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (n_samples, n_parameters), got shape {t.shape}")
    return t


def theta_for_fit(theta: ArrayLike, y01: np.ndarray) -> np.ndarray:
    """Validate the training theta: target rows finite, source rows finite or entirely NaN.

    Returns a float64 array of shape (n_samples, n_parameters).
    """
    t = _as_2d_float(theta, "theta")
    if t.shape[0] != y01.shape[0]:
        raise ValueError(f"theta has {t.shape[0]} rows but X has {y01.shape[0]}")
    if np.isinf(t).any():
        raise ValueError("theta contains infinite values")
    nan = np.isnan(t)
    if nan[y01 == 1].any():
        raise ValueError(
            "theta is NaN on target rows (y == 1): every target event must carry "
            "the parameters it was generated with"
        )
    partial = nan.any(axis=1) & ~nan.all(axis=1)
    if partial.any():
        raise ValueError(
            "theta has rows with some but not all parameters NaN; a source row is "
            "either fully given or fully NaN (filled from the target rows)"
        )
    return t


def trained_range(theta: np.ndarray, y01: np.ndarray) -> np.ndarray:
    """The range a parametrized reweighting is trained on: the minimum and maximum of every
    parameter over the target rows (y == 1), where theta is given (:func:`theta_for_fit`).

    Returns
    -------
    range : ndarray of shape (2, n_parameters)
        Row 0 the minima, row 1 the maxima.

    Examples
    --------
    >>> trained_range(np.array([[np.nan], [-1.0], [2.0]]), np.array([0, 1, 1]))
    array([[-1.],
           [ 2.]])
    """
    target = theta[y01 == 1]
    return np.vstack([target.min(axis=0), target.max(axis=0)])


def outside_range(theta: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Which entries of ``theta`` (shape (n_points, n_parameters)) lie outside ``[low, high]``
    by more than :data:`THETA_RANGE_TOLERANCE` of the range's width (boolean, same shape)."""
    slack = THETA_RANGE_TOLERANCE * (high - low)
    return (theta < low - slack) | (theta > high + slack)


def fill_source_theta(
    theta: np.ndarray, y01: np.ndarray, sample_weight: np.ndarray, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Give NaN rows of the source sample parameter points drawn from the target rows.

    The nominal sample has no parameter of its own. Its rows receive points drawn from the
    target's *weighted* theta distribution, so that theta alone carries no information about the
    class and the classifier learns :math:`p(x|\\theta) / p(x|\\theta_0)` at every theta (SRGN
    paper, section II). Target row :math:`j` is drawn with probability
    :math:`|w_j| / \\sum_k |w_k|`, and the source row's weight is multiplied by
    :math:`\\operatorname{sign}(w_j) \\sum_k |w_k| / \\sum_k w_k`, which reproduces the signed
    weighted theta distribution in expectation, negative target weights included (the factor is
    one for every row when the target weights are positive).

    Returns
    -------
    filled : ndarray of shape (n_samples, n_parameters)
    weight_factor : ndarray of shape (n_samples,)
        Multiplies the source rows' event weights; one on every row that was not filled.
    """
    out = theta.copy()
    factor = np.ones(theta.shape[0])
    missing = np.isnan(out).all(axis=1)
    if missing.any():
        pool = out[y01 == 1]
        w = sample_weight[y01 == 1]
        magnitude = np.abs(w)
        draw = rng.choice(pool.shape[0], size=int(missing.sum()), p=magnitude / magnitude.sum())
        out[missing] = pool[draw]
        factor[missing] = np.sign(w[draw]) * magnitude.sum() / w.sum()
    return out, factor


def broadcast_theta(theta: ArrayLike, n_samples: int, n_parameters: int) -> np.ndarray:
    """One parameter point (shape (n_parameters,) or scalar) for every row, or one per row."""
    try:
        t = np.asarray(theta, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"theta must be numeric: {exc}") from None
    if t.size == n_parameters and (t.ndim <= 1 or t.shape == (1, n_parameters)):
        t = np.broadcast_to(t.reshape(1, n_parameters), (n_samples, n_parameters))
    elif t.ndim == 1 and n_parameters == 1 and t.shape[0] == n_samples:
        t = t[:, None]
    if t.shape != (n_samples, n_parameters):
        raise ValueError(
            f"theta must have shape ({n_parameters},) or ({n_samples}, "
            f"{n_parameters}), got {np.shape(theta)}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError("theta contains NaN or infinite values")
    return t


def check_in_range(
    theta: np.ndarray, low: np.ndarray, high: np.ndarray, names: Sequence[str]
) -> None:
    """Raise a ValueError when any point lies outside the trained range (with tolerance)."""
    outside = outside_range(theta, low, high)
    if outside.any():
        j = int(np.flatnonzero(outside.any(axis=0))[0])
        bad = theta[:, j][outside[:, j]]
        raise ValueError(
            f"theta[{names[j]}] = {bad[0]:.6g} lies outside the range seen in training "
            f"[{low[j]:.6g}, {high[j]:.6g}]; set allow_extrapolation=True to predict there anyway"
        )
