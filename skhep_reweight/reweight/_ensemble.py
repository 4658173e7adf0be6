r"""Ensembles of reweighters: out-of-fold weights (folding) and weights with a spread (bagging).

A reweighter evaluated on the events it was trained on is optimistic: a flexible classifier
partly learns the fluctuations of its own training sample, so its weights on those events fit
them better than they would fit a fresh sample. :class:`FoldingReweighter` removes this bias the
way hep_ml's ``FoldingReweighter`` does: the events are split into :math:`K` folds, model
:math:`k` is trained on the other :math:`K - 1` folds, and each training event is weighted by the
one model that did not see it. :class:`BaggingReweighter` trains :math:`B` models on resampled
events and reports, besides their combined weight, how much they disagree event by event: a
bootstrap estimate of the statistical uncertainty of the learned weight.

Conventions
-----------
- Both are reweighters themselves (``fit``, ``fit_samples``, ``predict_weights``,
  ``decision_function``, ``predict_proba``, ``predict``, ``score``), so they nest in
  ``GridSearchCV`` and ``Pipeline`` and tune their member through ``estimator__<param>``.
- Members combine in log space: the ensemble weight is
  :math:`\exp\big(\frac{1}{M}\sum_m \log w_m(x)\big)`, the geometric mean of the members'
  weights, and ``decision_function`` is the mean log-ratio. The log-ratio is what each classifier
  estimates; averaging it keeps ``predict_weights == exp(decision_function)`` and, unlike the
  arithmetic mean of the weights, is not pulled up by the members' scatter
  (:math:`\mathbb{E}[e^{s}] = e^{\bar s + \sigma^2/2}` for a Gaussian scatter of the log-ratio).
- Seeds: ``random_state`` alone decides every random choice (folds, resampling, and the
  ``random_state`` of every member and of every estimator nested in it, which is overwritten with a
  seed of its own, as scikit-learn's ``BaggingClassifier`` does), so two fits with the same
  ``random_state`` give identical numbers, with any ``n_jobs``.
- Members train in parallel with ``joblib.Parallel(n_jobs)``; keep joblib's default process-based
  backend for neural members, whose training seeds torch's global generator.

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from skhep_reweight.reweight import BaggingReweighter, DCTRReweighter, FoldingReweighter
>>> rng = np.random.RandomState(0)
>>> source = rng.normal(0.0, 1.0, size=(2000, 1))
>>> target = rng.normal(0.5, 1.0, size=(2000, 1))
>>> folding = FoldingReweighter(DCTRReweighter(LogisticRegression()), random_state=0)
>>> folding = folding.fit_samples(source, target)
>>> w = folding.predict_weights(np.vstack([source, target]))[:2000]  # out-of-fold
>>> print(round(float(np.average(source[:, 0], weights=w)), 2), round(float(target.mean()), 2))
0.46 0.46
>>> bagging = BaggingReweighter(DCTRReweighter(LogisticRegression()), n_estimators=5,
...                             random_state=0).fit_samples(source, target)
>>> w, std = bagging.predict_weights([[0.0], [2.0]], return_std=True)
>>> print(np.round(w, 2), np.round(np.exp(0.5 * np.array([0.0, 2.0]) - 0.125), 2))  # exact
[0.89 2.37] [0.88 2.4 ]
>>> bool(np.all(std < 0.1 * w))
True
"""

from __future__ import annotations

import hashlib
from numbers import Integral
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions

from .._base import BaseReweighter, fit_method, record_feature_range
from .._nn import derive_seeds
from .._nn.data import identical_row_groups
from .._validation import (
    check_binary_labels,
    check_class_totals,
    check_event_weights,
    small_sample_told_once,
    warn_small_sample,
)

__all__ = ["BaggingReweighter", "FoldingReweighter", "rows_fingerprint"]


