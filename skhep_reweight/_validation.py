"""Input checks shared by the estimators. Each raises a ValueError or TypeError naming the argument
and what is wrong with it; nothing is repaired silently."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

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
    "effective_count",
    "small_sample_message",
    "small_sample_told_once",
    "warn_small_sample",
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


def _labels_01(y: ArrayLike, kind: str, roles: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as 0/1 and the dtype-preserving ``classes_``, under the package's one label rule:
    0 (or False) marks the first role, 1 (or True) the second; nothing else is accepted."""
    values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per row), got shape {values.shape}")
    numbers = (bool, int, float, np.bool_, np.number)
    if values.dtype == object and all(isinstance(v, numbers) for v in values):
        values = values.astype(np.float64)  # numbers held as objects (a pandas object column)
    rule = (
        f"{kind} takes y == 0 (or False) for the {roles[0]} rows and y == 1 (or True) for the "
        f"{roles[1]} rows"
    )
    if values.dtype.kind == "b":
        classes = np.array([False, True])
    elif values.dtype.kind in "iuf":
        classes = np.array([0, 1], dtype=values.dtype)
    else:
        found = np.unique(values.astype(str))[:5].tolist()
        raise ValueError(
            f"y holds labels {found}: {rule}; labels that are not numbers are not read, so that "
            "the source and the target are never swapped by sorting their names. Map them "
            "explicitly, e.g. y = (labels == 'data').astype(int) makes 'data' the "
            f"{roles[1]}"
        )
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ValueError(f"y holds NaN or infinite labels; {rule}")
    present = np.unique(values)
    if values.dtype.kind == "f" and np.any(present != np.round(present)):
        raise ValueError(
            f"y holds continuous values, not labels; {rule}. If y is a second sample, stack the "
            "two samples (fit_samples(source, target) does)"
        )
    if present.size > 2:
        raise ValueError(
            f"Only binary classification is supported. y holds {present.size} classes; {rule}"
        )
    other = present[(present != 0) & (present != 1)]
    if other.size:
        shown = [v.item() for v in present[:5]]
        raise ValueError(
            f"y holds labels {shown}: {rule}; other labels (such as 1 and 2, or -1 and 1) are "
            "refused rather than guessed. Map them explicitly, e.g. y = (labels == 2).astype(int)"
        )
    return classes, (values == 1).astype(np.int64)


def check_binary_labels(
    y: ArrayLike, kind: str = "a reweighter", roles: tuple[str, str] = ("source", "target")
) -> tuple[np.ndarray, np.ndarray]:
    """The classes (``[0, 1]`` or ``[False, True]``, in y's dtype) and ``y`` as 0/1.

    The package's one label rule (API.md section 16): ``y == 0`` (or False) marks the
    ``roles[0]`` rows, ``y == 1`` (or True) the ``roles[1]`` rows. Any other label, strings
    included, raises a ValueError that says which label means what: sorting labels such as
    "data" and "mc" would silently make "data" the source and invert the weights. A ValueError
    mentioning "class" is raised when ``y`` holds one class only.
    """
    classes, y01 = _labels_01(y, kind, roles)
    if np.unique(y01).size < 2:
        only = classes[y01[0]].item() if y01.size else None
        raise ValueError(
            f"y holds only one class ({only!r}); {kind} needs both the {roles[0]} "
            f"(y == 0) and the {roles[1]} (y == 1) class"
        )
    return classes, y01


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

    The labels follow :func:`check_binary_labels`'s rule; a ValueError is raised when ``y`` and
    ``X`` differ in length or when ``y`` lacks one of the two classes.
    """
    from sklearn.utils.validation import check_consistent_length

    _, y01 = _labels_01(y, "score", ("source", "target"))
    check_consistent_length(X, y01)
    if np.unique(y01).size < 2:
        raise ValueError("score needs events of both the source and the target class in y")
    return y01


# A class with fewer effective events than this is too small to train a classifier whose
# weights mean anything; a held-out part (early-stopping split, validation report) with fewer
# than MIN_HELD_OUT_EVENTS cannot tell a good fit from a bad one: with n events a class, the
# two-sample AUC of identical samples scatters by sqrt((2n + 1) / (12 n^2)) (0.058 at 50) and
# the 1 % KS critical value is 1.63 sqrt(2 / n) (0.33 at 50).
MIN_TRAINING_EVENTS = 100
MIN_HELD_OUT_EVENTS = 50


# Weights above this are rescaled before they are squared (1e100 squared and summed over any
# sample stays far from float64's overflow at 1.8e308).
_LARGEST_SQUARED_WEIGHT = 1e100


def effective_count(weight: np.ndarray) -> float:
    """Kish's effective number of events, :math:`(\\sum w)^2 / \\sum w^2` (0 when every
    weight is zero or there is none): the formula behind
    :func:`~skhep_reweight.metrics.effective_sample_size`, which validates its input first."""
    weight = np.asarray(weight, dtype=np.float64)
    scale = float(np.max(np.abs(weight))) if weight.size else 0.0
    if scale == 0:
        return 0.0
    if scale > _LARGEST_SQUARED_WEIGHT:  # no overflow of the squares, whatever the weights
        weight = weight / scale
    return float(np.sum(weight)) ** 2 / float(np.sum(weight**2))


def small_sample_message(
    y01: np.ndarray, weight: np.ndarray, validation_fraction: float | None, kind: str
) -> str | None:
    """Why the classes of a fit are too small (a sentence), or None when they are not.

    A class is too small with fewer than ``MIN_TRAINING_EVENTS`` effective events, or when its
    share ``validation_fraction`` held out for early stopping has fewer than
    ``MIN_HELD_OUT_EVENTS``.
    """
    problems = []
    for label, role in ((0, "source"), (1, "target")):
        n = effective_count(weight[y01 == label])
        if n < MIN_TRAINING_EVENTS:
            problems.append(
                f"the {role} class has {n:.0f} effective events (fewer than {MIN_TRAINING_EVENTS})"
            )
        elif validation_fraction and n * validation_fraction < MIN_HELD_OUT_EVENTS:
            problems.append(
                f"the {role} class's validation split holds about {n * validation_fraction:.0f} "
                f"effective events (fewer than {MIN_HELD_OUT_EVENTS}), so early stopping follows "
                "noise"
            )
    if not problems:
        return None
    return (
        f"{kind} trains on a sample too small to learn a density ratio: {'; '.join(problems)}. "
        "Its weights are dominated by statistical noise; use more events"
    )


@contextlib.contextmanager
def small_sample_told_once() -> Iterator[None]:
    """Silence :class:`~skhep_reweight.SmallSampleWarning` for the fits inside an estimator that
    has given it once for its whole sample (an ensemble's members, a conditional reweighter's
    two classifiers)."""
    import warnings

    from ._errors import SmallSampleWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        yield


def warn_small_sample(
    y01: np.ndarray, weight: np.ndarray, validation_fraction: float | None, kind: str
) -> None:
    """Issue :class:`~skhep_reweight.SmallSampleWarning` with :func:`small_sample_message`."""
    message = small_sample_message(y01, weight, validation_fraction, kind)
    if message is not None:
        import warnings

        from ._errors import SmallSampleWarning, caller_stacklevel

        warnings.warn(message, SmallSampleWarning, stacklevel=caller_stacklevel())


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
