"""Events as tensors: a dataset that carries weights with the features, a fast batch iterator and
the seeded train/validation split.

skorch's ``fit_params`` are passed whole to every batch; event weights must instead be sliced
with the events they belong to. Here a batch is ``({"X": features, "w": weights}, y)``: the
weights travel inside ``X`` and are cut by the same indices as the features.

The iterator slices whole tensors instead of collating one event at a time (what a
:class:`torch.utils.data.DataLoader` over a map-style dataset does), which on tabular HEP data is
the difference between a training loop dominated by Python and one dominated by the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

__all__ = [
    "BatchIterator",
    "EventDataset",
    "StratifiedSplit",
    "identical_row_groups",
    "merge_identical_rows",
]


def _as_float_tensor(a: ArrayLike | torch.Tensor, name: str = "input") -> torch.Tensor:
    """float32 tensor of ``a``; values beyond float32's range raise instead of becoming inf."""
    if isinstance(a, torch.Tensor):
        return a.to(torch.float32)
    a = np.asarray(a)
    if a.size and np.issubdtype(a.dtype, np.floating) and np.abs(a).max() > _FLOAT32_MAX:
        raise ValueError(
            f"{name} holds values beyond the float32 range the network runs in "
            f"(|value| up to {np.abs(a).max():.3g}); rescale it"
        )
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


_FLOAT32_MAX = float(np.finfo(np.float32).max)


