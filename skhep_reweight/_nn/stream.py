"""Training from event files larger than memory: two chunked sources become one stream of
shuffled, labelled, class-balanced batches.

A first pass (:func:`first_pass`) reads every chunk once for what the in-memory path computes
from the whole arrays: the class totals that balance the weights, the standardization statistics
(float64, shifted sums), the feature ranges, and a validation set kept in memory. Each event's
membership in the validation set is drawn from a generator seeded by the chunk, so it is the same
in every pass. The epochs (:class:`StreamIterator`) then read the chunks in a seeded shuffled
order, a few at a time (the shuffle buffer), and yield batches of the rows not held out, shuffled
within the buffer. Memory holds the validation set and one buffer of chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .data import EventDataset
from .modules import _MIN_RELATIVE_SCALE

__all__ = ["ChunkStream", "StreamIterator", "StreamSummary", "first_pass"]

# The validation set holds validation_fraction of the events, but at most this many: it is kept
# in memory, and 2x10^5 events measure a loss to a few parts in 10^4.
MAX_VALIDATION_EVENTS = 200_000


@dataclass
class StreamSummary:
    """What the first pass learned about the two sources."""

    n_events: np.ndarray  # (2,) events per class
    totals: np.ndarray  # (2,) weight sums per class
    loc: np.ndarray  # standardization, as standardization_stats of the balanced weights
    scale: np.ndarray
    feature_range: np.ndarray  # (2, n_features)
    valid_X: np.ndarray
    valid_y: np.ndarray
    valid_w: np.ndarray  # as given (not balanced)
    n_train: int
    probability: float  # of an event being held out


class ChunkStream:
    """The training rows of two sources (label 0 and label 1), chunk by chunk.

    Parameters
    ----------
    sources : sequence of two EventSource
    factors : sequence of two float
        Multiply each class's weights (the class balance).
    probability : float
        Chance of an event being held out for validation (0: none).
    seed : int
        Seeds the hold-out draws: the same events are held out in every pass.
    n_train : int
        Number of training rows (from the first pass).
    """

    def __init__(
        self,
        sources: Sequence[Any],
        factors: Sequence[float],
        probability: float,
        seed: int,
        n_train: int,
    ) -> None:
        self.sources = list(sources)
        self.factors = [float(f) for f in factors]
        self.probability = float(probability)
        self.seed = int(seed)
        self.n_train = int(n_train)
        self.units = [
            (label, index)
            for label, source in enumerate(self.sources)
            for index in range(len(source.chunks))
        ]

    def __len__(self) -> int:
        return self.n_train

    def held_out(self, label: int, index: int, n: int) -> np.ndarray:
        """Which rows of a chunk are held out (deterministic per chunk)."""
        if self.probability <= 0:
            return np.zeros(n, dtype=bool)
        rng = np.random.RandomState([self.seed, label, index])
        return rng.uniform(size=n) < self.probability

    def read(self, label: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The training rows of a chunk: features and balanced weights."""
        X, w = self.sources[label].read(index)
        keep = ~self.held_out(label, index, X.shape[0])
        return X[keep], w[keep] * self.factors[label]


