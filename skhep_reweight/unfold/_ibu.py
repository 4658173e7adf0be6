r"""Iterative Bayesian unfolding (D'Agostini) of histograms, and its response matrix from events.

Conventions
-----------
- ``response[j, i]`` is the probability that an event generated in truth bin :math:`i` is
  reconstructed (passes the detector selection) in reco bin :math:`j`. Rows are reco bins,
  columns truth bins, as in ``reco_counts = response @ truth_counts``. A column sums to that truth
  bin's *efficiency* :math:`\epsilon_i \le 1`: events that fail the selection or are
  reconstructed outside the reco bins are the inefficiency.
- Alternatively a *migration* matrix (columns summing to one, the reco distribution of the
  events that are reconstructed) is given together with ``efficiency``; the response is then
  ``migration * efficiency``. One of the two, never both: a normalized migration matrix without
  ``efficiency`` would mean full efficiency.
- ``fakes`` are the expected counts of reconstructed events without a truth counterpart in the
  unfolded range, in the data's units (scale the simulation's fake histogram to the data's
  luminosity). They are a fixed extra cause: the update shares each data count between the truth
  bins and the fakes in proportion to what each is expected to contribute, which for an
  invertible response converges to :math:`R^{-1}(d - f)` without ever subtracting a count.
- The result is in counts (the data's units); the prior only fixes the starting shape and is
  scaled so that its folded total plus the fakes equals the data's total.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["iterative_bayesian_unfolding", "response_matrix"]

# Largest column sum of a response accepted as "<= 1": leaves room for rounding in a matrix
# built from weighted events, catches a matrix normalized along the wrong axis.
_RESPONSE_SUM_TOLERANCE = 1e-6


def _as_finite_1d(value: ArrayLike, name: str, size: int | None = None) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    if size is not None and array.size != size:
        raise ValueError(f"{name} must have {size} entries, got {array.size}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf.")
    return array


def _check_response(
    response: ArrayLike, efficiency: ArrayLike | None, n_reco: int
) -> tuple[np.ndarray, np.ndarray]:
    """The full response (columns summing to the efficiency) and the efficiency."""
    R = np.asarray(response, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != n_reco:
        raise ValueError(
            f"response must be 2-D of shape (n_reco_bins, n_truth_bins) = ({n_reco}, ...), "
            f"got shape {R.shape}."
        )
    if not np.all(np.isfinite(R)) or np.any(R < 0):
        raise ValueError("response must be finite and non-negative.")
    sums = R.sum(axis=0)
    if efficiency is None:
        if np.any(sums > 1 + _RESPONSE_SUM_TOLERANCE):
            raise ValueError(
                "the columns of response (truth bins) must sum to at most 1 (the efficiency): "
                f"largest sum {sums.max():.6g}. Is it normalized along the reco axis?"
            )
        eff = sums
    else:
        eff = _as_finite_1d(efficiency, "efficiency", R.shape[1])
        if np.any(eff < 0) or np.any(eff > 1):
            raise ValueError("efficiency must lie in [0, 1].")
        if not np.allclose(sums, 1.0, rtol=0, atol=_RESPONSE_SUM_TOLERANCE):
            raise ValueError(
                "with efficiency given, response must be the migration matrix: every column "
                f"sums to 1, got sums from {sums.min():.6g} to {sums.max():.6g}."
            )
        R = R * eff
    unmeasured = np.flatnonzero(eff <= 0)
    if unmeasured.size:
        raise ValueError(
            f"truth bins {unmeasured.tolist()} have zero efficiency: the data say nothing "
            "about them; remove them from the truth binning."
        )
    return R, eff


def _ibu_step(
    t: np.ndarray, d: np.ndarray, R: np.ndarray, eff: np.ndarray, f: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One update and the factor ``d_j / m_j`` with ``m = R t + f`` (0 where ``m_j = 0``)."""
    m = R @ t + f
    ratio = np.divide(d, m, out=np.zeros_like(d), where=m != 0)
    return t * (R.T @ ratio) / eff, ratio