def rows_fingerprint(features: np.ndarray) -> str:
    """A SHA-256 hex digest of a feature matrix: its shape and its values as float64 bytes.

    Two matrices share a fingerprint when they hold the same rows in the same order (float32 and
    float64 copies of the same numbers included); :class:`FoldingReweighter` uses it to
    recognise its training events at prediction time.

    Examples
    --------
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> rows_fingerprint(X) == rows_fingerprint(X.astype(np.float32))
    True
    >>> rows_fingerprint(X) == rows_fingerprint(X[::-1])
    False
    """
    values = np.ascontiguousarray(features, dtype=np.float64)
    digest = hashlib.sha256(repr(values.shape).encode())
    digest.update(values)
    return digest.hexdigest()


def _seeded_clone(estimator: Any, seed: int) -> Any:
    """A clone of ``estimator`` whose ``random_state`` parameters (its own and those of every
    estimator nested in it) are set to distinct seeds drawn from ``seed``."""
    member = clone(estimator)
    names = sorted(
        name
        for name in member.get_params(deep=True)
        if name == "random_state" or name.endswith("__random_state")
    )
    if names:
        member.set_params(**dict(zip(names, derive_seeds(seed, len(names)), strict=True)))
    return member


def _fit_member(
    member: Any,
    X: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    weight: np.ndarray | None,
    feature_names: np.ndarray | None,
) -> Any:
    """Fit one member on ``X[rows]`` (a joblib task: module level, so that it pickles); the
    ensemble has told a small sample once, for all its members."""
    with small_sample_told_once():
        return member.fit(_member_input(X[rows], feature_names), y[rows], sample_weight=weight)


def _member_input(features: np.ndarray, feature_names: np.ndarray | None) -> Any:
    """The features as the members see them: a DataFrame with the training column names when
    the ensemble was fitted on one (so that members can name columns), else the array."""
    if feature_names is None:
        return features
    import pandas as pd

    return pd.DataFrame(features, columns=feature_names)