class EventDataset(torch.utils.data.Dataset):
    """Features, optional targets and per-event weights held as float32 tensors.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Network inputs.
    y : array-like of shape (n_samples, ...) or None
        Targets; None for prediction.
    sample_weight : array-like of shape (n_samples,) or None
        Per-event weights; None means weight one.
    """

    def __init__(
        self,
        X: ArrayLike | torch.Tensor,
        y: ArrayLike | torch.Tensor | None = None,
        sample_weight: ArrayLike | torch.Tensor | None = None,
    ) -> None:
        self.X = _as_float_tensor(X, "X")
        n = self.X.shape[0]
        self.y = None if y is None else _as_float_tensor(y, "y")
        self.w = (
            torch.ones(n)
            if sample_weight is None
            else _as_float_tensor(sample_weight, "sample_weight")
        )
        if (self.y is not None and self.y.shape[0] != n) or self.w.shape[0] != n:
            raise ValueError("X, y and sample_weight must have the same number of rows")

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(
        self, index: int | slice | torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        batch_y = None if self.y is None else self.y[index]
        return {"X": self.X[index], "w": self.w[index]}, batch_y

    def subset(self, index: np.ndarray) -> EventDataset:
        """A new dataset with the rows ``index`` (materialized, not a view)."""
        index = torch.as_tensor(index, dtype=torch.long)
        return EventDataset(self.X[index], None if self.y is None else self.y[index], self.w[index])

    def to(self, device: str | torch.device) -> EventDataset:
        """The same events with every tensor on ``device``."""
        out = EventDataset.__new__(EventDataset)
        out.X = self.X.to(device)
        out.y = None if self.y is None else self.y.to(device)
        out.w = self.w.to(device)
        return out


class BatchIterator:
    """Iterate over an :class:`EventDataset` in mini-batches by slicing its tensors.

    The whole dataset is moved to ``device`` once, when the iterator is built (skorch builds one
    per fit); each epoch then draws a permutation from a generator seeded by ``seed``, so the
    batch order is reproducible and independent of torch's global random state.

    Parameters
    ----------
    dataset : EventDataset
    batch_size : int
    shuffle : bool, default=False
    seed : int or None, default=None
        Seed of the shuffling generator (ignored when ``shuffle`` is False).
    device : str or torch.device, default="cpu"
    """

    def __init__(
        self,
        dataset: EventDataset,
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(dataset, EventDataset):
            raise TypeError(f"BatchIterator needs an EventDataset, got {type(dataset).__name__}")
        self.dataset = dataset.to(device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(int(seed))

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor | None]]:
        data = self.dataset
        n = len(data)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(data.X.device)
            for start in range(0, n, self.batch_size):
                yield data[order[start : start + self.batch_size]]
        else:
            for start in range(0, n, self.batch_size):
                yield data[start : start + self.batch_size]


class StratifiedSplit:
    """skorch ``train_split``: hold out a seeded fraction of the events for validation.

    Parameters
    ----------
    fraction : float in (0, 1)
        Share of the events held out.
    seed : int
        Seed of the split.
    stratify : bool, default=True
        Keep the share of each class (the values of a 1-D ``y``; fractional labels between 0 and
        1 form one stratum) in both parts; classifiers want this, regressors pass False. On
        samples too small to stratify (a class with a single event) the split is made without
        strata.
    """

    def __init__(self, fraction: float, seed: int, stratify: bool = True) -> None:
        self.fraction = fraction
        self.seed = seed
        self.stratify = stratify

    def __call__(
        self, dataset: EventDataset, y: Any = None, **fit_params: Any
    ) -> tuple[EventDataset, EventDataset]:
        from sklearn.model_selection import train_test_split

        index = np.arange(len(dataset))
        stratify = None
        if self.stratify and dataset.y is not None and dataset.y.ndim == 1:
            stratify = dataset.y.cpu().numpy()
            if np.all((stratify >= 0) & (stratify <= 1)):
                # labels of merged rows (merge_identical_rows) lie between 0 and 1: three strata,
                # pure 0, mixed and pure 1 (plain 0/1 labels split exactly as before)
                stratify = np.where(stratify == 0, 0, np.where(stratify == 1, 2, 1))
        try:
            train, valid = train_test_split(
                index, test_size=self.fraction, random_state=self.seed, stratify=stratify
            )
        except ValueError:
            # Too few events of a class to stratify (tiny samples): split without strata.
            train, valid = train_test_split(index, test_size=self.fraction, random_state=self.seed)
        return dataset.subset(np.sort(train)), dataset.subset(np.sort(valid))


# Rows shared by the two classes are merged (merge_identical_rows) only when at least this share
# of the rows belongs to a shared feature vector, and when the distinct vectors number at least
# this share of the rows (many small groups: the same events in both samples, not a few discrete
# values that every event takes).
_MIN_SHARED_SHARE = 0.1
_MIN_DISTINCT_SHARE = 0.25


def identical_row_groups(X: np.ndarray, y01: np.ndarray) -> np.ndarray | None:
    """Group ids of rows with identical features, when the two classes hold the same events.

    Returns an int array of shape (n_samples,), equal for rows with identical features (ids in
    the order of first appearance), or None unless at least 10 % of the rows share their
    features with a row of the other class and the distinct feature vectors number at least a
    quarter of the rows (many small groups: the same events in both samples, not a few discrete
    values that every event takes, where a split by value would hold whole values out of
    training). Splits that keep groups together (validation, folds, bootstrap) keep an event's
    copies on one side.
    """
    n = X.shape[0]
    is_one = y01 == 1
    if n < 4 or is_one.all() or not is_one.any():
        return None
    # cheap screen on the first column: independent continuous samples share no values
    if np.mean(np.isin(X[is_one, 0], X[~is_one, 0])) < _MIN_SHARED_SHARE:
        return None
    rows = np.ascontiguousarray(X, dtype=np.float64)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    n_groups = first.shape[0]
    if n_groups < _MIN_DISTINCT_SHARE * n:
        return None
    inverse = inverse.ravel()
    in_one = np.bincount(inverse, weights=is_one, minlength=n_groups) > 0
    in_zero = np.bincount(inverse, weights=~is_one, minlength=n_groups) > 0
    if np.sum((in_one & in_zero)[inverse]) < _MIN_SHARED_SHARE * n:
        return None
    rank = np.empty(n_groups, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(n_groups)
    return rank[inverse]


def merge_identical_rows(
    X: np.ndarray, y01: np.ndarray, sample_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    r"""Merge the rows whose features are identical into one row with a fractional label.

    A binary cross-entropy sums, over the rows that share a feature vector :math:`x`,

    .. math::

        -W_1 \log f(x) - W_0 \log(1 - f(x))
        = -(W_0 + W_1)\left[y \log f(x) + (1 - y)\log(1 - f(x))\right],
        \qquad y = \frac{W_1}{W_0 + W_1},

    with :math:`W_c` the total weight of class :math:`c` at :math:`x`. One row of weight
    :math:`W_0 + W_1` and label :math:`y` therefore carries exactly the same loss, gradient and
    minimizer :math:`f(x) = W_1 / (W_0 + W_1)`.

    This matters when the two samples hold the same events with different weights (a systematic
    variation stored as alternative weights, OmniFold's generator-level step): split row by row,
    one copy of an event lands in training and the other in validation, so the validation loss
    rises as soon as the network fits the training copies, and the two copies' opposite
    gradients land in different batches, whose noise then dwarfs a per-mille effect. Merged, an
    event's copies stay together in the split and in every batch.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y01 : ndarray of shape (n_samples,)
        Labels 0 and 1.
    sample_weight : ndarray of shape (n_samples,)

    Returns
    -------
    (X, y, sample_weight) or None
        The merged rows (in the order of their first appearance), their fractional labels and
        weights; None when :func:`identical_row_groups` finds no such groups or a weight is not
        positive (a label would leave [0, 1]).
    """
    if np.any(sample_weight <= 0):
        return None
    groups = identical_row_groups(X, y01)
    if groups is None:
        return None
    n_groups = int(groups.max()) + 1
    is_one = y01 == 1
    w1 = np.bincount(groups, weights=np.where(is_one, sample_weight, 0.0), minlength=n_groups)
    total = np.bincount(groups, weights=sample_weight, minlength=n_groups)
    first = np.full(n_groups, X.shape[0], dtype=np.int64)
    np.minimum.at(first, groups, np.arange(X.shape[0]))
    return np.asarray(X, dtype=np.float64)[first], w1 / total, total
