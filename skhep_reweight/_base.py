"""The plumbing every estimator shares, written once.

- :func:`fit_method` wraps an estimator's ``fit``: parameters validated, every fitted attribute
  (a name ending in ``_``) cleared before training, and cleared again if training raises or is
  interrupted, so that a failed or interrupted fit never leaves a model that looks fitted.
- :class:`EstimatorMixin`: input validation for ``fit`` and for a fitted estimator, with errors
  that name the argument and the column, and the training history the scikit-learn way
  (``n_iter_``, ``loss_curve_``, ``validation_loss_curve_``).
- :class:`BaseReweighter`: everything a reweighter offers (``fit_samples``, ``predict_weights``,
  ``decision_function``, ``predict_proba``, ``predict``, ``score``, the tags) from one method of
  the subclass, :meth:`BaseReweighter._log_ratio`.

A new reweighter is then a ``__init__`` (explicit, as scikit-learn needs), a ``fit`` decorated
with :func:`fit_method`, and ``_log_ratio``; ``tests/test_base.py`` defines one in a few lines.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ._errors import caller_stacklevel
from ._validation import check_binary_labels, check_event_weights, check_score_labels

__all__ = [
    "FLOAT_DTYPES",
    "BaseReweighter",
    "EstimatorMixin",
    "LearnedNothingWarning",
    "OutOfRangeWarning",
    "OUT_OF_RANGE_LEVEL",
    "count_outside",
    "expected_outside",
    "fit_method",
    "outside_range",
    "outside_range_excess",
    "record_feature_range",
    "stack_samples",
    "warn_out_of_range",
]

#: Input dtypes kept as they are; anything else is converted to float64.
FLOAT_DTYPES = [np.float64, np.float32]

F = TypeVar("F", bound=Callable[..., Any])


class OutOfRangeWarning(UserWarning):
    """Events lie outside the feature ranges seen in training.

    A classifier's output there is an extrapolation, not a measurement: a boosted-tree
    reweighter, for one, can give weights of 1e16 to events beyond the source's support. The
    warning counts the events and names the features; ``feature_range_`` on the fitted
    reweighter holds the ranges.

    It is issued only when the count is larger than a sample of the training distribution itself
    would give: a new event of that distribution lies outside the range of :math:`n` training
    events with probability up to :math:`2/(n + 1)` per feature, so held-out events routinely
    reach a little beyond it. The warning fires when the probability of the observed count or
    more, for events of the training distribution (:func:`outside_range_excess`, with
    ``n_range_events_``, the smaller class's training count, for :math:`n`), is below
    ``OUT_OF_RANGE_LEVEL`` (:math:`10^{-3}`): events from elsewhere (a shifted sample, columns
    in the wrong order), not the tail of the training sample.
    """


class LearnedNothingWarning(UserWarning):
    """A fit learned no measurable difference between two samples that differ.

    Raised after training when the classifier's held-out loss is no better than a constant's
    within twice its standard error, while the samples are known to differ (the same events with
    different weights, or a feature whose weighted distributions differ beyond the 1 % KS
    critical value). The weights are then noise around a constant, not the ratio; the message
    says what to try.
    """


def outside_range(features: np.ndarray, feature_range: np.ndarray) -> np.ndarray:
    """Boolean mask of shape (n_samples, n_features): True where a value lies below the
    training minimum or above the training maximum of its feature (``feature_range`` is the
    (2, n_features) array of a fitted reweighter's ``feature_range_``)."""
    features = np.asarray(features)
    return (features < feature_range[0]) | (features > feature_range[1])


# Features named in the warning; the rest are counted.
_LISTED_FEATURES = 5
# An OutOfRangeWarning is issued when a sample drawn from the training distribution itself would
# have as many events outside the training ranges with a probability below this (Poisson).
OUT_OF_RANGE_LEVEL = 1e-3


def expected_outside(n_events: int, n_features: int, n_range_events: int) -> float:
    """How many of ``n_events`` new events of the training distribution lie outside the
    training ranges on average, at most.

    Of :math:`n + 1` exchangeable draws, the last is the strict maximum (minimum) of its
    feature with probability at most :math:`1/(n + 1)` each, so a new event lies outside the
    range that :math:`n` training events set with probability at most :math:`2/(n + 1)` per
    feature, and :math:`2d/(n + 1)` over :math:`d` features (the union bound: exact for
    independent features when :math:`d \\ll n`, an overestimate otherwise). ``n_range_events``
    is the smaller class's count: its own range is the narrower bound that an event of that
    class would have to cross.
    """
    return n_events * min(1.0, 2.0 * n_features / (n_range_events + 1))


def outside_range_excess(
    n_outside: int, n_events: int, n_features: int, n_range_events: int | None
) -> tuple[float | None, float]:
    """The mean count of :func:`expected_outside`, and the probability that ``n_outside`` or more
    of ``n_events`` events of the training distribution lie outside the training ranges.

    The share :math:`q` of the distribution outside the ranges is itself random: it depends on
    how far the :math:`n` training events happened to reach. For one feature it is the sum of
    the two tails beyond the extreme draws, :math:`q \\sim \\mathrm{Beta}(2, n - 1)`; over
    :math:`d` features it is taken as :math:`\\mathrm{Gamma}(2d, 1/(n + 1))` (the sum of
    :math:`d` independent such tails; correlated features have a smaller, less spread share,
    so the test stays conservative). Given :math:`q`, the count of :math:`m` new events is
    Poisson with mean :math:`mq`; over :math:`q` it is negative binomial with :math:`r = 2d`
    and :math:`p = (n + 1)/(n + 1 + m)`, whose mean is :func:`expected_outside`. A Poisson test
    at that mean alone would ignore the spread of :math:`q` and raise false alarms whenever
    :math:`m` is comparable to :math:`n` or larger (the case of ``apply`` on a full sample).

    Returns
    -------
    expected : float or None
        The mean count (None when ``n_range_events`` is None).
    p_value : float
        1 when no event lies outside; 0 when some do but the model does not know its training
        size (a model saved before it was recorded: every such event is reported).
    """
    if n_range_events is None:
        return None, (1.0 if n_outside == 0 else 0.0)
    expected = expected_outside(n_events, n_features, n_range_events)
    if n_outside == 0 or 2 * n_features >= n_range_events + 1:
        return expected, 1.0
    from scipy.stats import nbinom

    p = (n_range_events + 1) / (n_range_events + 1 + n_events)
    return expected, float(nbinom.sf(n_outside - 1, 2 * n_features, p))


def count_outside(
    features: np.ndarray, feature_range: np.ndarray, n_range_events: int | None
) -> tuple[np.ndarray, int, float | None, bool]:
    """The out-of-range test of :class:`OutOfRangeWarning` on ``features``: the (n_samples,
    n_features) mask of values outside ``feature_range``, the count of events with any, the
    mean count events of the training distribution give (:func:`outside_range_excess`), and
    whether the count exceeds it (probability below ``OUT_OF_RANGE_LEVEL``)."""
    mask = outside_range(features, feature_range)
    n_outside = int(np.count_nonzero(mask.any(axis=1)))
    expected, p_value = outside_range_excess(n_outside, *features.shape, n_range_events)
    return mask, n_outside, expected, p_value < OUT_OF_RANGE_LEVEL


def warn_out_of_range(
    features: np.ndarray, feature_range: np.ndarray, n_range_events: int | None, names: Any
) -> None:
    """Issue :class:`OutOfRangeWarning`, pointing at the user's call, when :func:`count_outside`
    finds more events outside the training ranges than the training distribution gives."""
    mask, _, expected, excessive = count_outside(features, feature_range, n_range_events)
    if excessive:
        warnings.warn(
            _range_message(mask, features, feature_range, names, expected),
            OutOfRangeWarning,
            stacklevel=caller_stacklevel(),
        )


def record_feature_range(estimator: Any, X: np.ndarray, y01: np.ndarray) -> None:
    """Set ``feature_range_`` (each feature's minimum and maximum over the training events) and
    ``n_range_events_`` (the smaller class's count of them) on a reweighter being fitted."""
    estimator.feature_range_ = np.vstack([X.min(axis=0), X.max(axis=0)]).astype(np.float64)
    estimator.n_range_events_ = int(min(np.count_nonzero(y01 == 0), np.count_nonzero(y01 == 1)))


def _range_message(
    mask: np.ndarray,
    features: np.ndarray,
    feature_range: np.ndarray,
    names: Any,
    expected: float | None = None,
) -> str:
    """'k of n events ...' with the features concerned, for :class:`OutOfRangeWarning`."""
    n_out = int(np.count_nonzero(mask.any(axis=1)))
    parts = []
    columns = np.flatnonzero(mask.any(axis=0))
    for j in columns[:_LISTED_FEATURES]:
        below = int(np.count_nonzero(features[:, j] < feature_range[0, j]))
        above = int(np.count_nonzero(features[:, j] > feature_range[1, j]))
        name = repr(str(names[j])) if names is not None else str(j)
        parts.append(
            f"feature {name} [{feature_range[0, j]:.6g}, {feature_range[1, j]:.6g}]: "
            f"{below} below, {above} above"
        )
    if columns.size > _LISTED_FEATURES:
        parts.append(f"and {columns.size - _LISTED_FEATURES} more features")
    fresh = (
        ""
        if expected is None
        else f", where events of the training distribution would put {expected:.3g} on average"
    )
    return (
        f"{n_out} of {features.shape[0]} events lie outside the feature ranges seen in training "
        f"({'; '.join(parts)}){fresh}; their weights extrapolate the classifier beyond its "
        "training data"
    )


def fit_method(fit: F) -> F:
    """Decorate an estimator's ``fit``: validate the parameters, clear the fitted state before
    training, and clear it again when ``fit`` raises (a KeyboardInterrupt included), so that
    ``check_is_fitted`` fails after an interrupted or failed fit instead of passing on a
    half-trained model."""

    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._validate_params()
        self._reset_fitted_state()
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self._reset_fitted_state()
            raise

    return wrapper  # type: ignore[return-value]


def _is_one_dimensional(X: Any) -> bool:
    shape = getattr(X, "shape", None)
    if shape is None and isinstance(X, (list, tuple)):
        try:
            shape = np.shape(X)
        except ValueError:  # ragged: validate_data says what is wrong
            return False
    return shape is not None and len(shape) == 1


def _non_numeric_column(X: Any) -> Any:
    """The name (DataFrame) or index (array) of the first column of X that is not numeric."""
    if hasattr(X, "columns"):
        for column in X.columns:
            try:
                np.asarray(X[column], dtype=np.float64)
            except (TypeError, ValueError):
                return column
        return None
    array = np.asarray(X, dtype=object)
    if array.ndim != 2:
        return None
    for j in range(array.shape[1]):
        try:
            array[:, j].astype(np.float64)
        except (TypeError, ValueError):
            return j
    return None


class EstimatorMixin:
    """Fitted state, input validation and training history shared by every estimator."""

    def _set_params_from_init(self, values: dict[str, Any]) -> None:
        """Store the arguments of ``__init__`` (its ``locals()``) as attributes of the same name.

        ``__init__`` keeps its explicit signature, which scikit-learn reads for ``get_params``
        and ``clone``; this only spares writing ``self.x = x`` once per parameter, and stores
        each value as given.
        """
        for name in inspect.signature(type(self).__init__).parameters:
            if name != "self":
                setattr(self, name, values[name])

    def _reset_fitted_state(self) -> None:
        """Remove every fitted attribute: public names ending in ``_`` (``n_features_in_``
        included), so that nothing from an earlier fit survives a new one."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    def _validate_input(
        self, X: Any, y: Any = "no_validation", *, reset: bool, name: str = "X", **kwargs: Any
    ) -> Any:
        """``validate_data`` with errors that name the argument and the offending column.

        A 1-D X raises without printing its values; a non-numeric column is named. With
        ``reset=False`` the estimator must be fitted.
        """
        if not reset:
            check_is_fitted(self)
        if _is_one_dimensional(X):
            raise ValueError(
                f"{name} must be 2-D of shape (n_samples, n_features), got a 1-D array of "
                f"shape {np.shape(X)}. Reshape your data: x.reshape(-1, 1) for one feature, "
                "x.reshape(1, -1) for one event"
            )
        kwargs.setdefault("dtype", FLOAT_DTYPES)
        try:
            return validate_data(self, X, y, reset=reset, **kwargs)
        except ValueError as exc:
            if "could not convert" not in str(exc):
                raise
            column = _non_numeric_column(X)
            if column is None:
                raise
            raise ValueError(
                f"{name} column {column!r} holds values that are not numbers ({exc})"
            ) from None

    def _validate_fitted_input(self, X: Any) -> np.ndarray:
        """X for a fitted estimator: checked against the features seen in ``fit``."""
        return self._validate_input(X, reset=False)

    def _record_history(self, net: Any) -> None:
        """``n_iter_`` (epochs run), ``loss_curve_`` (training loss per epoch) and, with a
        validation split, ``validation_loss_curve_`` from a trained skorch net."""
        history = net.history
        self.n_iter_ = len(history)
        self.loss_curve_ = np.array(history[:, "train_loss"], dtype=np.float64)
        if len(history) and "valid_loss" in history[-1]:
            self.validation_loss_curve_ = np.array(history[:, "valid_loss"], dtype=np.float64)
        else:
            self.validation_loss_curve_ = None


def stack_samples(
    source: Any, target: Any, source_weight: Any = None, target_weight: Any = None
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """Stack two samples into ``(X, y, sample_weight)``, y 0 for the source and 1 for the target,
    keeping DataFrame columns (both must then be DataFrames with the same columns)."""
    source_frame, target_frame = hasattr(source, "columns"), hasattr(target, "columns")
    if source_frame != target_frame:
        frame, array = ("source", "target") if source_frame else ("target", "source")
        raise TypeError(
            f"{frame} is a DataFrame but {array} is not: give both as DataFrames (their column "
            "names are kept and checked) or both as arrays"
        )
    if source_frame:
        import pandas as pd

        if list(source.columns) != list(target.columns):
            raise ValueError(
                "source and target have different columns: "
                f"{list(source.columns)} vs {list(target.columns)}"
            )
        X = pd.concat([source, target], ignore_index=True)
    else:
        s, t = np.asarray(source), np.asarray(target)
        for name, a in (("source", s), ("target", t)):
            if a.ndim != 2:
                raise ValueError(
                    f"{name} must be 2-D of shape (n_samples, n_features), got shape {a.shape}; "
                    "reshape a single feature with x.reshape(-1, 1)"
                )
        if s.shape[1] != t.shape[1]:
            raise ValueError(
                f"source and target must be 2-D with the same number of columns, "
                f"got shapes {s.shape} and {t.shape}"
            )
        X = np.vstack([s, t])
    n_source, n_target = len(source), len(target)
    if n_source == 0 or n_target == 0:
        raise ValueError(f"source and target must both hold events, got {n_source} and {n_target}")
    y = np.r_[np.zeros(n_source, dtype=np.int64), np.ones(n_target, dtype=np.int64)]
    weight = None
    if source_weight is not None or target_weight is not None:
        weight = np.r_[
            check_event_weights(source_weight, n_source, "source_weight"),
            check_event_weights(target_weight, n_target, "target_weight"),
        ]
    return X, y, weight


class BaseReweighter(EstimatorMixin, ClassifierMixin, BaseEstimator, ABC):
    """A reweighter: learns :math:`w(x) = q(x)/p(x)` from a source (y == 0) and a target
    (y == 1) sample.

    A subclass provides ``fit`` (whose :meth:`_validate_fit_input` sets ``classes_``) and
    :meth:`_log_ratio`; extra prediction
    arguments (the theta of a parametrized reweighter) are taken by
    :meth:`_prediction_input`. Prediction writes nothing on the estimator, so one fitted model
    can serve several threads at once.
    """

    def fit_samples(
        self,
        source: Any,
        target: Any,
        source_weight: Any = None,
        target_weight: Any = None,
    ) -> BaseReweighter:
        """Fit from the two samples, as hep_ml's ``GBReweighter.fit(original, target)``.

        Parameters
        ----------
        source : array-like of shape (n_source, n_features)
            The sample to be reweighted (simulation).
        target : array-like of shape (n_target, n_features)
            The sample to reproduce. Both DataFrames (same columns) or both arrays.
        source_weight, target_weight : array-like of shape (n_source,) / (n_target,), default=None

        Returns
        -------
        self
        """
        X, y, weight = stack_samples(source, target, source_weight, target_weight)
        return self.fit(X, y, sample_weight=weight)

    def _validate_fit_input(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """``fit``'s X validated and y as 0 (source) / 1 (target) under the package's label rule
        (:func:`~skhep_reweight._validation.check_binary_labels`); ``classes_``,
        ``feature_range_`` and ``n_range_events_`` recorded.

        A second sample passed where the labels belong (hep_ml's ``fit(original, target)``)
        gets an error pointing to the two-sample form.
        """
        labels = np.asarray(y) if hasattr(y, "shape") or isinstance(y, list) else None
        if (
            labels is not None
            and labels.ndim >= 2
            and (labels.shape[1:] != (1,) or np.unique(labels).size > 2)
        ):
            raise ValueError(
                f"y must be the labels of X (0 for source rows, 1 for target rows), got an "
                f"array of shape {np.shape(y)}: it looks like a second sample. fit(X, y) takes "
                "both samples stacked; for the two-sample form of hep_ml's "
                "GBReweighter.fit(original, target) call fit_samples(source, target, "
                "source_weight, target_weight), or import the hep_ml names from "
                "skhep_reweight.compat.hep_ml"
            )
        X, y = self._validate_input(X, y, reset=True)
        if type_of_target(y) == "continuous":
            raise ValueError(
                "y must be the labels of X (0 for source rows, 1 for target rows), but it holds "
                "continuous values: if it is a second sample, call fit_samples(source, target) "
                "or use skhep_reweight.compat.hep_ml, whose fit(original, target) follows hep_ml"
            )
        self.classes_, y01 = check_binary_labels(y)
        record_feature_range(self, X, y01)
        return X, y01

    def _warn_out_of_range(self, features: np.ndarray) -> None:
        """:func:`warn_out_of_range` against ``feature_range_`` (nothing for a model saved
        before the ranges were recorded)."""
        feature_range = getattr(self, "feature_range_", None)
        if feature_range is not None:
            warn_out_of_range(
                features[:, : feature_range.shape[1]],
                feature_range,
                getattr(self, "n_range_events_", None),
                getattr(self, "feature_names_in_", None),
            )

    # -------------------------------------------------------------- the subclass's part
    @abstractmethod
    def _log_ratio(self, features: np.ndarray) -> tuple[np.ndarray, int]:
        """The clipped log-ratio on validated features, and how many events were clipped."""

    def _prediction_input(self, X: Any) -> np.ndarray:
        """Validated features for :meth:`_log_ratio` (a subclass may take more arguments)."""
        return self._validate_fitted_input(X)

    def _score_loss(self, features: np.ndarray, y01: np.ndarray, weight: np.ndarray) -> float:
        """The proper scoring rule :meth:`score` negates: the class-balanced cross-entropy."""
        from .reweight._weights import balanced_cross_entropy

        return balanced_cross_entropy(y01, self._log_ratio(features)[0], weight)

    # -------------------------------------------------------------- what the user calls
    def predict_weights(self, X: Any, sample_weight: Any = None, **params: Any) -> np.ndarray:
        """The per-event density ratio (times ``sample_weight``), not renormalized.

        Predicting in batches gives the same numbers as predicting at once: the same bits on the
        CPU, the same to float32 rounding on a GPU (whose matrix kernels depend on the batch size).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of the source sample.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the events already carry.

        Returns
        -------
        weights : ndarray of shape (n_samples,)

        Warns
        -----
        OutOfRangeWarning
            When events lie outside the feature ranges seen in training (``feature_range_``),
            with their count per feature: the weights there are extrapolations.
        """
        features = self._prediction_input(X, **params)
        self._warn_out_of_range(features)
        log_ratio, _ = self._log_ratio(features)
        return np.exp(log_ratio) * check_event_weights(sample_weight, features.shape[0])

    def decision_function(self, X: Any, **params: Any) -> np.ndarray:
        """The clipped log density ratio; positive favours the target class."""
        features = self._prediction_input(X, **params)
        self._warn_out_of_range(features)
        return self._log_ratio(features)[0]

    def predict_proba(self, X: Any, **params: Any) -> np.ndarray:
        """Class probabilities for equal class totals: column 1 is the sigmoid of the
        log-ratio."""
        from .reweight._weights import proba_from_log_ratio

        return proba_from_log_ratio(self.decision_function(X, **params))

    def predict(self, X: Any, **params: Any) -> np.ndarray:
        """The more likely class under equal class totals (the sign of the log-ratio)."""
        positive = self.decision_function(X, **params) > 0
        return self.classes_[positive.astype(int)]

    def score(self, X: Any, y: Any, sample_weight: Any = None, **params: Any) -> float:
        """Minus the class-balanced weighted cross-entropy (higher is better).

        A proper scoring rule for the density ratio: maximized by the true ratio, so model
        selection with the default score picks the best ratio, not the best accuracy.
        """
        check_is_fitted(self)
        y01 = check_score_labels(y, self.classes_, X)
        weight = check_event_weights(sample_weight, y01.shape[0])
        return -self._score_loss(self._prediction_input(X, **params), y01, weight)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