def _member_prediction(member: Any, X: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """One member's log-ratio, weights and clipped count on ``X``.

    A reweighter of this package is asked through its own prediction path without its
    out-of-range warning: a member trained on part of the events would warn about events that lie
    inside the range of the whole training sample; the ensemble warns once, about its own range.
    Any other member must return positive weights from ``predict_weights``.
    """
    if isinstance(member, BaseReweighter):
        log_ratio, n_clipped = member._log_ratio(member._prediction_input(X))
        return log_ratio, np.exp(log_ratio), n_clipped
    weights = np.asarray(member.predict_weights(X), dtype=np.float64)
    if not np.all(np.isfinite(weights) & (weights > 0)):
        raise ValueError(
            f"the member {type(member).__name__} returned weights that are not finite and "
            "positive: an ensemble averages log-weights and needs a member whose weights are"
        )
    return np.log(weights), weights, 0


class _EnsembleReweighter(BaseReweighter):
    """What FoldingReweighter and BaggingReweighter share: validation, the members' fit in
    parallel, and the combination of their log-ratios."""

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "predict_weights"])],
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
    }

    def _member_template(self) -> Any:
        if self.estimator is None:
            from ._dctr import DCTRReweighter

            return DCTRReweighter()
        return self.estimator

    def _validate_training(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """X, y (as given), y as 0/1 and the weights (None when none were given), checked;
        ``classes_`` and ``feature_range_`` set."""
        X, y = self._validate_input(X, y, reset=True)
        self.classes_, y01 = check_binary_labels(y)
        weight = None
        if sample_weight is not None:
            weight = check_event_weights(sample_weight, X.shape[0])
        check_class_totals(y01, np.ones(X.shape[0]) if weight is None else weight)
        warn_small_sample(
            y01, np.ones(X.shape[0]) if weight is None else weight, None, type(self).__name__
        )
        record_feature_range(self, X, y01)
        return X, y, y01, weight

    def _fit_members(
        self,
        X: np.ndarray,
        y: np.ndarray,
        plans: list[tuple[np.ndarray, np.ndarray | None, int]],
    ) -> list[Any]:
        """Fit one seeded clone per ``(rows, weight, seed)`` plan, in parallel."""
        template = self._member_template()
        names = getattr(self, "feature_names_in_", None)
        return Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(_seeded_clone(template, seed), X, y, rows, weight, names)
            for rows, weight, seed in plans
        )

    def _member_predictions(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Log-ratios and weights of every member, each of shape (n_members, n_samples), and the
        number of clipped member predictions."""
        X = _member_input(features, getattr(self, "feature_names_in_", None))
        predictions = [_member_prediction(member, X) for member in self.estimators_]
        log_ratios = np.vstack([p[0] for p in predictions])
        weights = np.vstack([p[1] for p in predictions])
        return log_ratios, weights, sum(p[2] for p in predictions)

    def _log_ratio(self, features: np.ndarray) -> tuple[np.ndarray, int]:
        """The members' mean log-ratio, and the number of clipped member predictions."""
        log_ratios, _, n_clipped = self._member_predictions(features)
        return log_ratios.mean(axis=0), n_clipped

    def _combined(
        self, features: np.ndarray, return_std: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Weights (without sample_weight) and, with ``return_std``, the members' spread."""
        log_ratios, weights, _ = self._member_predictions(features)
        std = weights.std(axis=0, ddof=1) if return_std else None
        return np.exp(log_ratios.mean(axis=0)), std

    def predict_weights(
        self, X: ArrayLike, sample_weight: ArrayLike | None = None, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The ensemble's per-event density ratio (times ``sample_weight``), not renormalized.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of the source sample.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the events already carry.
        return_std : bool, default=False
            Also return the members' spread: the standard deviation (``ddof=1``) of the
            members' weights at each event, times ``|sample_weight|``.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
        std : ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        features = self._prediction_input(X)
        self._warn_out_of_range(features)
        factor = check_event_weights(sample_weight, features.shape[0])
        if return_std and len(self.estimators_) < 2:
            raise ValueError("return_std=True needs at least two members in the ensemble")
        weights, std = self._combined(features, return_std)
        if not return_std:
            return weights * factor
        return weights * factor, std * np.abs(factor)


class FoldingReweighter(_EnsembleReweighter):
    r"""K-fold reweighting: every training event weighted by the model that did not see it.

    The training events are split into ``n_folds`` folds, stratified by class so that every fold
    holds both samples; model :math:`k` (a clone of ``estimator``) is trained on all folds but
    fold :math:`k`. ``predict_weights`` then gives

    - on the training events (the same rows in the same order, recognised by a SHA-256
      fingerprint of the matrix): the out-of-fold weight :math:`w_{k(i)}(x_i)` of the model
      that did not see event :math:`i`, stored in ``oof_weights_``;
    - on any other events: the geometric mean over the folds,
      :math:`w(x) = \exp\big(\frac{1}{K}\sum_k \log w_k(x)\big)`.

    ``decision_function``, ``predict_proba``, ``predict`` and ``score`` follow the same rule (on
    the training rows they use the out-of-fold log-ratio).

    Parameters
    ----------
    estimator : reweighter, default=None
        Any reweighter of this package (``DCTRReweighter(classifier=...)`` for a classifier
        such as a BDT), or an object with ``fit(X, y, sample_weight)`` and ``predict_weights``.
        None means ``DCTRReweighter()``.
    n_folds : int, default=2
        Number of folds (at least 2; each class needs at least ``n_folds`` events).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and every member (the ``random_state`` parameters of each clone, nested
        ones included, are set to seeds drawn from it).
    n_jobs : int, default=None
        Members trained in parallel by joblib (None: one, unless inside a
        ``joblib.parallel_backend`` context such as ``parallel_backend("dask")``, which then
        decides; -1: all cores).

    Attributes
    ----------
    estimators_ : list of reweighters
        The fitted clones; ``estimators_[k]`` was trained without fold ``k``.
    fold_ : ndarray of shape (n_samples,)
        The fold of each training row. Folds are stratified by class; when the two samples hold
        the same events (rows with identical features in both), an event's copies share a fold
        instead, so that no member predicts the copy of an event it trained on.
    oof_weights_ : ndarray of shape (n_samples,)
        Out-of-fold weights of the training rows in row order, without ``sample_weight``.
    oof_log_ratio_ : ndarray of shape (n_samples,)
        Their logarithm (the members' clipped log-ratio).
    n_clipped_ : int
        How many out-of-fold predictions were clipped by their member.
    train_fingerprint_ : str
        :func:`rows_fingerprint` of the training matrix.
    train_weight_fingerprint_ : str
        :func:`rows_fingerprint` of the training weights (ones when none were given), for
        :meth:`is_training_sample`.
    feature_range_ : ndarray of shape (2, n_features)
        Minimum and maximum of every feature over the training rows.
    n_range_events_ : int
        The smaller class's number of training events: the size against which the count of
        events outside ``feature_range_`` is tested (see
        :class:`~skhep_reweight.OutOfRangeWarning`).
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names; the members are then trained and asked
        with DataFrames of these columns.

    Notes
    -----
    The out-of-fold rule applies only to the exact training matrix: a subset, a reordering or a
    copy with one value changed is "other events" and gets the geometric mean. With
    ``return_std=True`` the spread is that of all ``n_folds`` models at every event (training
    rows included); fold models share :math:`(K-2)/(K-1)` of their training events, so it
    understates the statistical uncertainty: :class:`BaggingReweighter` estimates that.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhep_reweight.reweight import DCTRReweighter, FoldingReweighter
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0.0, 1.0, (500, 1)), rng.normal(0.5, 1.0, (500, 1))]
    >>> y = np.r_[np.zeros(500), np.ones(500)]
    >>> rw = FoldingReweighter(DCTRReweighter(LogisticRegression()), n_folds=3, random_state=0)
    >>> rw = rw.fit(X, y)
    >>> bool(np.array_equal(rw.predict_weights(X), rw.oof_weights_))
    True
    >>> rows = rw.fold_ == 1
    >>> bool(np.array_equal(rw.oof_weights_[rows], rw.estimators_[1].predict_weights(X[rows])))
    True
    """

    _parameter_constraints: dict = {
        **_EnsembleReweighter._parameter_constraints,
        "n_folds": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        estimator: Any = None,
        *,
        n_folds: int = 2,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self._set_params_from_init(locals())

    @fit_method
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> FoldingReweighter:
        """Train one clone of ``estimator`` per fold on the other folds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of both samples.
        y : array-like of shape (n_samples,)
            0 (or False) for source rows, 1 (or True) for target rows; any other label
            raises.
        sample_weight : array-like of shape (n_samples,), default=None
            Event weights, passed (restricted to the training folds) to each clone's ``fit``.

        Returns
        -------
        self : FoldingReweighter
        """
        X, y, y01, weight = self._validate_training(X, y, sample_weight)
        counts = np.bincount(y01, minlength=2)
        if counts.min() < self.n_folds:
            raise ValueError(
                f"n_folds={self.n_folds} needs at least {self.n_folds} events of each class, got "
                f"{counts[0]} source and {counts[1]} target events"
            )
        split_seed, *member_seeds = derive_seeds(self.random_state, self.n_folds + 1)
        groups = identical_row_groups(X, y01)
        if groups is None:
            folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=split_seed)
            self.fold_ = np.empty(X.shape[0], dtype=np.int64)
            for k, (_, held_out) in enumerate(folds.split(X, y01)):
                self.fold_[held_out] = k
        else:
            # the same events in both samples: an event's copies go to one fold, so that no
            # member trains on one copy and predicts the other
            n_groups = int(groups.max()) + 1
            order = np.random.RandomState(split_seed).permutation(n_groups)
            self.fold_ = (order % self.n_folds)[groups]
        plans = []
        for k, seed in enumerate(member_seeds):
            rows = np.flatnonzero(self.fold_ != k)
            plans.append((rows, None if weight is None else weight[rows], seed))
        self.estimators_ = self._fit_members(X, y, plans)

        names = getattr(self, "feature_names_in_", None)
        self.oof_log_ratio_ = np.empty(X.shape[0], dtype=np.float64)
        self.oof_weights_ = np.empty(X.shape[0], dtype=np.float64)
        self.n_clipped_ = 0
        for k, member in enumerate(self.estimators_):
            rows = self.fold_ == k
            log_ratio, weights, n_clipped = _member_prediction(
                member, _member_input(X[rows], names)
            )
            self.oof_log_ratio_[rows], self.oof_weights_[rows] = log_ratio, weights
            self.n_clipped_ += n_clipped
        self.train_fingerprint_ = rows_fingerprint(X)
        unit = np.ones(X.shape[0]) if weight is None else weight
        self.train_weight_fingerprint_ = rows_fingerprint(unit[:, np.newaxis])
        return self

    def is_training_sample(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> bool:
        """Whether ``X`` (and ``sample_weight``, None meaning ones) are the events and weights
        of the fit, row for row: only then does :meth:`predict_weights` give out-of-fold
        weights, and only then does a validation on them describe the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        bool
        """
        features = self._prediction_input(X)
        if not self._is_training_matrix(features):
            return False
        recorded = getattr(self, "train_weight_fingerprint_", None)
        if recorded is None:  # a model saved before the weights were recorded
            return sample_weight is None
        weight = check_event_weights(sample_weight, features.shape[0])
        return rows_fingerprint(weight[:, np.newaxis]) == recorded

    def _is_training_matrix(self, features: np.ndarray) -> bool:
        return (
            features.shape[0] == self.oof_weights_.shape[0]
            and rows_fingerprint(features) == self.train_fingerprint_
        )

    def _log_ratio(self, features: np.ndarray) -> tuple[np.ndarray, int]:
        """Out-of-fold log-ratio on the training matrix, else the folds' mean log-ratio."""
        if self._is_training_matrix(features):
            return self.oof_log_ratio_.copy(), self.n_clipped_
        return super()._log_ratio(features)

    def _combined(
        self, features: np.ndarray, return_std: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        training = self._is_training_matrix(features)
        if training and not return_std:
            return self.oof_weights_.copy(), None
        weights, std = super()._combined(features, return_std)
        return (self.oof_weights_.copy() if training else weights), std


class BaggingReweighter(_EnsembleReweighter):
    r"""Bagged reweighters: the ensemble's weight and its spread per event.

    ``n_estimators`` clones of ``estimator`` are trained on resampled events and combined in log
    space:

    .. math::

        w(x) = \exp\Big(\frac{1}{B}\sum_{b=1}^{B} \log w_b(x)\Big), \qquad
        \sigma_w(x) = \sqrt{\frac{1}{B-1}\sum_{b=1}^{B}\big(w_b(x) - \bar w(x)\big)^2},

    where :math:`\bar w` is the members' mean weight. :math:`\sigma_w` is a bootstrap estimate of
    the statistical uncertainty of the learned weight at :math:`x` [1]_ (it does not include a
    bias the model shares with all its bootstrap replicas); it shrinks like
    :math:`1/\sqrt{N}` with the number of training events.

    Parameters
    ----------
    estimator : reweighter, default=None
        Any reweighter of this package, or an object with ``fit(X, y, sample_weight)`` and
        ``predict_weights``. None means ``DCTRReweighter()``.
    n_estimators : int, default=10
        Number of members.
    bootstrap : {"poisson", "bootstrap"} or False, default="poisson"
        How each member's events are resampled:

        - ``"poisson"``: every event gets a count drawn from a Poisson distribution of mean 1,
          which multiplies its weight; events with count 0 are left out. The usual bootstrap of
          HEP analyses: it treats each event independently, so it splits and merges across
          files and jobs.
        - ``"bootstrap"``: as many events as each class holds are drawn from it with replacement
          (the class sizes are kept).
        - ``False``: every member sees all events; they differ in their seeds only (the spread
          is then the training's randomness, not the sample's).

        When the two samples hold the same events (rows with identical features in both, as in
        a systematic variation stored as alternative weights), an event is resampled with all
        of its copies: one count per event, or events drawn with replacement.
    random_state : int, RandomState instance or None, default=None
        Seeds the resampling and every member (the ``random_state`` parameters of each clone,
        nested ones included, are set to seeds drawn from it).
    n_jobs : int, default=None
        Members trained in parallel by joblib (None: one, unless inside a
        ``joblib.parallel_backend`` context such as ``parallel_backend("dask")``, which then
        decides; -1: all cores).

    Attributes
    ----------
    estimators_ : list of reweighters
        The fitted clones.
    feature_range_ : ndarray of shape (2, n_features)
        Minimum and maximum of every feature over the training rows.
    n_range_events_ : int
        The smaller class's number of training events: the size against which the count of
        events outside ``feature_range_`` is tested (see
        :class:`~skhep_reweight.OutOfRangeWarning`).
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.

    Notes
    -----
    The geometric mean (not the mean weight) combines the members: the classifiers estimate the
    log-ratio, the geometric mean is ``exp(decision_function)``, and it is not pulled upward by
    the members' scatter as the mean weight is (for log-ratios scattered by :math:`\sigma`, the
    mean weight exceeds the geometric mean by :math:`e^{\sigma^2/2}`). The spread ``std`` is
    that of the weights themselves, in the units of the weights.

    References
    ----------
    .. [1] B. Efron, R. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall (1993).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhep_reweight.reweight import BaggingReweighter, DCTRReweighter
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0.0, 1.0, (500, 1)), rng.normal(0.5, 1.0, (500, 1))]
    >>> y = np.r_[np.zeros(500), np.ones(500)]
    >>> rw = BaggingReweighter(DCTRReweighter(LogisticRegression()), n_estimators=8,
    ...                        random_state=0).fit(X, y)
    >>> w, std = rw.predict_weights([[0.0], [1.0]], return_std=True)
    >>> w.shape, std.shape
    ((2,), (2,))
    """

    _parameter_constraints: dict = {
        **_EnsembleReweighter._parameter_constraints,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": [StrOptions({"poisson", "bootstrap"}), Options(bool, {False})],
    }

    def __init__(
        self,
        estimator: Any = None,
        *,
        n_estimators: int = 10,
        bootstrap: str | bool = "poisson",
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self._set_params_from_init(locals())

    @fit_method
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> BaggingReweighter:
        """Train ``n_estimators`` clones of ``estimator`` on resampled events.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of both samples.
        y : array-like of shape (n_samples,)
            0 (or False) for source rows, 1 (or True) for target rows; any other label
            raises.
        sample_weight : array-like of shape (n_samples,), default=None
            Event weights; with ``bootstrap="poisson"`` each member gets them multiplied by its
            Poisson counts.

        Returns
        -------
        self : BaggingReweighter
        """
        X, y, y01, weight = self._validate_training(X, y, sample_weight)
        groups = identical_row_groups(X, y01) if self.bootstrap else None
        plans = [
            self._resample(groups, y01, weight, np.random.RandomState(seed))
            for seed in derive_seeds(self.random_state, self.n_estimators)
        ]
        self.estimators_ = self._fit_members(X, y, plans)
        return self

    def _resample(
        self,
        groups: np.ndarray | None,
        y01: np.ndarray,
        weight: np.ndarray | None,
        rng: np.random.RandomState,
    ) -> tuple[np.ndarray, np.ndarray | None, int]:
        """One member's (rows, weights, seed); with ``groups`` (identical rows in both samples,
        :func:`~skhep_reweight._nn.data.identical_row_groups`) an event is resampled with all
        of its copies."""
        n = y01.shape[0]
        if groups is not None:
            # the same events in both samples: resample events, each with all of its copies
            n_groups = int(groups.max()) + 1
            if self.bootstrap == "poisson":
                counts = rng.poisson(1.0, size=n_groups)[groups]
            else:
                counts = np.bincount(rng.randint(n_groups, size=n_groups), minlength=n_groups)
                counts = counts[groups]
            rows = np.flatnonzero(counts)
            member_weight = counts[rows].astype(np.float64)
            if weight is not None:
                member_weight *= weight[rows]
        elif self.bootstrap == "poisson":
            counts = rng.poisson(1.0, size=n)
            rows = np.flatnonzero(counts)
            member_weight = counts[rows].astype(np.float64)
            if weight is not None:
                member_weight *= weight[rows]
        elif self.bootstrap == "bootstrap":
            rows = np.sort(
                np.concatenate(
                    [
                        rng.choice(members, size=members.shape[0], replace=True)
                        for members in (np.flatnonzero(y01 == 0), np.flatnonzero(y01 == 1))
                    ]
                )
            )
            member_weight = None if weight is None else weight[rows]
        else:
            rows, member_weight = np.arange(n), weight
        return rows, member_weight, int(rng.randint(np.iinfo(np.int32).max))
