"""Input checks shared by the estimators. Each raises a ValueError or TypeError naming the argument
and what is wrong with it; nothing is repaired silently."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "as_finite_array",
    "resolve_columns",
    "check_binary_labels",
    "check_class_totals",
    "check_event_weights",
    "check_non_negative_weights",
    "check_samples",
    "check_score_labels",
    "class_balanced_weights",
]


def as_finite_array(values: ArrayLike, name: str) -> np.ndarray:
    """An array-like (numpy or pandas) of real numbers as a finite float64 array."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return array


def check_samples(X: ArrayLike, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """A non-empty, finite 2-D float array of events; a 1-D input is one feature."""
    X = as_finite_array(X, name)
    if X.ndim == 1:
        X = X[:, np.newaxis]
    if X.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got an array with {X.ndim} dimensions.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: got shape {X.shape}.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, expected {n_features}.")
    return X


def check_event_weights(
    sample_weight: ArrayLike | float | None, n_samples: int, name: str = "sample_weight"
) -> np.ndarray:
    """Validate per-event weights; None means one for every event.

    Negative weights are allowed (NLO generators produce them); NaN, inf, the wrong shape or the
    wrong length raise a ValueError naming ``name``.

    Returns
    -------
    ndarray of shape (n_samples,), float64
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape ({n_samples},), got shape {w.shape}")
    if w.shape[0] != n_samples:
        raise ValueError(f"{name} has {w.shape[0]} entries but X has {n_samples} rows")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return w


def check_non_negative_weights(
    sample_weight: ArrayLike | None, n_samples: int, why: str
) -> np.ndarray:
    """:func:`check_event_weights` for a method that cannot take negative weights; ``why``
    (the method's reason and advice) completes the error message. The weights must also have a
    positive sum."""
    weight = check_event_weights(sample_weight, n_samples)
    if np.any(weight < 0):
        raise ValueError(f"sample_weight holds {int((weight < 0).sum())} negative values; {why}")
    if not weight.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one event needs a positive weight")
    return weight


def check_binary_labels(
    y: ArrayLike, kind: str = "a reweighter", roles: tuple[str, str] = ("source", "target")
) -> tuple[np.ndarray, np.ndarray]:
    """The two classes of ``y`` (sorted) and ``y`` encoded as 0 (first class) / 1 (second class).

    Raises a ValueError mentioning "class" when ``y`` holds one class or more than two; the
    message names the estimator ``kind`` and the ``roles`` of the two classes.
    """
    check_classification_targets(y)
    classes, encoded = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(
            f"y holds only one class ({classes[0]!r}); {kind} needs both the {roles[0]} "
            f"(y == 0) and the {roles[1]} (y == 1) class"
        )
    if classes.size > 2:
        raise ValueError(
            f"Only binary classification is supported. y holds {classes.size} classes; {kind} "
            f"takes two: y == 0 for the {roles[0]} sample, y == 1 for the {roles[1]}"
        )
    return classes, encoded.astype(np.int64)


def check_class_totals(y01: np.ndarray, sample_weight: np.ndarray) -> tuple[float, float]:
    """The total weight of the source (y01 == 0) and of the target class (y01 == 1).

    Raises
    ------
    ValueError
        When a class's weights do not sum to a positive number.
    """
    totals = []
    for label, name in ((0, "source class (y == 0)"), (1, "target class (y == 1)")):
        total = float(sample_weight[y01 == label].sum())
        if total == 0:
            raise ValueError(
                f"the sample weights of the {name} sum to zero; each class's "
                "weights must sum to a positive number"
            )
        if not total > 0:
            raise ValueError(
                f"the sample weights of the {name} sum to {total:.6g}; each "
                "class's weights must sum to a positive number"
            )
        totals.append(total)
    return totals[0], totals[1]


def class_balanced_weights(y01: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    """Rescale each class so that its weights sum to half the number of events.

    The two classes then carry equal total weight (no prior factor in the learned ratio) and the
    weights have mean one over the stacked sample. A class whose weights do not sum to a positive
    number raises (:func:`check_class_totals`).
    """
    half = 0.5 * y01.shape[0]
    totals = check_class_totals(y01, sample_weight)
    return np.asarray(sample_weight, dtype=np.float64) * np.where(
        y01 == 1, half / totals[1], half / totals[0]
    )


def check_score_labels(y: ArrayLike, classes: np.ndarray, X: ArrayLike) -> np.ndarray:
    """``y`` given to a fitted reweighter's ``score``, encoded 0 (source) / 1 (target).

    Raises a ValueError when ``y`` and ``X`` differ in length, when ``y`` holds a label not seen in
    ``fit`` (``classes``), or when it lacks one of the two classes.
    """
    from sklearn.utils.validation import check_consistent_length, column_or_1d

    y = column_or_1d(y)
    check_consistent_length(X, y)
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(f"y holds labels {np.unique(y[unknown])} not seen in fit ({classes})")
    y01 = (y == classes[1]).astype(np.int64)
    if np.unique(y01).size < 2:
        raise ValueError("score needs events of both the source and the target class in y")
    return y01


def resolve_columns(
    columns: Any,
    n_features: int,
    feature_names: np.ndarray | None = None,
    *,
    name: str,
    keep_one: bool = True,
) -> np.ndarray:
    """Column indices from a parameter that names columns of X: the one rule for all of them.

    Parameters
    ----------
    columns : int, str, or array-like of int, str or bool
        Indices (negative ones count from the end), DataFrame column names, or a boolean mask
        over the columns. None is not accepted here: what None means is the caller's.
    n_features : int
        Number of columns of X.
    feature_names : ndarray of str, default=None
        The column names of X when it was a DataFrame.
    name : str
        The parameter's name, for the error messages.
    keep_one : bool, default=True
        Require at least one column of X that ``columns`` does not name (the columns that are
        reweighted or moved, besides the conditioning ones).

    Returns
    -------
    index : ndarray of int
        Sorted column indices. A column named twice, an unknown name or an out-of-range index
        raises a ValueError naming ``name``.

    Examples
    --------
    >>> resolve_columns([-1], 3, name="conditional_features")
    array([2])
    >>> resolve_columns("pt_true", 2, np.array(["pt_reco", "pt_true"]), name="conditional_features")
    array([1])
    >>> resolve_columns([True, False, True], 3, name="mmd_columns", keep_one=False)
    array([0, 2])
    """
    items = np.atleast_1d(np.asarray(columns, dtype=object))
    if items.ndim != 1 or items.size == 0:
        raise ValueError(f"{name} must name at least one column, got {columns!r}")
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        if items.size != n_features:
            raise ValueError(
                f"{name} is a boolean mask of length {items.size}, but X has {n_features} "
                "feature(s)"
            )
        index = np.flatnonzero(items.astype(bool))
    elif all(isinstance(v, str) for v in items):
        if feature_names is None:
            raise ValueError(
                f"{name} names columns {list(items)}, but X has no column names (fit on a "
                "DataFrame, or give column indices)"
            )
        names = list(feature_names)
        missing = [v for v in items if v not in names]
        if missing:
            raise ValueError(f"{name} names columns {missing} that X lacks: {names}")
        index = np.array([names.index(v) for v in items], dtype=np.int64)
    elif all(isinstance(v, (Integral, np.integer)) and not isinstance(v, bool) for v in items):
        index = items.astype(np.int64)
        bad = index[(index < -n_features) | (index >= n_features)]
        if bad.size:
            raise ValueError(
                f"{name} holds column indices {bad.tolist()} outside the {n_features} "
                "feature(s) of X"
            )
        index = np.where(index < 0, index + n_features, index)
    else:
        raise TypeError(
            f"{name} must be column indices, column names or a boolean mask, got {columns!r}"
        )
    if np.unique(index).size != index.size:
        raise ValueError(f"{name} names a column twice: {columns!r}")
    if index.size == 0:
        raise ValueError(f"{name} selects no column")
    if keep_one and index.size == n_features:
        raise ValueError(
            f"X has {n_features} feature(s) and {name} names all of them; at least one column "
            "must remain besides those it names"
        )
    return np.sort(index)
