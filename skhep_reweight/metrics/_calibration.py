"""Bias and resolution of a calibration in bins of truth."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from .._validation import (
    as_finite_array,
    check_event_weights,
)
from ._checks import _check_values


def calibration_bias_resolution(
    z: ArrayLike,
    z_hat: ArrayLike,
    bins: int | ArrayLike,
    sample_weight: ArrayLike | None = None,
) -> Bunch:
    r"""Bias and resolution of a calibration in bins of the truth.

    A calibration estimates the true value :math:`z` of an event from its measurement; call the
    estimate :math:`\hat z`. In every bin :math:`b` of :math:`z` the bias is the weighted mean of
    the residual :math:`r = \hat z - z` and the resolution its weighted standard deviation,

    .. math::

        \mathrm{bias}_b = \frac{\sum_{i \in b} w_i r_i}{\sum_{i \in b} w_i}, \qquad
        \mathrm{resolution}_b = \sqrt{\frac{\sum_{i \in b} w_i
            \left(r_i - \mathrm{bias}_b\right)^2}{\sum_{i \in b} w_i}}

    (the population definition, as in :func:`weighted_mean_std`). Binning in the truth, not in
    the measurement, is what exposes the prior dependence of a calibration: a mean-squared-error
    regression is unbiased in bins of the measurement and biased in bins of the truth (section
    IV.A of [1]_).

    Parameters
    ----------
    z : array-like of shape (n_samples,)
        True values.
    z_hat : array-like of shape (n_samples,)
        Calibrated (estimated) values of the same events.
    bins : int or array-like of shape (n_bins + 1,)
        Number of equal-width bins spanning ``[min(z), max(z)]``, or the bin edges, strictly
        increasing. As in :func:`numpy.histogram`, every bin is half-open ``[low, high)`` except
        the last, which includes its upper edge; events outside the edges are left out.
    sample_weight : array-like of shape (n_samples,), default=None
        Event weights (unit weights if None). Negative weights are accepted.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With the entries

        ``edges`` : ndarray of shape (n_bins + 1,)
            The bin edges.
        ``centers`` : ndarray of shape (n_bins,)
            The midpoints of the bins.
        ``counts`` : ndarray of shape (n_bins,), int
            The number of events in each bin (not weighted).
        ``bias`` : ndarray of shape (n_bins,)
            The weighted mean of ``z_hat - z`` in each bin.
        ``resolution`` : ndarray of shape (n_bins,)
            The weighted standard deviation of ``z_hat - z`` in each bin.

        A bin without events, or whose weights do not sum to a positive number, has NaN bias and
        resolution; a bin whose weighted variance is negative (possible only with negative
        weights) has NaN resolution. A bin with one event has resolution 0.

    Raises
    ------
    ValueError
        Naming the argument: ``z`` or ``z_hat`` not 1-D, empty, of different lengths or holding
        NaN/inf; ``bins`` not a positive integer nor strictly increasing finite edges, or an
        integer with all ``z`` equal; ``sample_weight`` of the wrong length or with NaN/inf.

    References
    ----------
    .. [1] R. Gambhir, B. Nachman, J. Thaler, "Bias and Priors in Machine Learning Calibrations
       for High Energy Physics", Phys. Rev. D 106, 036011 (2022), arXiv:2205.05084.

    Examples
    --------
    >>> from skhep_reweight.metrics import calibration_bias_resolution
    >>> z = [0.5, 0.5, 1.5, 1.5]
    >>> z_hat = [0.6, 1.0, 1.5, 1.7]  # residuals 0.1 and 0.5, then 0.0 and 0.2
    >>> result = calibration_bias_resolution(z, z_hat, bins=[0.0, 1.0, 2.0, 3.0])
    >>> print(result.centers, result.counts)
    [0.5 1.5 2.5] [2 2 0]
    >>> print(result.bias.round(6), result.resolution.round(6))  # the last bin is empty
    [0.3 0.1 nan] [0.2 0.1 nan]
    >>> weighted = calibration_bias_resolution(
    ...     z, z_hat, bins=[0.0, 1.0, 2.0], sample_weight=[3.0, 1.0, 1.0, 1.0]
    ... )
    >>> print(weighted.bias.round(6))  # (3 * 0.1 + 0.5) / 4 = 0.2
    [0.2 0.1]
    >>> print(weighted.resolution.round(6))  # sqrt((3 * 0.1^2 + 0.3^2) / 4)
    [0.173205 0.1     ]
    """
    z = _check_values(z, "z")
    z_hat = _check_values(z_hat, "z_hat")
    if z_hat.shape[0] != z.shape[0]:
        raise ValueError(f"z_hat has {z_hat.shape[0]} entries but z has {z.shape[0]}.")
    if np.ndim(sample_weight) == 1 and np.shape(sample_weight)[0] != z.shape[0]:
        raise ValueError(
            f"sample_weight has {np.shape(sample_weight)[0]} entries but z has {z.shape[0]}."
        )
    weight = check_event_weights(sample_weight, z.shape[0], "sample_weight")
    edges = _truth_bin_edges(bins, z)
    n_bins = edges.size - 1
    # The bin of each event, numpy.histogram's convention: the last edge closes the last bin.
    index = np.searchsorted(edges, z, side="right") - 1
    index[z == edges[-1]] = n_bins - 1
    inside = (index >= 0) & (index < n_bins)
    index, residual, weight = index[inside], (z_hat - z)[inside], weight[inside]

    counts = np.bincount(index, minlength=n_bins)
    total = np.bincount(index, weights=weight, minlength=n_bins)
    defined = total > 0
    safe_total = np.where(defined, total, 1.0)
    bias = np.where(defined, np.bincount(index, weight * residual, n_bins) / safe_total, np.nan)
    # Two passes: the squared deviations from each bin's own mean, not E[r^2] - E[r]^2.
    deviation = residual - bias[index]
    variance = np.bincount(index, weight * deviation**2, n_bins) / safe_total
    resolution = np.where(defined & (variance >= 0), np.sqrt(np.abs(variance)), np.nan)
    return Bunch(
        edges=edges,
        centers=0.5 * (edges[1:] + edges[:-1]),
        counts=counts,
        bias=bias,
        resolution=resolution,
    )


def _truth_bin_edges(bins: int | ArrayLike, z: np.ndarray) -> np.ndarray:
    """Edges from a number of equal-width bins over the span of ``z``, or checked edges."""
    if np.ndim(bins) == 0:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be a positive integer or an array of edges, got {bins!r}.")
        low, high = float(z.min()), float(z.max())
        if not low < high:
            raise ValueError(f"bins={bins} needs z to span a range, but every z is {low}.")
        return np.linspace(low, high, int(bins) + 1)
    edges = as_finite_array(bins, "bins")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two strictly increasing edges.")
    return edges
