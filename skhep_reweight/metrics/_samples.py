"""Comparing two weighted samples: effective sample size, weighted KS distance, the held-out
two-sample classifier AUC, weighted moments."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from .._validation import (
    as_finite_array,
    check_samples,
    class_balanced_weights,
    effective_count,
)
from ._checks import _check_pair, _check_weight

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
    if not np.any(weight):
        raise ValueError("sample_weight is all zero; the effective sample size is undefined.")
    return effective_count(weight)


def largest_weight_share(sample_weight: ArrayLike, fraction: float = 0.01) -> float:
    r"""The share of the total absolute weight carried by the largest weights.

    .. math::

        s_f = \frac{\sum_{i \in \text{largest } \lceil f n \rceil} |w_i|}{\sum_i |w_i|},

    at least one event. It is :math:`f` for constant weights and approaches 1 when a few
    events dominate a reweighted sample (the failure an effective sample size alone can hide
    behind a large :math:`n`).

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,)
        Event weights, signed ones counted by magnitude.
    fraction : float, default=0.01
        The fraction of the events that are the "largest", in (0, 1].

    Returns
    -------
    share : float
        Between ``fraction`` (about) and 1; 0 when every weight is zero.

    Examples
    --------
    >>> from skhep_reweight.metrics import largest_weight_share
    >>> print(largest_weight_share([1.0] * 200))
    0.01
    >>> print(round(largest_weight_share([1.0] * 99 + [901.0]), 3))  # 901 / 1000
    0.901
    """
    magnitude = np.abs(as_finite_array(sample_weight, "sample_weight"))
    if magnitude.ndim != 1 or magnitude.shape[0] == 0:
        raise ValueError(f"sample_weight must be 1-D and non-empty, got shape {magnitude.shape}.")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}.")
    n = magnitude.shape[0]
    largest = float(magnitude.max())
    if largest == 0:
        return 0.0
    magnitude = magnitude / largest  # scale-free; keeps the sums finite for huge weights
    n_top = max(1, int(np.ceil(fraction * n)))
    top = float(np.sum(np.partition(magnitude, n - n_top)[n - n_top :]))
    return top / float(magnitude.sum())


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
    groups: ArrayLike | None = None,
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
    and target events of the test half (summed directly when a test weight is
    negative, as sklearn's ``roc_auc_score`` then fails).  An AUC of 0.5 means the classifier
    cannot tell the weighted source from the target; values above 0.5 measure
    the remaining mismatch.  The score is noisy: compare it with the spread
    obtained for two samples of the same distribution and size.

    Events that are not independent must stay on one side of the split: give
    them one label in ``groups``.  The typical case is a systematic
    variation, where source and target are the *same* events with two sets of
    weights.  Without groups, the two copies of an event land in the training
    and in the test half with opposite labels; the classifier's memory of the
    training copies then works against it on the test copies, and the AUC
    comes out too low (on the example of the tests: 0.54 instead of the true
    7/12 = 0.58 before reweighting, and 0.43 instead of 0.5 with the exact
    weights).  With ``groups`` set to the event index of both copies, a
    :class:`~sklearn.model_selection.GroupShuffleSplit` keeps each event's
    copies together and the AUC measures the true separation (exactly 0.5 once
    the weights agree, as the copies then share features and weights).

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
    groups : array-like of shape (n_source + n_target,), default=None
        Group label of every event, source events first, then target events
        (the order of the stacked samples).  All events of a group go to the
        same half; ``test_size`` is then the fraction of the *groups* held out,
        and the split is not stratified by label.  If None, the events are
        split one by one, stratified by label.

    Returns
    -------
    auc : float
        Weighted ROC AUC on the held-out events.

    Raises
    ------
    ValueError
        On invalid samples or weights (see :func:`weighted_ks_distance`), a
        ``test_size`` outside (0, 1), a class whose training weights do not
        sum to a positive number, ``groups`` of the wrong shape, a group
        split that leaves one half without source or without target events, or
        a test half whose source or target weights sum to zero.

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
    split_seed = rng.randint(_MAX_SEED)
    if groups is None:
        X_train, X_test, y_train, y_test, w_train, w_test = train_test_split(
            X, y, weight, test_size=test_size, stratify=y, random_state=split_seed
        )
    else:
        group = _check_groups(groups, y.shape[0])
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=split_seed)
        train, test = next(splitter.split(X, y, group))
        for half, rows in (("training", train), ("test", test)):
            if np.unique(y[rows]).size < 2:
                raise ValueError(
                    f"the group split left the {half} half without source or without target "
                    "events; use more groups, or groups that hold events of both samples"
                )
        X_train, X_test, y_train, y_test = X[train], X[test], y[train], y[test]
        w_train, w_test = weight[train], weight[test]
    if classifier is None:
        model = HistGradientBoostingClassifier(
            **DEFAULT_CLASSIFIER_PARAMS, random_state=rng.randint(_MAX_SEED)
        )
        with threadpool_limits(limits=DEFAULT_CLASSIFIER_N_THREADS, user_api="openmp"):
            score = _fit_and_score(model, X_train, y_train, w_train, X_test)
    else:
        score = _fit_and_score(clone(classifier), X_train, y_train, w_train, X_test)
    if np.any(w_test < 0):
        # roc_auc_score needs a monotone ROC curve, which negative weights break
        return _pairwise_auc(y_test, score, w_test)
    return float(roc_auc_score(y_test, score, sample_weight=w_test))


def _pairwise_auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """The weighted AUC of the docstring of :func:`classifier_two_sample_auc`, summed directly:
    valid with negative weights (sklearn's ``roc_auc_score`` equals it for non-negative ones)."""
    values, index = np.unique(score, return_inverse=True)
    source = np.bincount(index, weights=np.where(y == 0, weight, 0.0), minlength=values.size)
    target = np.bincount(index, weights=np.where(y == 1, weight, 0.0), minlength=values.size)
    below = np.cumsum(source) - source  # source weight strictly below each score value
    denominator = target.sum() * source.sum()
    if denominator == 0:
        raise ValueError("the test half's source or target weights sum to zero; no AUC")
    return float(np.sum(target * (below + 0.5 * source)) / denominator)


def _check_groups(groups: ArrayLike, n_events: int) -> np.ndarray:
    """Group labels as a 1-D array with one entry per stacked event."""
    group = np.asarray(groups)
    if group.ndim != 1:
        raise ValueError(f"groups must be 1-D, got shape {group.shape}.")
    if group.shape[0] != n_events:
        raise ValueError(
            f"groups has {group.shape[0]} entries but source and target hold {n_events} "
            "events together (source events first, then target events)."
        )
    if group.dtype.kind == "f" and not np.all(np.isfinite(group)):
        raise ValueError("groups contains NaN or infinite values.")
    return group


def _fit_and_score(
    model: ClassifierMixin,
    X_train: np.ndarray,
    y_train: np.ndarray,
    w_train: np.ndarray,
    X_test: np.ndarray,
) -> np.ndarray:
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
