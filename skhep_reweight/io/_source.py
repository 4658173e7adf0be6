"""Events of files described, not read: what a reweighter trains from when they do not fit in
memory."""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ._read import count_events, read_events

__all__ = ["EventSource"]


class EventSource:
    """Feature columns (and a weight column) of ROOT or parquet files, read chunk by chunk.

    Nothing is read when the source is made except each file's first entry (to check the tree
    and the columns) and its number of entries. A reweighter given two sources
    (``DCTRReweighter().fit_samples(source, target)``) trains from them chunk by chunk, with
    memory bounded by a few chunks: a first pass for the class totals and the standardization
    statistics, then epochs over the chunks in a shuffled order (see
    :class:`~skhep_reweight.DCTRReweighter`).

    Parameters
    ----------
    paths : path or list of paths
        ``.root`` or ``.parquet``/``.pq`` files, in order.
    columns : list of str
        The features.
    tree : str, optional
        The tree of the ROOT files (see :func:`~skhep_reweight.io.read_events`).
    weight : str, optional
        A column of event weights; None gives every event weight one.
    chunk_size : int, default=100_000
        Entries per chunk: the unit of reading and of shuffling. Chunks do not cross files.

    Attributes
    ----------
    paths : list of Path
    columns : list of str
    n_events : int
        Entries of all files together.
    chunks : list of (Path, int, int)
        Every chunk's file and entry range (start, stop).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    >>> from skhep_reweight.io import EventSource
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"x": np.arange(5.0), "w": np.ones(5)}), folder / "a.parquet")
    >>> source = EventSource(folder / "a.parquet", ["x"], weight="w", chunk_size=2)
    >>> source.n_events, len(source.chunks)
    (5, 3)
    >>> [X[:, 0].tolist() for X, w in source]
    [[0.0, 1.0], [2.0, 3.0], [4.0]]
    """

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        columns: Sequence[str],
        *,
        tree: str | None = None,
        weight: str | None = None,
        chunk_size: int = 100_000,
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("paths is empty: give at least one file")
        if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool):
            raise TypeError(f"chunk_size must be an integer, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.columns = [str(c) for c in columns]
        self.tree, self.weight, self.chunk_size = tree, weight, int(chunk_size)
        self.chunks: list[tuple[Path, int, int]] = []
        for path in self.paths:
            read_events(path, self.columns, tree=tree, weight=weight, entry_stop=1)
            n = count_events(path, tree=tree)
            self.chunks += [(path, s, min(n, s + self.chunk_size)) for s in range(0, n, chunk_size)]
        self.n_events = sum(stop - start for _, start, stop in self.chunks)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``index``: features (float64, n x len(columns)) and weights (ones without a
        weight column)."""
        path, start, stop = self.chunks[index]
        X, w = read_events(
            path,
            self.columns,
            tree=self.tree,
            weight=self.weight,
            entry_start=start,
            entry_stop=stop,
        )
        return X, (np.ones(X.shape[0]) if w is None else w)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for index in range(len(self.chunks)):
            yield self.read(index)

    def __repr__(self) -> str:
        files = ", ".join(p.name for p in self.paths[:3]) + (", ..." if len(self.paths) > 3 else "")
        return (
            f"EventSource([{files}], {len(self.columns)} columns, {self.n_events} events in "
            f"{len(self.chunks)} chunks)"
        )