def _ibu_jacobian_step(
    J: np.ndarray, t: np.ndarray, d: np.ndarray, R: np.ndarray, eff: np.ndarray, f: np.ndarray
) -> np.ndarray:
    r""":math:`\partial t^{(n)}/\partial d` from :math:`J = \partial t^{(n-1)}/\partial d`."""
    m = R @ t + f
    inv_m = np.divide(1.0, m, out=np.zeros_like(m), where=m != 0)
    ratio = d * inv_m
    # t_i^(n) = t_i s_i / eps_i with s_i = sum_j R_ji d_j / m_j and dm/dd = R J
    ds = R.T * inv_m - (R.T * (ratio * inv_m)) @ (R @ J)
    return ((R.T @ ratio)[:, None] * J + t[:, None] * ds) / eff[:, None]


def iterative_bayesian_unfolding(
    data: ArrayLike,
    response: ArrayLike,
    *,
    prior: ArrayLike | None = None,
    n_iterations: int = 4,
    efficiency: ArrayLike | None = None,
    fakes: ArrayLike | None = None,
    data_variance: ArrayLike | None = None,
    return_iterations: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Unfold a histogram by D'Agostini's iteration.

    With data counts :math:`d_j`, response :math:`R_{ji}`, efficiency
    :math:`\epsilon_i = \sum_j R_{ji}` and expected fakes :math:`f_j`, each iteration updates
    the truth estimate :math:`t` (the prior at :math:`n = 0`) as

    .. math::

        t_i^{(n)} = \frac{t_i^{(n-1)}}{\epsilon_i} \sum_j
            \frac{R_{ji}\, d_j}{\sum_k R_{jk}\, t_k^{(n-1)} + f_j} .

    Parameters
    ----------
    data : array-like of shape (n_reco_bins,)
        Data counts or sums of event weights (negative weights and bins allowed, e.g. after a
        background subtraction).
    response : array-like of shape (n_reco_bins, n_truth_bins)
        ``response[j, i]`` :math:`= P(\text{reco } j \mid \text{truth } i)`; columns sum to the
        efficiency. With ``efficiency`` given: the migration matrix, columns summing to one.
    prior : array-like of shape (n_truth_bins,), default=None
        Starting truth shape, usually the simulation's truth histogram; ``None``: uniform.
        Scaled so that ``response @ prior + fakes`` has the data's total.
    n_iterations : int, default=4
        Number of updates (0 returns the scaled prior).
    efficiency : array-like of shape (n_truth_bins,), default=None
        Probability that an event of each truth bin is reconstructed in a reco bin, when
        ``response`` is the migration matrix; ``None``: the column sums of ``response``.
    fakes : array-like of shape (n_reco_bins,), default=None
        Expected counts of reconstructed events with no truth in the unfolded range, in the
        data's units; a fixed extra cause (see the module docstring). ``None``: no fakes.
    data_variance : array-like of shape (n_reco_bins,), default=None
        Variance of each data bin (the counts for Poisson data, the sum of squared weights for
        weighted data). When given, the covariance of the result is returned too, propagated
        through all iterations by the exact Jacobian :math:`J = \partial t^{(n)}/\partial d`:
        :math:`V_t = J\, \mathrm{diag}(\mathrm{Var}\, d)\, J^\top` (the data's statistical
        uncertainty only; the response is taken as exact).
    return_iterations : bool, default=False
        Return every iteration, the scaled prior first.

    Returns
    -------
    unfolded : ndarray of shape (n_truth_bins,)
        The truth estimate in counts; with ``return_iterations``, shape
        (n_iterations + 1, n_truth_bins).
    covariance : ndarray of shape (n_truth_bins, n_truth_bins)
        Only with ``data_variance``; with ``return_iterations``, shape
        (n_iterations + 1, n_truth_bins, n_truth_bins).

    Warns
    -----
    UserWarning
        When data lie in reco bins that neither the response nor the fakes can populate: those
        data cannot be attributed to any truth bin and are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.unfold import iterative_bayesian_unfolding
    >>> response = np.array([[0.8, 0.1], [0.1, 0.7]])  # efficiencies 0.9 and 0.8
    >>> truth = np.array([1000.0, 500.0])
    >>> data = response @ truth
    >>> np.round(iterative_bayesian_unfolding(data, response, n_iterations=500), 1)
    array([1000.,  500.])
    """
    d = _as_finite_1d(data, "data")
    R, eff = _check_response(response, efficiency, d.size)
    n_truth = R.shape[1]
    f = np.zeros_like(d) if fakes is None else _as_finite_1d(fakes, "fakes", d.size)
    if isinstance(n_iterations, bool) or not isinstance(n_iterations, numbers.Integral):
        raise TypeError(f"n_iterations must be an integer, got {n_iterations!r}.")
    if n_iterations < 0:
        raise ValueError(f"n_iterations must be at least 0, got {n_iterations}.")
    if prior is None:
        t = np.ones(n_truth)
    else:
        t = _as_finite_1d(prior, "prior", n_truth)
        if np.any(t < 0) or not np.any(t > 0):
            raise ValueError("prior must be non-negative with at least one positive bin.")
    signal_total = d.sum() - f.sum()
    folded_total = (R @ t).sum()
    if signal_total <= 0:
        raise ValueError(
            f"the data total minus the fakes must be positive, got {signal_total:.6g}."
        )
    if folded_total <= 0:
        raise ValueError("the prior folds to nothing: no reco bin is populated.")
    orphans = np.flatnonzero((d != 0) & (R.sum(axis=1) == 0) & (f == 0))
    if orphans.size:
        warnings.warn(
            f"data in reco bins {orphans.tolist()} (total {d[orphans].sum():.6g}) that neither "
            "the response nor the fakes populate: they are not attributed to any truth bin.",
            UserWarning,
            stacklevel=2,
        )
    t = t * (signal_total / folded_total)
    variance = None
    if data_variance is not None:
        variance = _as_finite_1d(data_variance, "data_variance", d.size)
        if np.any(variance < 0):
            raise ValueError("data_variance must be non-negative.")
    J = np.zeros((n_truth, d.size))
    # The scaled prior t0 = prior * (sum d - sum f) / folded_total depends on every d_j:
    # d t0 / d d_j = t0 / (sum d - sum f).
    J += (t / signal_total)[:, None]
    history, jacobians = [t], [J]
    for _ in range(n_iterations):
        if variance is not None:
            J = _ibu_jacobian_step(J, t, d, R, eff, f)
            jacobians.append(J)
        t, _ = _ibu_step(t, d, R, eff, f)
        history.append(t)
    if not return_iterations:
        history, jacobians = history[-1:], jacobians[-1:]
    unfolded = np.array(history)
    if variance is not None:
        covariance = np.array([(Jn * variance) @ Jn.T for Jn in jacobians])
        if not return_iterations:
            return unfolded[0], covariance[0]
        return unfolded, covariance
    return unfolded if return_iterations else unfolded[0]


def _check_events(value: ArrayLike, name: str, n: int | None) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one feature), got shape {array.shape}.")
    if n is not None and array.size != n:
        raise ValueError(f"{name} must have {n} entries like truth, got {array.size}.")
    return array


def _check_mask(value: ArrayLike | None, name: str, n: int) -> np.ndarray:
    if value is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(value)
    if mask.dtype != bool:
        raise TypeError(f"{name} must be a boolean mask, got dtype {mask.dtype}.")
    if mask.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {mask.shape}.")
    return mask


def _check_edges(value: ArrayLike, name: str) -> np.ndarray:
    edges = np.asarray(value, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"{name} must be 1-D bin edges with at least two entries.")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{name} must be finite and strictly increasing.")
    return edges


def response_matrix(
    truth: ArrayLike,
    reco: ArrayLike,
    truth_bins: ArrayLike,
    reco_bins: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pass_reco: ArrayLike | None = None,
    pass_gen: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""The response, efficiency, fake and truth histograms of a simulated sample.

    Every simulated event has a truth value (used where ``pass_gen``) and a reco value (used
    where ``pass_reco``); the unused value of an event may be anything, NaN included. Bins
    follow :func:`numpy.histogram`: half-open ``[a, b)``, the last one closed.

    - ``truth_histogram[i]``: the weight of the events with ``pass_gen`` in truth bin ``i``,
      reconstructed or not (the prior for :func:`iterative_bayesian_unfolding`);
    - ``response[j, i]``: the weight of those also reconstructed in reco bin ``j``, divided by
      ``truth_histogram[i]`` (a column of an empty truth bin is zero);
    - ``efficiency[i]`` :math:`= \sum_j` ``response[j, i]``: events that fail ``pass_reco`` or
      land outside the reco bins are lost;
    - ``fakes_histogram[j]``: the weight of reconstructed events in reco bin ``j`` without a
      truth in the truth bins (``pass_gen`` false, or a truth outside ``truth_bins``), in the
      simulation's units.

    Parameters
    ----------
    truth, reco : array-like of shape (n_events,)
        Generator- and detector-level values of one observable, event by event.
    truth_bins, reco_bins : array-like
        Bin edges, strictly increasing.
    weight : array-like of shape (n_events,), default=None
        Generator weights (negative weights allowed); ``None``: one per event.
    pass_reco, pass_gen : array-like of bool of shape (n_events,), default=None
        Whether each event is reconstructed, and whether it has a generator-level event (False:
        a fake); ``None``: all True.

    Returns
    -------
    response : ndarray of shape (n_reco_bins, n_truth_bins)
    efficiency : ndarray of shape (n_truth_bins,)
    fakes_histogram : ndarray of shape (n_reco_bins,)
    truth_histogram : ndarray of shape (n_truth_bins,)

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.unfold import iterative_bayesian_unfolding, response_matrix
    >>> rng = np.random.default_rng(0)
    >>> gen = rng.normal(0.0, 1.0, 20_000)
    >>> sim = gen + rng.normal(0.0, 0.3, gen.size)
    >>> true = rng.normal(0.3, 1.0, 20_000)
    >>> bins = np.linspace(-4.0, 4.0, 9)
    >>> R, eff, fakes, prior = response_matrix(gen, sim, bins, bins)
    >>> data = np.histogram(true + rng.normal(0.0, 0.3, true.size), bins)[0]
    >>> unfolded = iterative_bayesian_unfolding(data, R, prior=prior, n_iterations=4)
    >>> target = np.histogram(true, bins)[0]
    >>> print(bool(np.all(np.abs(unfolded - target) < 5 * np.sqrt(target + 25))))
    True
    """
    truth = _check_events(truth, "truth", None)
    n = truth.size
    reco = _check_events(reco, "reco", n)
    t_edges = _check_edges(truth_bins, "truth_bins")
    r_edges = _check_edges(reco_bins, "reco_bins")
    w = np.ones(n) if weight is None else _as_finite_1d(weight, "weight", n)
    pass_reco = _check_mask(pass_reco, "pass_reco", n)
    pass_gen = _check_mask(pass_gen, "pass_gen", n)
    if not np.all(np.isfinite(truth[pass_gen])):
        raise ValueError("truth contains NaN or inf in events with pass_gen.")
    if not np.all(np.isfinite(reco[pass_reco])):
        raise ValueError("reco contains NaN or inf in events with pass_reco.")
    in_truth = np.zeros(n, dtype=bool)
    in_truth[pass_gen] = (truth[pass_gen] >= t_edges[0]) & (truth[pass_gen] <= t_edges[-1])
    truth_histogram = np.histogram(truth[in_truth], t_edges, weights=w[in_truth])[0]
    matched = in_truth & pass_reco
    counts = np.histogram2d(reco[matched], truth[matched], [r_edges, t_edges], weights=w[matched])[
        0
    ]
    response = np.divide(
        counts, truth_histogram, out=np.zeros_like(counts), where=truth_histogram != 0
    )
    fake = pass_reco & ~in_truth
    fakes_histogram = np.histogram(reco[fake], r_edges, weights=w[fake])[0]
    return response, response.sum(axis=0), fakes_histogram, truth_histogram
