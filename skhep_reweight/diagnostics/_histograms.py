"""Weighted histograms, their ratio with errors, and the binning of one feature."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_finite_array, check_event_weights

# Central fraction of the pooled events that the default binning covers: the range runs from the
# 0.5 % to the 99.5 % quantile of source and target together, so that a few outliers do not
# squash the bulk of the distribution into one or two bins.
EDGE_QUANTILES = (0.005, 0.995)


def weighted_histogram(
    values: ArrayLike, bins: int | ArrayLike, weights: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Sum of weights and sum of squared weights of the events in each bin.

    .. math::

        S_b = \sum_{i \in b} w_i, \qquad V_b = \sum_{i \in b} w_i^2 .

    :math:`V_b` is the variance of :math:`S_b` when the events are independent (for unit weights
    it is the Poisson variance :math:`S_b`). Bins are closed on the left and open on the right,
    except the last, which also holds its right edge; events outside the edges are not counted
    (the rules of :func:`numpy.histogram`).

    Parameters
    ----------
    values : array-like of shape (n_events,)
        One feature of the events; finite.
    bins : int or array-like of shape (n_bins + 1,)
        Increasing bin edges, or a number of equal-width bins between the smallest and largest
        value (:func:`numpy.histogram_bin_edges`).
    weights : array-like of shape (n_events,), default=None
        Event weights (unit weights if None); negative weights are accepted.

    Returns
    -------
    sumw : ndarray of shape (n_bins,)
        :math:`S_b`, the sum of the weights in each bin.
    sumw2 : ndarray of shape (n_bins,)
        :math:`V_b`, the sum of the squared weights in each bin.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D or holds NaN/inf, or ``weights`` has the wrong length or holds
        NaN/inf.

    Examples
    --------
    >>> from skhep_reweight.diagnostics import weighted_histogram
    >>> sumw, sumw2 = weighted_histogram([0.1, 0.2, 0.7], [0.0, 0.5, 1.0], weights=[1, 2, 3])
    >>> print(sumw, sumw2)
    [3. 3.] [5. 9.]
    """
    values = as_finite_array(values, "values")
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {values.shape}.")
    weight = check_event_weights(weights, values.shape[0], "weights")
    edges = np.histogram_bin_edges(values, bins)
    sumw, _ = np.histogram(values, edges, weights=weight)
    sumw2, _ = np.histogram(values, edges, weights=weight**2)
    return sumw.astype(np.float64), sumw2.astype(np.float64)


