"""hep_ml's reweighting interface on top of skhep_reweight: switch by changing the import line.

``hep_ml.reweight`` fits a reweighter from two samples, ``fit(original, target, original_weight,
target_weight)``, and returns ``original_weight`` times the learned ratio from
``predict_weights(original, original_weight)``; the weights are not renormalized (predicting in
pieces gives the same numbers as predicting at once). This module keeps those names, signatures
and rules:

- :class:`NNReweighter` takes the parameters of :class:`~skhep_reweight.DCTRReweighter` (a
  neural classifier by default, or any scikit-learn classifier as ``classifier``) and offers
  hep_ml's ``fit`` and ``predict_weights``.
- :class:`FoldingReweighter` follows hep_ml's ``FoldingReweighter`` rule for rule, over any base
  reweighter with hep_ml's interface (hep_ml's own ``GBReweighter`` included), as described in
  its docstring.

hep_ml is not needed to use this module. Inputs may be 1-D (one feature), 2-D arrays or
DataFrames, as in hep_ml.

Differences from hep_ml
-----------------------
- hep_ml normalizes each sample's weights to mean one before training; :class:`NNReweighter`
  balances the two classes' totals, which gives the same ratio.
- The fold assignment is drawn once per ``fit`` (hep_ml draws it once per object, so a second
  ``fit`` with ``random_state=None`` reuses the first one's folds), and a second ``fit`` replaces
  the fold models instead of adding to them.

Examples
--------
>>> import numpy as np
>>> from skhep_reweight.compat.hep_ml import FoldingReweighter, NNReweighter
>>> rng = np.random.RandomState(0)
>>> original, target = rng.normal(0.0, 1.0, 1000), rng.normal(0.5, 1.0, 1000)
>>> base = NNReweighter(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
>>> rw = FoldingReweighter(base, n_folds=2, random_state=0, verbose=False)
>>> rw = rw.fit(original, target)
>>> w = rw.predict_weights(original)  # each event weighted by the fold model that did not see it
>>> w.shape
(1000,)
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .. import _base
from .._base import EstimatorMixin, fit_method
from .._validation import check_event_weights
from ..reweight._dctr import DCTRReweighter
from ..reweight._ensemble import _member_prediction

__all__ = ["FoldingReweighter", "NNReweighter", "folds_column"]

#: hep_ml draws the seed of its fold permutation as an integer below this bound.
_FOLD_SEED_BOUND = 100_000


def _as_events(data: Any, name: str) -> Any:
    """A DataFrame as it is, anything else as a 2-D array (a 1-D input is one feature)."""
    if hasattr(data, "columns"):
        return data
    array = np.asarray(data)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (one feature) or 2-D of shape (n_samples, n_features), got "
            f"shape {array.shape}"
        )
    return array


def folds_column(length: int, n_folds: int, seed: int) -> np.ndarray:
    """hep_ml's fold of each of ``length`` events: ``0, 1, ..., n_folds - 1`` repeated in turn,
    then shuffled by a permutation drawn from ``RandomState(seed)``.

    The folds have equal sizes (to one event), and the assignment depends only on the length,
    the number of folds and the seed.

    Examples
    --------
    >>> folds_column(6, 3, seed=0)
    array([2, 2, 1, 0, 0, 1])
    """
    return np.random.RandomState(seed).permutation(np.arange(length) % n_folds)


class NNReweighter(EstimatorMixin, BaseEstimator):
    """hep_ml's reweighter interface on :class:`~skhep_reweight.DCTRReweighter`.

    Takes exactly the parameters of :class:`~skhep_reweight.DCTRReweighter` (the built-in
    network by default; ``classifier=`` for any scikit-learn classifier), so that ``clone``,
    ``get_params`` and ``set_params`` work as for it, and trains one in ``fit``.

    Parameters
    ----------
    classifier, hidden_layer_sizes, activation, learning_rate, batch_size, max_epochs, \
