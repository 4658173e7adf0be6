r"""Figures of merit for weighted samples and for the quality of a reweighting.

The problem
-----------
After a reweighter has produced weights :math:`w_i` for a *source* sample,
two questions remain: how much statistical power do the weights leave, and
how close is the weighted source to the *target* sample?  This module answers
both with standard, assumption-light statistics:

* :func:`effective_sample_size` -- Kish's effective number of events [1]_,

  .. math::

      n_\mathrm{eff} = \frac{\left(\sum_i w_i\right)^2}{\sum_i w_i^2},

  equal to :math:`n` for unit weights and smaller the more the weights vary.
* :func:`weighted_ks_distance` -- the two-sample Kolmogorov-Smirnov
  statistic [2]_ [3]_ of every feature between weighted empirical CDFs,

  .. math::

      D_j = \sup_t \left| F^{(s)}_j(t) - F^{(t)}_j(t) \right|, \qquad
      F_j(t) = \frac{\sum_i w_i\, [x_{ij} \le t]}{\sum_i w_i},

  where :math:`x_{ij}` is feature :math:`j` of event :math:`i` and
  :math:`[\cdot]` is 1 when the condition holds and 0 otherwise.
* :func:`classifier_two_sample_auc` -- a classifier two-sample test [4]_, as
  used to validate reweighting in hep_ml [5]_: an independent classifier is
  trained to separate the weighted source from the target and its ROC AUC is
  measured on held-out events.  0.5 means the samples cannot be told apart;
  for two 1-D Gaussians of unit width a distance :math:`\Delta` apart the best
  possible AUC is :math:`\Phi(\Delta/\sqrt{2})`, with :math:`\Phi` the
  standard normal CDF.
* :func:`weighted_mean_std` -- per-feature weighted mean and standard deviation.
* :func:`truth_correction_weights` -- the binned ratio :math:`P_T/P_G` of a true density to
  the density of generated, unweighted events, per generated event (eq. 10 of [6]_).

Conventions
-----------
Samples are array-likes of shape ``(n_samples, n_features)`` (numpy arrays or
pandas objects); a 1-D array is one feature.  Weights are 1-D with one entry
per row and default to 1.  Each sample's weights are normalized internally, so
only their relative sizes matter; negative weights (common in NLO event
generation) are accepted, but each sample's weights must sum to a positive
number.

Examples
--------
>>> import numpy as np
>>> from skhep_reweight.metrics import effective_sample_size, weighted_ks_distance
>>> rng = np.random.RandomState(0)
>>> source, target = rng.normal(0, 1, 500), rng.normal(1, 1, 500)
>>> w = np.exp(source - 0.5)  # exact weight of N(0, 1) -> N(1, 1)
>>> print(bool(weighted_ks_distance(source, target)[0] > 0.3))  # before reweighting
True
>>> print(bool(weighted_ks_distance(source, target, source_weight=w)[0] < 0.1))  # after
True
>>> print(round(effective_sample_size(w) / len(w), 1))  # 1 / E[w^2] = 1/e
0.4

References
----------
.. [1] L. Kish, "Survey Sampling", Wiley, New York (1965).
.. [2] A. N. Kolmogorov, "Sulla determinazione empirica di una legge di
   distribuzione", Giornale dell'Istituto Italiano degli Attuari 4, 83 (1933).
.. [3] N. Smirnov, "Table for estimating the goodness of fit of empirical
   distributions", Ann. Math. Statist. 19, 279 (1948).
.. [4] D. Lopez-Paz and M. Oquab, "Revisiting classifier two-sample tests",
   ICLR 2017, arXiv:1610.06545.
.. [5] A. Rogozhnikov, "Reweighting with boosted decision trees",
   J. Phys.: Conf. Ser. 762, 012036 (2016), arXiv:1608.05806.
.. [6] M. Backes, A. Butter, T. Plehn, R. Winterhalder, "How to GAN Event
   Unweighting", SciPost Phys. 10, 089 (2021), arXiv:2012.07873.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from ._validation import (
    as_finite_array,
    check_event_weights,
    check_samples,
    class_balanced_weights,
)

__all__ = [
    "classifier_two_sample_auc",
    "effective_sample_size",
    "truth_correction_weights",
    "weighted_ks_distance",
    "weighted_mean_std",
]

# Hyperparameters of the default classifier of `classifier_two_sample_auc`: a
# modest gradient-boosted ensemble of depth-3 trees (interactions of up to three
# features), fast on 10^4..10^5 events.  Shallow trees with at least 50 events a
# leaf overfit little, so the held-out AUC stays close to the best possible one
# (within ~0.005 of Phi(1/sqrt(2)) for N(0, 1) vs N(1, 1) with 2500 events a
# class).  Early stopping is off so that the whole training half is used.
DEFAULT_CLASSIFIER_PARAMS = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_depth": 3,
    "min_samples_leaf": 50,
    "early_stopping": False,
}

# OpenMP threads of the default classifier.  One thread fits 10^5 events with a
# few features in well under a second, and it avoids the 10-100x slow-down of
# OpenMP when the cores are shared with other busy processes (parallel scans,
# a PyTorch training in the same job).
DEFAULT_CLASSIFIER_N_THREADS = 1

# Exclusive upper bound of the integer seeds drawn from `random_state`.
_MAX_SEED = np.iinfo(np.int32).max


# --------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------
def _check_weight(sample_weight, n_rows: int, name: str) -> np.ndarray:
    """Return 1-D finite weights of length ``n_rows`` (ones if None), positive sum."""
    if sample_weight is not None and np.ndim(sample_weight) != 1:
        raise ValueError(f"{name} must be 1-D, got shape {np.shape(sample_weight)}.")
    weight = check_event_weights(sample_weight, n_rows, name)
    if not weight.sum() > 0:
        raise ValueError(f"{name} must sum to a positive number, got {weight.sum()}.")
    return weight


def _check_pair(source, target, source_weight, target_weight):
    """Validate two samples with the same number of features and their weights."""
    source = check_samples(source, "source")
    target = check_samples(target, "target")
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"source has {source.shape[1]} features but target has {target.shape[1]}.")
    source_weight = _check_weight(source_weight, source.shape[0], "source_weight")
    target_weight = _check_weight(target_weight, target.shape[0], "target_weight")
    return source, target, source_weight, target_weight


# --------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------
def effective_sample_size(sample_weight: ArrayLike) -> float:
    r"""Kish's effective sample size of a set of event weights.

    .. math::

        n_\mathrm{eff} = \frac{\left(\sum_i w_i\right)^2}{\sum_i w_i^2}

    It is the number of unit-weight events that would give the same variance
    of a weighted mean.  It equals :math:`n` for constant weights and is
    invariant under a global rescaling of the weights.  Negative weights are
    accepted (they lower :math:`n_\mathrm{eff}`).

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,)
        Event weights; not all zero.

    Returns
    -------
    n_eff : float
        The effective number of events, between 0 and ``n_samples``.

    Raises
    ------
    ValueError
        If the weights are not 1-D, are empty, contain NaN/inf or are all zero.

    Examples
    --------
    >>> from skhep_reweight.metrics import effective_sample_size
    >>> print(effective_sample_size([1.0, 1.0, 1.0, 1.0]))
    4.0
    >>> print(round(effective_sample_size([1.0, 1.0, 1.0, 3.0]), 2))  # 36 / 12
    3.0
    """
    weight = as_finite_array(sample_weight, "sample_weight")
    if weight.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {weight.shape}.")
    if weight.shape[0] == 0:
        raise ValueError("sample_weight is empty.")
    sum_of_squares = float(np.sum(weight**2))
    if sum_of_squares == 0:
        raise ValueError("sample_weight is all zero; the effective sample size is undefined.")
    return float(np.sum(weight)) ** 2 / sum_of_squares


def _weighted_ecdf(values: np.ndarray, weight: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Normalized weighted ECDF of ``values`` evaluated at ``points`` (right-continuous)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    cumulative = np.concatenate([[0.0], np.cumsum(weight[order])])
    # number of values <= point; ties are all counted, as the ECDF is right-continuous
    n_below = np.searchsorted(sorted_values, points, side="right")
    return cumulative[n_below] / cumulative[-1]


def weighted_ks_distance(
    source: ArrayLike,
    target: ArrayLike,
    source_weight: ArrayLike | None = None,
    target_weight: ArrayLike | None = None,
) -> np.ndarray:
    r"""Two-sample Kolmogorov-Smirnov statistic of every feature, with weights.

    For feature :math:`j` the statistic is the largest distance between the
    weighted empirical CDFs of the two samples,

    .. math::

        D_j = \sup_t \left| F^{(s)}_j(t) - F^{(t)}_j(t) \right|, \qquad
        F_j(t) = \frac{\sum_i w_i\, [x_{ij} \le t]}{\sum_i w_i}.

    Both CDFs are step functions that only jump at observed values, so the
    supremum is attained on the pooled sample and is computed exactly there
    (ties included).  With unit weights it equals the statistic of
    :func:`scipy.stats.ks_2samp`.  Negative weights are accepted; the weighted
    ECDF may then be non-monotone and exceed [0, 1], and :math:`D_j` is still
    the supremum of the absolute difference.

    Parameters
    ----------
    source : array-like of shape (n_source, n_features) or (n_source,)
        The (reweighted) source sample; a 1-D array is one feature.
    target : array-like of shape (n_target, n_features) or (n_target,)
        The target sample, with the same features.
    source_weight : array-like of shape (n_source,), default=None
        Weights of the source events (unit weights if None); must sum to a
        positive number.
    target_weight : array-like of shape (n_target,), default=None
        Weights of the target events (unit weights if None); must sum to a
        positive number.

    Returns
    -------
    distance : ndarray of shape (n_features,)
        The KS statistic :math:`D_j` of every feature.

    Raises
    ------
    ValueError
        On NaN/inf, empty samples, different numbers of features, weights of
        the wrong length or weights that do not sum to a positive number.

    Examples
    --------
    >>> from skhep_reweight.metrics import weighted_ks_distance
    >>> print(weighted_ks_distance([0.0, 1.0, 2.0, 3.0], [2.0, 3.0]))
    [0.5]
    >>> print(weighted_ks_distance([0.0, 1.0, 2.0, 3.0], [2.0, 3.0], [0, 0, 1, 1]))
    [0.]
    """
    source, target, source_weight, target_weight = _check_pair(
        source, target, source_weight, target_weight
    )
    distance = np.empty(source.shape[1])
    for j in range(source.shape[1]):
        pooled = np.concatenate([source[:, j], target[:, j]])
        cdf_source = _weighted_ecdf(source[:, j], source_weight, pooled)
        cdf_target = _weighted_ecdf(target[:, j], target_weight, pooled)
        distance[j] = np.max(np.abs(cdf_source - cdf_target))
    return distance


def classifier_two_sample_auc(
    source: ArrayLike,
    target: ArrayLike,
    source_weight: ArrayLike | None = None,
    target_weight: ArrayLike | None = None,
    *,
    classifier: ClassifierMixin | None = None,
    test_size: float = 0.5,
    random_state: int | np.random.RandomState | None = None,
) -> float:
    r"""Held-out ROC AUC of a classifier trained to separate source from target.

    The samples are stacked with labels 0 (source) and 1 (target) and split
    into a training and a test half, stratified by label.  A fresh classifier
    is fitted on the training half with the event weights, rescaled so that
    both classes carry the same total weight (the result then does not depend
    on the relative sample sizes).  The returned value is the weighted ROC AUC
    of ``predict_proba[:, 1]`` on the test half,

    .. math::

        \mathrm{AUC} = \frac{\sum_{i \in t,\, k \in s} w_i w_k
            \left([f_i > f_k] + \tfrac{1}{2}[f_i = f_k]\right)}
            {\sum_{i \in t} w_i \sum_{k \in s} w_k},

    where :math:`f` is the classifier score and :math:`s, t` are the source
    and target events of the test half.  An AUC of 0.5 means the classifier
    cannot tell the weighted source from the target; values above 0.5 measure
    the remaining mismatch.  The score is noisy: compare it with the spread
    obtained for two samples of the same distribution and size.

    Parameters
    ----------
    source : array-like of shape (n_source, n_features) or (n_source,)
        The (reweighted) source sample; a 1-D array is one feature.
    target : array-like of shape (n_target, n_features) or (n_target,)
        The target sample, with the same features.
    source_weight : array-like of shape (n_source,), default=None
        Weights of the source events (unit weights if None).
    target_weight : array-like of shape (n_target,), default=None
        Weights of the target events (unit weights if None).
    classifier : classifier with ``predict_proba``, default=None
        Template of the classifier; it is cloned (never fitted in place) and
        must accept ``sample_weight`` in ``fit``.  Its own ``random_state`` is
        left as set.  If None, a ``HistGradientBoostingClassifier`` with
        ``DEFAULT_CLASSIFIER_PARAMS`` and a seed drawn from ``random_state``,
        run on ``DEFAULT_CLASSIFIER_N_THREADS`` OpenMP threads.
    test_size : float, default=0.5
        Fraction of the events held out for the AUC, strictly between 0 and 1.
    random_state : int, RandomState instance or None, default=None
        Seed of the split and of the default classifier.

    Returns
    -------
    auc : float
        Weighted ROC AUC on the held-out events.

    Raises
    ------
    ValueError
        On invalid samples or weights (see :func:`weighted_ks_distance`), a
        ``test_size`` outside (0, 1), or a class whose training weights do not
        sum to a positive number.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.metrics import classifier_two_sample_auc
    >>> rng = np.random.RandomState(0)
    >>> source, target = rng.normal(0, 1, 200), rng.normal(3, 1, 200)
    >>> auc = classifier_two_sample_auc(source, target, random_state=0)
    >>> print(bool(auc > 0.9))  # best possible: Phi(3 / sqrt(2)) = 0.98
    True
    """
    source, target, source_weight, target_weight = _check_pair(
        source, target, source_weight, target_weight
    )
    if isinstance(test_size, bool) or not isinstance(test_size, float) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a float strictly between 0 and 1, got {test_size!r}.")
    rng = check_random_state(random_state)
    X = np.vstack([source, target])
    y = np.repeat(np.array([0, 1]), [source.shape[0], target.shape[0]])
    weight = np.concatenate([source_weight, target_weight])
    X_train, X_test, y_train, y_test, w_train, w_test = train_test_split(
        X, y, weight, test_size=test_size, stratify=y, random_state=rng.randint(_MAX_SEED)
    )
    if classifier is None:
        model = HistGradientBoostingClassifier(
            **DEFAULT_CLASSIFIER_PARAMS, random_state=rng.randint(_MAX_SEED)
        )
        with threadpool_limits(limits=DEFAULT_CLASSIFIER_N_THREADS, user_api="openmp"):
            score = _fit_and_score(model, X_train, y_train, w_train, X_test)
    else:
        score = _fit_and_score(clone(classifier), X_train, y_train, w_train, X_test)
    return float(roc_auc_score(y_test, score, sample_weight=w_test))


def _fit_and_score(model, X_train, y_train, w_train, X_test) -> np.ndarray:
    """Fit ``model`` with class-balanced weights; target-class probability on ``X_test``."""
    model.fit(X_train, y_train, sample_weight=class_balanced_weights(y_train, w_train))
    return model.predict_proba(X_test)[:, 1]


def weighted_mean_std(
    X: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Weighted mean and standard deviation of every feature.

    .. math::

        \bar{x}_j = \frac{\sum_i w_i x_{ij}}{\sum_i w_i}, \qquad
        s_j = \sqrt{\frac{\sum_i w_i (x_{ij} - \bar{x}_j)^2}{\sum_i w_i}}

    (the population definition, without a bias correction).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        The sample; a 1-D array is one feature.
    sample_weight : array-like of shape (n_samples,), default=None
        Event weights (unit weights if None); must sum to a positive number.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        Weighted mean of every feature.
    std : ndarray of shape (n_features,)
        Weighted standard deviation of every feature.

    Raises
    ------
    ValueError
        On NaN/inf, empty input, weights of the wrong length or not summing to
        a positive number, or a negative weighted variance (possible only with
        negative weights).

    Examples
    --------
    >>> from skhep_reweight.metrics import weighted_mean_std
    >>> mean, std = weighted_mean_std([0.0, 2.0], sample_weight=[1.0, 3.0])
    >>> print(mean, std.round(3))  # mean 1.5, variance (1 * 2.25 + 3 * 0.25) / 4
    [1.5] [0.866]
    """
    X = check_samples(X, "X")
    weight = _check_weight(sample_weight, X.shape[0], "sample_weight")
    total = weight.sum()
    mean = weight @ X / total
    variance = weight @ (X - mean) ** 2 / total
    if np.any(variance < 0):
        raise ValueError("the weighted variance is negative; check the negative weights.")
    return mean, np.sqrt(variance)


# Gauss-Legendre points per dimension and bin when the truth is a density function: exact for
# polynomials of degree 5 within a bin, so that a peak a few bins wide is integrated to 1e-4.
_QUADRATURE_ORDER = 3


def _bin_edges(bins, ranges, n_features: int) -> list[np.ndarray]:
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


def _binned_density(density, edges: list[np.ndarray]) -> np.ndarray:
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
    truth,
    *,
    truth_weight: ArrayLike | None = None,
    bins=50,
    range=None,
) -> np.ndarray:
    r"""Truth-correction weights of generated unweighted events, eq. (10) of [6]_.

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
