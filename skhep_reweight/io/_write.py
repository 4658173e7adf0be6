"""Writing weights: WeightWriter (in chunks) and write_weights (at once)."""

from __future__ import annotations

import contextlib
import numbers
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ._common import check_name, format_of

__all__ = ["WeightWriter", "write_weights"]

# Writes smaller than this are gathered before they reach the file: each write of the file
# makes one ROOT basket or parquet row group, and a file of tiny baskets is slow to read.
# 2**16 float64 values are 0.5 MiB.
MIN_FLUSH_ENTRIES = 2**16


class WeightWriter:
    """Write one weight per event, chunk by chunk, to a new ROOT or parquet file.

    Use it as a context manager and call :meth:`write` with consecutive chunks of weights, in
    event order. The file is written to a temporary file in the destination folder and moved
    onto ``path`` (replacing an existing file) only when the ``with`` block ends without an
    error; on an error, and when ``n_events`` is given and a different number of weights was
    written, the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The output file: ``.root`` for a new ROOT file holding a TTree ``tree`` with one float64
        branch ``name`` (usable as a friend of the input tree, see :mod:`skhep_reweight.io`),
        ``.parquet`` or ``.pq`` for a parquet file with one float64 column ``name``. Its folder
        must exist; it must not be a directory.
    name : str, default="weight"
        The branch or column name.
    tree : str, default="Events"
        The tree name (ROOT files only; ignored for parquet). A name with ``/`` puts the tree
        in a subdirectory.
    n_events : int, optional
        The number of weights expected, usually the number of events of the input
        (:func:`~skhep_reweight.io.count_events`): writing more raises at once, fewer raises
        when the block ends, and neither leaves a file.

    Attributes
    ----------
    path : Path
    n_written : int
        The number of weights written so far.

    Notes
    -----
    Weights must be finite: NaN or infinity raises ValueError (never written, never repaired).
    An empty total gives a valid file: a tree, or a parquet column, of 0 entries.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        name: str = "weight",
        tree: str = "Events",
        n_events: int | None = None,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a string or a path, got {type(path).__name__}")
        self.path = Path(path)
        self._format = format_of(self.path)
        if self.path.is_dir():
            raise ValueError(f"output path {str(self.path)!r} is a directory")
        folder = self.path.parent
        if not folder.is_dir():
            raise FileNotFoundError(
                f"the folder {str(folder)!r} of the output path {str(self.path)!r} does not exist"
            )
        self.name = check_name(name, "name")
        self.tree = check_name(tree, "tree")
        if n_events is not None:
            if not isinstance(n_events, numbers.Integral) or isinstance(n_events, bool):
                raise TypeError(f"n_events must be an integer or None, got {n_events!r}")
            if n_events < 0:
                raise ValueError(f"n_events must be non-negative, got {n_events}")
            n_events = int(n_events)
        self.n_events = n_events
        self.n_written = 0
        self._state = "new"
        self._buffer: list[np.ndarray] = []
        self._n_buffered = 0
        self._temporary: Path | None = None
        self._stream: Any = None
        self._sink: Any = None

    def __repr__(self) -> str:
        return f"WeightWriter({str(self.path)!r}, name={self.name!r}, tree={self.tree!r})"

    def __enter__(self) -> WeightWriter:
        if self._state != "new":
            raise RuntimeError("a WeightWriter writes one file: create a new one")
        self._state = "open"
        token = secrets.token_hex(6)
        self._temporary = self.path.with_name(f".{self.path.name}.{token}.tmp")
        try:
            # read and write: uproot needs both on a stream; "x" never reuses a file
            self._stream = open(self._temporary, "xb+")  # closed in __exit__
            if self._format == "root":
                from ._root import RootSink

                self._sink = RootSink(self._stream, self.tree, self.name)
            else:
                from ._parquet import ParquetSink

                self._sink = ParquetSink(self._stream, self.name)
        except BaseException:
            self._discard()
            raise
        return self

    def write(self, weights: Any) -> None:
        """Append a chunk of weights (array-like of shape (n,)), after those written before."""
        if self._state != "open":
            raise RuntimeError("WeightWriter.write is called inside its `with` block")
        values = np.array(weights, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"weights must be 1-D, got shape {values.shape}")
        finite = np.isfinite(values)
        if not finite.all():
            raise ValueError(
                f"weights hold {int((~finite).sum())} NaN or infinite values (the first at "
                f"event {self.n_written + int(np.flatnonzero(~finite)[0])}); they are not written"
            )
        total = self.n_written + len(values)
        if self.n_events is not None and total > self.n_events:
            raise ValueError(
                f"{total} weights written to {str(self.path)!r}, more than n_events={self.n_events}"
            )
        self.n_written = total
        if len(values):
            self._buffer.append(values)
            self._n_buffered += len(values)
        if self._n_buffered >= MIN_FLUSH_ENTRIES:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._sink.write(np.concatenate(self._buffer))
        self._buffer, self._n_buffered = [], 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._state != "open":
            return
        self._state = "closed"
        if exc_type is not None:
            self._discard()
            return
        try:
            if self.n_events is not None and self.n_written != self.n_events:
                raise ValueError(
                    f"{self.n_written} weights written to {str(self.path)!r}, but n_events="
                    f"{self.n_events}: nothing is written"
                )
            self._flush()
            self._sink.close()
            self._stream.close()
            os.replace(self._temporary, self.path)
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        """Close what is open, quietly, and remove the temporary file."""
        self._buffer, self._n_buffered = [], 0
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.close()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)


def write_weights(
    path: str | os.PathLike, weights: Any, *, name: str = "weight", tree: str = "Events"
) -> Path:
    """Write one weight per event to a new ROOT or parquet file, at once.

    The same file as :class:`WeightWriter` writes, for weights already in memory.

    Parameters
    ----------
    path : str or path-like
        ``.root``, ``.parquet`` or ``.pq``; replaced atomically when it exists.
    weights : array-like of shape (n_events,)
        Finite weights, in event order.
    name : str, default="weight"
        The branch or column name.
    tree : str, default="Events"
        The tree name (ROOT files only).

    Returns
    -------
    Path
        ``path``.
    """
    values = np.asarray(weights, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"weights must be 1-D, got shape {values.shape}")
    with WeightWriter(path, name=name, tree=tree, n_events=len(values)) as writer:
        writer.write(values)
    return writer.path