early_stopping, validation_fraction, n_iter_no_change, weight_decay, proba_clip, \
allow_extrapolation, device, random_state, verbose
        As for :class:`~skhep_reweight.DCTRReweighter`.

    Attributes
    ----------
    reweighter_ : DCTRReweighter
        The fitted reweighter (its ``feature_range_``, ``n_clipped_``, ``loss_curve_``).
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.compat.hep_ml import NNReweighter
    >>> rng = np.random.RandomState(0)
    >>> original, target = rng.normal(0.0, 1.0, (2000, 1)), rng.normal(0.5, 1.0, (2000, 1))
    >>> rw = NNReweighter(hidden_layer_sizes=(16,), learning_rate=1e-2, batch_size=256,
    ...                   max_epochs=20, random_state=0).fit(original, target)
    >>> w = rw.predict_weights(original, original_weight=np.full(2000, 2.0))
    >>> print(round(float(np.average(original[:, 0], weights=w)), 1))
    0.5
    """

    _parameter_constraints: dict = DCTRReweighter._parameter_constraints
    # DCTRReweighter's explicit signature, so that scikit-learn reads the same parameters here.
    __init__ = DCTRReweighter.__init__

    @fit_method
    def fit(
        self,
        original: ArrayLike,
        target: ArrayLike,
        original_weight: ArrayLike | None = None,
        target_weight: ArrayLike | None = None,
    ) -> NNReweighter:
        """Learn the ratio target/original.

        Parameters
        ----------
        original : array-like of shape (n_original, n_features) or (n_original,)
            The sample to reweight (simulation).
        target : array-like of shape (n_target, n_features) or (n_target,)
            The sample to reproduce (data).
        original_weight, target_weight : array-like of shape (n_original,) / (n_target,), \
default=None
            The events' weights (sWeights, negative ones included); None means ones.

        Returns
        -------
        self : NNReweighter
        """
        reweighter = DCTRReweighter(**self.get_params(deep=False))
        reweighter.fit_samples(
            _as_events(original, "original"),
            _as_events(target, "target"),
            _checked_weights(original_weight, original, "original_weight"),
            _checked_weights(target_weight, target, "target_weight"),
        )
        self.reweighter_ = reweighter
        self.n_features_in_ = reweighter.n_features_in_
        return self

    def predict_weights(
        self, original: ArrayLike, original_weight: ArrayLike | None = None
    ) -> np.ndarray:
        """``original_weight`` times the learned ratio target/original, not renormalized.

        Parameters
        ----------
        original : array-like of shape (n_samples, n_features) or (n_samples,)
        original_weight : array-like of shape (n_samples,), default=None
            None means ones.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        weight = _checked_weights(original_weight, original, "original_weight")
        return self.reweighter_.predict_weights(_as_events(original, "original"), weight)

    def _quiet_weights(self, original: Any, original_weight: np.ndarray) -> np.ndarray:
        """:meth:`predict_weights` without the out-of-range warning (for a fold model asked
        about events outside its own folds but inside the whole training sample)."""
        check_is_fitted(self)
        return _member_prediction(self.reweighter_, original)[1] * original_weight


def _checked_weights(weight: ArrayLike | None, data: Any, name: str) -> np.ndarray | None:
    """Per-event weights checked against the length of ``data`` (None stays None)."""
    if weight is None:
        return None
    return check_event_weights(weight, len(data), name)