def first_pass(sources: Sequence[Any], validation_fraction: float, seed: int) -> StreamSummary:
    """Read every chunk of both sources once: class totals, standardization, ranges and the
    validation set (see the module docstring)."""
    n_total = sum(source.n_events for source in sources)
    probability = 0.0
    if validation_fraction > 0:
        probability = min(validation_fraction, MAX_VALIDATION_EVENTS / max(n_total, 1))
    stream = ChunkStream(sources, [1.0, 1.0], probability, seed, 0)
    n_features = len(sources[0].columns)
    n_events, totals = np.zeros(2, dtype=np.int64), np.zeros(2)
    abs_sum = np.zeros(2)
    first = np.zeros((2, n_features))  # sums of |w| (x - shift)
    second = np.zeros((2, n_features))  # sums of |w| (x - shift)^2
    low, high = np.full(n_features, np.inf), np.full(n_features, -np.inf)
    shift = None
    valid: list[tuple[np.ndarray, np.ndarray, int]] = []
    n_train = 0
    for label, source in enumerate(sources):
        for index in range(len(source.chunks)):
            X, w = source.read(index)
            if X.shape[0] == 0:
                continue
            if shift is None:
                shift = X.mean(axis=0)
            n_events[label] += X.shape[0]
            totals[label] += w.sum()
            a = np.abs(w)
            abs_sum[label] += a.sum()
            centred = X - shift
            first[label] += a @ centred
            second[label] += a @ centred**2
            low, high = np.minimum(low, X.min(axis=0)), np.maximum(high, X.max(axis=0))
            out = stream.held_out(label, index, X.shape[0])
            n_train += int(np.count_nonzero(~out))
            if np.any(out):
                valid.append((X[out], w[out], label))
    for label, name in enumerate(("source", "target")):
        if n_events[label] == 0:
            raise ValueError(f"the {name} files hold no events")
        if not totals[label] > 0:
            raise ValueError(
                f"the {name} weights sum to {totals[label]:.6g}; each sample's weights must sum "
                "to a positive number"
            )
    factors = 0.5 * n_total / totals  # class_balanced_weights: each class sums to n / 2
    weight = factors * abs_sum
    mean = (factors @ first) / weight.sum()
    var = np.maximum((factors @ second) / weight.sum() - mean**2, 0.0)
    loc, scale = shift + mean, np.sqrt(var)
    constant = scale <= _MIN_RELATIVE_SCALE * np.maximum(np.abs(loc), 1.0)
    scale[constant] = 1.0
    if valid:
        valid_X = np.vstack([v[0] for v in valid])
        valid_w = np.concatenate([v[1] for v in valid])
        valid_y = np.concatenate([np.full(v[0].shape[0], v[2]) for v in valid])
    else:
        valid_X, valid_w, valid_y = np.zeros((0, n_features)), np.zeros(0), np.zeros(0, dtype=int)
    return StreamSummary(
        n_events=n_events,
        totals=totals,
        loc=loc.astype(np.float32),
        scale=scale.astype(np.float32),
        feature_range=np.vstack([low, high]),
        valid_X=valid_X,
        valid_y=valid_y.astype(np.int64),
        valid_w=valid_w,
        n_train=n_train,
        probability=probability,
    )


class StreamIterator:
    """skorch ``iterator_train`` over a :class:`ChunkStream`: one epoch per iteration.

    Each epoch shuffles the chunks of each source and interleaves the two in proportion (a
    generator seeded once, so the epochs differ and the whole fit is reproducible), reads
    ``buffer_chunks`` of them at a time,
    shuffles their training rows together and yields batches of ``batch_size`` (the last batch
    of a buffer may be shorter). Batches have the :class:`~skhep_reweight._nn.data.BatchIterator`
    layout: ``({"X": features, "w": weights}, labels)`` on ``device``.
    """

    def __init__(
        self,
        dataset: ChunkStream,
        batch_size: int,
        seed: int | None = None,
        device: str | torch.device = "cpu",
        buffer_chunks: int = 8,
        **kwargs: Any,
    ) -> None:
        if not isinstance(dataset, ChunkStream):
            raise TypeError(f"StreamIterator needs a ChunkStream, got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.buffer_chunks = int(buffer_chunks)
        self.device = device
        self.rng = np.random.RandomState(seed)

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def _order(self) -> np.ndarray:
        """This epoch's chunk order: each class's chunks shuffled, then interleaved in
        proportion (chunk k of a class with n chunks goes at a random point of
        [k/n, (k+1)/n)), so that every buffer holds both classes in their overall ratio; a
        buffer of one class would pull the network back and forth between buffers."""
        labels = np.array([label for label, _ in self.dataset.units])
        position = np.empty(labels.shape[0])
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            shuffled = self.rng.permutation(members)
            n = members.shape[0]
            position[shuffled] = (np.arange(n) + self.rng.uniform(size=n)) / n
        return np.argsort(position, kind="stable")

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        units = self.dataset.units
        order = self._order()
        for start in range(0, len(order), self.buffer_chunks):
            parts = [
                self.dataset.read(*units[k]) for k in order[start : start + self.buffer_chunks]
            ]
            labels = [
                np.full(p[0].shape[0], units[k][0])
                for p, k in zip(parts, order[start : start + self.buffer_chunks], strict=True)
            ]
            X = np.vstack([p[0] for p in parts]).astype(np.float32)
            w = np.concatenate([p[1] for p in parts]).astype(np.float32)
            y = np.concatenate(labels).astype(np.float32)
            rows = self.rng.permutation(X.shape[0])
            X, w, y = (torch.from_numpy(a[rows]).to(self.device) for a in (X, w, y))
            for b in range(0, X.shape[0], self.batch_size):
                cut = slice(b, b + self.batch_size)
                yield {"X": X[cut], "w": w[cut]}, y[cut]


def validation_dataset(summary: StreamSummary, factors: np.ndarray) -> EventDataset | None:
    """The held-out events with balanced weights, or None when there are none."""
    if summary.valid_X.shape[0] < 2:
        return None
    weight = summary.valid_w * factors[summary.valid_y]
    return EventDataset(summary.valid_X, summary.valid_y.astype(np.float32), weight)
