"""Input checks shared by the metrics."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validation import (
    as_finite_array,
    check_event_weights,
    check_samples,
)


def _check_weight(sample_weight: ArrayLike | None, n_rows: int, name: str) -> np.ndarray:
    """Return 1-D finite weights of length ``n_rows`` (ones if None), positive sum."""
    if sample_weight is not None and np.ndim(sample_weight) != 1:
        raise ValueError(f"{name} must be 1-D, got shape {np.shape(sample_weight)}.")
    weight = check_event_weights(sample_weight, n_rows, name)
    if not weight.sum() > 0:
        raise ValueError(f"{name} must sum to a positive number, got {weight.sum()}.")
    return weight


def _check_pair(
    source: ArrayLike,
    target: ArrayLike,
    source_weight: ArrayLike | None,
    target_weight: ArrayLike | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate two samples with the same number of features and their weights."""
    source = check_samples(source, "source")
    target = check_samples(target, "target")
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"source has {source.shape[1]} features but target has {target.shape[1]}.")
    source_weight = _check_weight(source_weight, source.shape[0], "source_weight")
    target_weight = _check_weight(target_weight, target.shape[0], "target_weight")
    return source, target, source_weight, target_weight


def _check_values(values: ArrayLike, name: str) -> np.ndarray:
    """A non-empty, finite 1-D float array."""
    array = as_finite_array(values, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    return array