class FoldingReweighter(EstimatorMixin, BaseEstimator):
    """hep_ml's ``FoldingReweighter``: k-fold training and out-of-fold prediction.

    Its rules, which hep_ml's users rely on:

    - In ``fit``, one integer seed is drawn below 100000 from ``random_state``; the events of
      ``original`` and those of ``target`` each get a fold from :func:`folds_column` with this
      seed (equal-sized folds, randomly permuted). Fold model :math:`k`, a clone of
      ``base_reweighter``, is trained on the events of both samples outside fold :math:`k`.
    - ``predict_weights(original, original_weight)`` without ``vote_function`` computes the folds
      column for ``len(original)`` with the same seed and weights each event by the model of its
      fold. When ``original`` is the training sample (same events, same order) each event is
      thus weighted by the model that did not see it. The rule looks only at the length: data of
      the training length but in another order, or other data, is weighted by effectively random
      fold models. Prefer a ``vote_function`` for data that was not used in training.
    - With ``vote_function``, every fold model predicts every event (``original_weight``
      included); ``vote_function`` receives the array of shape (n_folds, n_samples) and returns
      the weights, e.g. ``lambda x: np.mean(x, axis=0)`` or ``np.median(x, axis=0)``.

    Parameters
    ----------
    base_reweighter : reweighter with hep_ml's interface
        ``fit(original, target, original_weight=, target_weight=)`` and
        ``predict_weights(original, original_weight=)``: :class:`NNReweighter`, or
        ``hep_ml.reweight.GBReweighter`` / ``BinsReweighter``. Cloned, never fitted itself.
    n_folds : int, default=2
    random_state : int, RandomState instance or None, default=None
        Seeds the fold assignment (the same folds as hep_ml's for the same int seed).
    verbose : bool, default=True
        Print, at each prediction, which rule was applied (as hep_ml does).

    Attributes
    ----------
    reweighters_ : list
        The fitted fold models (also readable as ``reweighters``, hep_ml's name).
    train_length_ : int
        ``len(original)`` in ``fit`` (also ``train_length``).
    fold_seed_ : int
        The seed of the fold permutation.
    folds_original_, folds_target_ : ndarray of int
        The fold of each training event of ``original`` and of ``target``.
    feature_range_ : ndarray of shape (2, n_features)
        Minimum and maximum of each feature over both training samples.
    n_range_events_ : int
        The smaller training sample's size, against which the count of events outside
        ``feature_range_`` is tested (see :class:`~skhep_reweight.OutOfRangeWarning`).
    n_features_ : int
        Number of features (hep_ml's name).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhep_reweight.compat.hep_ml import FoldingReweighter, NNReweighter
    >>> rng = np.random.RandomState(0)
    >>> original, target = rng.normal(0.0, 1.0, 1001), rng.normal(0.5, 1.0, 1000)
    >>> rw = FoldingReweighter(NNReweighter(LogisticRegression()), n_folds=3, random_state=0,
    ...                        verbose=False).fit(original, target)
    >>> w = rw.predict_weights(original)
    >>> k = rw.folds_original_ == 0
    >>> bool(np.array_equal(w[k], rw.reweighters[0].predict_weights(original[k])))
    True
    >>> mean = rw.predict_weights(original, vote_function=lambda x: np.mean(x, axis=0))
    >>> mean.shape
    (1001,)
    """

    _parameter_constraints: dict = {
        "base_reweighter": [HasMethods(["fit", "predict_weights"])],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        base_reweighter: Any,
        n_folds: int = 2,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = True,
    ) -> None:
        self._set_params_from_init(locals())

    @fit_method
    def fit(
        self,
        original: ArrayLike,
        target: ArrayLike,
        original_weight: ArrayLike | None = None,
        target_weight: ArrayLike | None = None,
    ) -> FoldingReweighter:
        """Train ``n_folds`` clones of ``base_reweighter``, each without one fold.

        Parameters
        ----------
        original : array-like of shape (n_original, n_features) or (n_original,)
        target : array-like of shape (n_target, n_features) or (n_target,)
        original_weight, target_weight : array-like of shape (n_original,) / (n_target,), \
default=None
            None means ones.

        Returns
        -------
        self : FoldingReweighter
        """
        original, original_weight = self._events(original, original_weight, "original")
        target, target_weight = self._events(target, target_weight, "target")
        if original.shape[1] != target.shape[1]:
            raise ValueError(
                f"original has {original.shape[1]} features but target has {target.shape[1]}"
            )
        for name, data in (("original", original), ("target", target)):
            if data.shape[0] < self.n_folds:
                raise ValueError(
                    f"{name} holds {data.shape[0]} events, fewer than n_folds={self.n_folds}"
                )
        self.n_features_ = original.shape[1]
        self.feature_range_ = np.vstack(
            [np.minimum(original.min(0), target.min(0)), np.maximum(original.max(0), target.max(0))]
        )
        self.n_range_events_ = int(min(len(original), len(target)))
        self.fold_seed_ = int(check_random_state(self.random_state).randint(0, _FOLD_SEED_BOUND))
        self.folds_original_ = folds_column(len(original), self.n_folds, self.fold_seed_)
        self.folds_target_ = folds_column(len(target), self.n_folds, self.fold_seed_)
        self.reweighters_ = []
        for k in range(self.n_folds):
            keep_original, keep_target = self.folds_original_ != k, self.folds_target_ != k
            self.reweighters_.append(
                clone(self.base_reweighter).fit(
                    original[keep_original],
                    target[keep_target],
                    original_weight=original_weight[keep_original],
                    target_weight=target_weight[keep_target],
                )
            )
        self.train_length_ = len(original)
        return self

    def predict_weights(
        self,
        original: ArrayLike,
        original_weight: ArrayLike | None = None,
        vote_function: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """``original_weight`` times the ratio, by fold model or by vote (see the class rules).

        Parameters
        ----------
        original : array-like of shape (n_samples, n_features) or (n_samples,)
        original_weight : array-like of shape (n_samples,), default=None
            None means ones.
        vote_function : callable, default=None
            Maps the fold models' weights, an array of shape (n_folds, n_samples), to the
            weights, e.g. ``lambda x: np.mean(x, axis=0)``. None: one fold model per event.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        original, original_weight = self._events(original, original_weight, "original")
        if original.shape[1] != self.n_features_:
            raise ValueError(
                f"original has {original.shape[1]} features, but the reweighter was fitted "
                f"with {self.n_features_}"
            )
        self._warn_out_of_range(original)
        if vote_function is not None:
            self._say("each fold model weights every event; vote_function combines them")
            votes = np.array(
                [self._fold_weights(r, original, original_weight) for r in self.reweighters_]
            )
            return vote_function(votes)
        if len(original) == self.train_length_:
            self._say("the training length: each event is weighted by its fold's model")
        else:
            self._say(
                f"{len(original)} events, not the training length {self.train_length_}: each "
                "event is weighted by one fold model assigned at random (pass vote_function "
                "to combine all)"
            )
        folds = folds_column(len(original), self.n_folds, self.fold_seed_)
        weights = np.zeros(len(original))
        for k, reweighter in enumerate(self.reweighters_):
            rows = folds == k
            weights[rows] = self._fold_weights(reweighter, original[rows], original_weight[rows])
        return weights

    @property
    def reweighters(self) -> list:
        """The fitted fold models (hep_ml's attribute name)."""
        check_is_fitted(self)
        return self.reweighters_

    @property
    def train_length(self) -> int:
        """The number of ``original`` events in ``fit`` (hep_ml's attribute name)."""
        check_is_fitted(self)
        return self.train_length_

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _events(data: Any, weight: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The events as a 2-D float array (columns of a DataFrame by position, as hep_ml) and
        their weights (ones when None)."""
        array = np.asarray(_as_events(data, name), dtype=np.float64)
        if array.shape[0] == 0:
            raise ValueError(f"{name} holds no events")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values")
        return array, check_event_weights(weight, array.shape[0], f"{name}_weight")

    @staticmethod
    def _fold_weights(reweighter: Any, original: np.ndarray, weight: np.ndarray) -> np.ndarray:
        if isinstance(reweighter, NNReweighter):
            return reweighter._quiet_weights(original, weight)
        return np.asarray(reweighter.predict_weights(original, original_weight=weight))

    def _warn_out_of_range(self, original: np.ndarray) -> None:
        """One warning for the events outside the range of the whole training sample (the fold
        models' own warnings, about their smaller ranges, are not raised)."""
        _base.warn_out_of_range(
            original, self.feature_range_, getattr(self, "n_range_events_", None), None
        )

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"FoldingReweighter prediction: {message}")
