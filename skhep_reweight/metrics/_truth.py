"""Truth-correction weights of generated events (eq. 10 of the weighted-GAN paper)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._validation import (
    as_finite_array,
    check_samples,
)
from ._checks import _check_weight

# Gauss-Legendre points per dimension and bin when the truth is a density function: exact for
# polynomials of degree 5 within a bin, so that a peak a few bins wide is integrated to 1e-4.
_QUADRATURE_ORDER = 3


def _bin_edges(
    bins: int | Sequence, ranges: Sequence[Sequence[float]], n_features: int
) -> list[np.ndarray]:
    if np.ndim(bins) == 0:
        bins = [bins] * n_features
    if len(bins) != n_features or len(ranges) != n_features:
        raise ValueError(
            f"bins and range need one entry per feature ({n_features}), got {len(bins)} and "
            f"{len(ranges)}"
        )
    edges = []
    for b, (low, high) in zip(bins, ranges, strict=True):
        if np.ndim(b) == 0:
            if int(b) < 1:
                raise ValueError(f"bins must be positive, got {b}")
            if not (np.isfinite(low) and np.isfinite(high) and low < high):
                raise ValueError(
                    f"each range must be finite (low, high) with low < high, got {(low, high)}"
                )
            edges.append(np.linspace(low, high, int(b) + 1))
        else:
            e = as_finite_array(b, "bins").astype(np.float64)
            if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
                raise ValueError("explicit bin edges must be 1-D and strictly increasing")
            edges.append(e)
    return edges


def _binned_density(
    density: Callable[[np.ndarray], ArrayLike], edges: list[np.ndarray]
) -> np.ndarray:
    """Integral of ``density`` over every bin (a tensor-product Gauss-Legendre rule)."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_ORDER)
    axes_points, axes_weights = [], []
    for e in edges:
        half = 0.5 * np.diff(e)
        mid = 0.5 * (e[1:] + e[:-1])
        axes_points.append((mid[:, None] + half[:, None] * nodes).ravel())
        axes_weights.append((half[:, None] * weights).ravel())
    grids = np.meshgrid(*axes_points, indexing="ij")
    points = np.column_stack([g.ravel() for g in grids])
    values = np.asarray(density(points), dtype=np.float64).reshape(grids[0].shape)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("the truth density must return finite, non-negative values")
    for axis, w in enumerate(axes_weights):
        values = np.moveaxis(np.moveaxis(values, axis, -1) * w, -1, axis)
    shape = tuple(len(e) - 1 for e in edges)
    for axis, n in enumerate(shape):
        values = np.add.reduceat(
            values, np.arange(0, n * _QUADRATURE_ORDER, _QUADRATURE_ORDER), axis=axis
        )
    return values


def truth_correction_weights(
    X_generated: ArrayLike,
    truth: ArrayLike | Callable[[np.ndarray], ArrayLike],
    *,
    truth_weight: ArrayLike | None = None,
    bins: int | Sequence = 50,
    range: Sequence[Sequence[float]] | None = None,
) -> np.ndarray:
    r"""Truth-correction weights of generated unweighted events, eq. (10) of [1]_.

    In narrow bins, the ratio of the true probability of the bin to the share of generated
    events in it,

    .. math::

        w_G(x) = \frac{P_T(\text{bin of } x)}{P_G(\text{bin of } x)},

    both normalized over the binned ``range``: the factor that would make the generated sample
    reproduce the truth exactly. A perfect generator gives weights that scatter around one by
    the bins' Poisson noise alone; their spread measures the generator's systematic error.

    Parameters
    ----------
    X_generated : array-like of shape (n_generated, n_features)
        Unweighted generated events.
    truth : array-like of shape (n_truth, n_features), or callable
        Either a (large) sample of the true distribution, with ``truth_weight``, or the true
        density, a function of an array of shape (m, n_features) returning m values (it is
        integrated over each bin by a 3-point Gauss-Legendre rule per dimension; it need not
        be normalized).
    truth_weight : array-like of shape (n_truth,), default=None
        Weights of a truth sample (negative ones allowed; a bin's total must not be negative).
    bins : int, sequence of int, or sequence of arrays, default=50
        Bins per feature, or explicit edges (numpy.histogramdd's convention).
    range : sequence of (low, high), default=None
        The binned region per feature; needed with a density function, else the span of the
        truth sample. Generated events outside it get NaN.

    Returns
    -------
    weights : ndarray of shape (n_generated,)

    References
    ----------
    .. [1] M. Backes, A. Butter, T. Plehn, R. Winterhalder, "How to GAN Event Unweighting",
       SciPost Phys. 10, 089 (2021), arXiv:2012.07873.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import norm
    >>> from skhep_reweight.metrics import truth_correction_weights
    >>> rng = np.random.RandomState(0)
    >>> generated = rng.normal(0.0, 1.1, size=(100_000, 1))  # 10% too wide
    >>> w = truth_correction_weights(generated, lambda X: norm.pdf(X[:, 0]), range=[(-2, 2)])
    >>> print(round(float(np.median(w[np.abs(generated[:, 0]) < 0.3])), 2))  # centre: too few
    1.06
    """
    X_generated = check_samples(X_generated, "X_generated")
    n_features = X_generated.shape[1]
    if callable(truth):
        if range is None:
            raise ValueError("range is needed when truth is a density function")
    else:
        truth = check_samples(truth, "truth")
        if truth.shape[1] != n_features:
            raise ValueError(
                f"truth has {truth.shape[1]} features but X_generated has {n_features}"
            )
        truth_weight = _check_weight(truth_weight, truth.shape[0], "truth_weight")
        if range is None:
            range = list(zip(truth.min(axis=0), truth.max(axis=0), strict=True))
    edges = _bin_edges(bins, list(range), n_features)
    if callable(truth):
        p_truth = _binned_density(truth, edges)
    else:
        p_truth, _ = np.histogramdd(truth, bins=edges, weights=truth_weight)
    p_generated, _ = np.histogramdd(X_generated, bins=edges)
    if not p_truth.sum() > 0:
        raise ValueError("the truth has no (positive) mass inside range")
    if not p_generated.sum() > 0:
        raise ValueError("no generated event falls inside range")
    if np.any(p_truth < 0):
        raise ValueError("the truth weights sum to a negative value in some bins")
    ratio = (p_truth / p_truth.sum()) / np.where(
        p_generated > 0, p_generated / p_generated.sum(), 1.0
    )
    index = []
    inside = np.ones(X_generated.shape[0], dtype=bool)
    for j, e in enumerate(edges):
        k = np.searchsorted(e, X_generated[:, j], side="right") - 1
        k[X_generated[:, j] == e[-1]] = len(e) - 2  # the last edge belongs to the last bin
        inside &= (k >= 0) & (k < len(e) - 1)
        index.append(np.clip(k, 0, len(e) - 2))
    out = ratio[tuple(index)]
    out[~inside] = np.nan
    return out
