"""What the reweighters share when they train from files (two io.EventSource)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._nn import derive_seeds
from .._nn.data import EventDataset
from .._nn.stream import ChunkStream, StreamSummary, first_pass, validation_dataset

__all__ = ["check_sources", "is_source", "prepare_stream"]


def is_source(sample: Any) -> bool:
    """Whether ``sample`` is an :class:`~skhep_reweight.io.EventSource`."""
    from ..io._source import EventSource

    return isinstance(sample, EventSource)


def check_sources(source: Any, target: Any, *extras: Any) -> bool:
    """True when both samples are EventSource (and nothing else is given), False when neither
    is; a TypeError for a mix."""
    if not (is_source(source) or is_source(target)):
        return False
    if not (is_source(source) and is_source(target)):
        raise TypeError(
            "source and target must both be EventSource (training from files) or both hold "
            "events in memory"
        )
    if any(extra is not None for extra in extras):
        raise TypeError(
            "with EventSource samples the weights come from each source's weight column; "
            "source_weight, target_weight and target_theta are not taken"
        )
    if source.columns != target.columns:
        raise ValueError(
            f"source and target read different columns: {source.columns} and {target.columns}"
        )
    return True


def prepare_stream(
    estimator: Any, source: Any, target: Any
) -> tuple[StreamSummary, ChunkStream, EventDataset | None, int]:
    """The first pass over both sources, the training stream, the validation events and the
    training seed; sets ``classes_``, ``n_features_in_`` and ``feature_range_``."""
    valid_seed, train_seed = derive_seeds(estimator.random_state, 2)
    fraction = estimator.validation_fraction if estimator.early_stopping else 0.0
    summary = first_pass([source, target], fraction, valid_seed)
    factors = 0.5 * summary.n_events.sum() / summary.totals
    estimator.classes_ = np.array([0, 1])
    estimator.n_features_in_ = len(source.columns)
    estimator.feature_range_ = summary.feature_range
    estimator.n_range_events_ = int(np.min(summary.n_events))
    stream = ChunkStream(
        [source, target], factors, summary.probability, valid_seed, summary.n_train
    )
    return summary, stream, validation_dataset(summary, factors), train_seed