def ratio_with_errors(
    num: ArrayLike, num_var: ArrayLike, den: ArrayLike, den_var: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Bin-by-bin ratio of two independent histograms and its standard error.

    .. math::

        r_b = \frac{N_b}{D_b}, \qquad
        \sigma_{r_b} = r_b \sqrt{\frac{\mathrm{Var}\,N_b}{N_b^2}
                                  + \frac{\mathrm{Var}\,D_b}{D_b^2}}
                     = \frac{\sqrt{\mathrm{Var}\,N_b + r_b^2\,\mathrm{Var}\,D_b}}{|D_b|},

    first-order error propagation for independent numerator and denominator. For weighted
    histograms the variances are the sums of squared weights (:func:`weighted_histogram`), not the
    sums of weights. The second form is the one evaluated, so a bin with :math:`N_b = 0` gets the
    error :math:`\sqrt{\mathrm{Var}\,N_b}/|D_b|` instead of 0 times infinity.

    Normalized histograms: if :math:`N` and :math:`D` are divided by constants :math:`c_N` and
    :math:`c_D` (their totals, or totals times bin widths, to compare shapes), pass the variances
    divided by :math:`c_N^2` and :math:`c_D^2`. The fluctuation of the totals themselves is
    neglected, which overstates the variance of a bin by the fraction of the total it holds (about
    1/n_bins).

    Parameters
    ----------
    num, num_var : array-like of shape (n_bins,)
        Numerator histogram and the variance of each of its bins.
    den, den_var : array-like of shape (n_bins,)
        Denominator histogram and its variances.

    Returns
    -------
    ratio : ndarray of shape (n_bins,)
        :math:`N_b / D_b`; NaN where :math:`D_b = 0`.
    error : ndarray of shape (n_bins,)
        Its standard error; NaN where :math:`D_b = 0`.

    Raises
    ------
    ValueError
        If the four arrays differ in shape, hold NaN/inf, or a variance is negative.

    Examples
    --------
    >>> from skhep_reweight.diagnostics import ratio_with_errors
    >>> ratio, error = ratio_with_errors([4.0], [4.0], [2.0], [1.0])
    >>> print(ratio, error)  # 2 * sqrt(4 / 16 + 1 / 4)
    [2.] [1.41421356]
    """
    arrays = []
    for name, array in (("num", num), ("num_var", num_var), ("den", den), ("den_var", den_var)):
        arrays.append(as_finite_array(array, name))
        if arrays[-1].shape != arrays[0].shape:
            raise ValueError(
                f"{name} has shape {arrays[-1].shape} but num has shape {arrays[0].shape}."
            )
    num, num_var, den, den_var = arrays
    for name, array in (("num_var", num_var), ("den_var", den_var)):
        if np.any(array < 0):
            raise ValueError(f"{name} holds negative variances.")
    empty = den == 0
    safe_den = np.where(empty, 1.0, den)
    ratio = num / safe_den
    error = np.sqrt(num_var + ratio**2 * den_var) / np.abs(safe_den)
    ratio[empty] = np.nan
    error[empty] = np.nan
    return ratio, error


def feature_edges(source_values: np.ndarray, target_values: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges for one feature: ``bins`` equal-width bins between the pooled quantiles.

    The range runs over the :data:`EDGE_QUANTILES` (0.5 % and 99.5 %) of source and target
    pooled, unweighted. A feature with integer values only gets edges on half-integers, each bin
    a whole number of values wide (at most ``bins`` bins), so that no bin is empty by aliasing.
    """
    pooled = np.concatenate([source_values, target_values])
    low, high = np.quantile(pooled, EDGE_QUANTILES)
    if np.all(pooled == np.round(pooled)):
        low, high = np.floor(low), np.ceil(high)
        width = max(1.0, np.ceil((high - low + 1) / bins))
        n_bins = int(np.ceil((high - low + 1) / width))
        return low - 0.5 + width * np.arange(n_bins + 1)
    if high <= low:
        # a (nearly) constant feature: one bin around its value
        return np.array([low - 0.5, low + 0.5])
    return np.linspace(low, high, bins + 1)


def normalized_histogram(
    values: np.ndarray | object,
    edges: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of events or of a filled histogram object, as a density of unit area.

    ``values`` is either a 1-D array of events (filled with ``weights`` into ``edges``) or an
    object with ``values()`` and ``variances()`` (such as a ``hist.Hist`` with weight storage),
    taken as it is. With ``normalize``, contents are divided by their total over the bins times the
    bin width, and the variances by the square of that factor.
    """
    if _is_histogram(values):
        sumw = as_finite_array(values.values(), "values()")
        variances = values.variances()
        if variances is None:
            raise ValueError(
                "the histogram has no variances (a hist filled with weights needs "
                "storage=hist.storage.Weight()); sums of squared weights are needed for the "
                "error bars"
            )
        sumw2 = as_finite_array(variances, "variances()")
    else:
        sumw, sumw2 = weighted_histogram(values, edges, weights)
    if not normalize:
        return sumw, sumw2
    total = sumw.sum()
    if not total > 0:
        raise ValueError(f"a histogram sums to {total:.6g} over the bins; it cannot be normalized")
    scale = 1.0 / (total * np.diff(edges))
    return sumw * scale, sumw2 * scale**2


def _is_histogram(values: object) -> bool:
    """Whether ``values`` is a filled histogram object rather than an array of events."""
    return hasattr(values, "values") and hasattr(values, "variances") and hasattr(values, "axes")


def histogram_edges(histogram: object) -> np.ndarray:
    """The bin edges of a histogram object's first axis (``axes[0].edges``)."""
    edges = as_finite_array(histogram.axes[0].edges, "axes[0].edges")
    if edges.ndim != 1 or edges.shape[0] < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("axes[0].edges must be 1-D, increasing, with at least two edges.")
    return edges
