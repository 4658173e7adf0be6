"""Reading events: read_events, iterate_events and count_events."""

from __future__ import annotations

import contextlib
import numbers
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._common import check_finite, check_input_path, check_name, check_names, numeric_column

__all__ = ["count_events", "iterate_events", "read_events"]

LIBRARIES = ("np", "pd")


@contextlib.contextmanager
def _open_table(path: Path, fmt: str, tree: str | None) -> Iterator[Any]:
    """The table of events of a file: a ROOT tree or the columns of a parquet file."""
    if fmt == "root":
        from ._root import open_root

        with open_root(path, tree) as table:
            yield table
    else:
        if tree is not None:
            raise ValueError(
                f"tree={tree!r} applies to ROOT files only; {str(path)!r} is a parquet file"
            )
        from ._parquet import open_parquet

        with open_parquet(path) as table:
            yield table


def _check_arguments(
    path: str | os.PathLike, columns: Any, tree: Any, weight: Any, library: Any
) -> tuple[Path, str, list[str], list[str]]:
    """Validate the arguments shared by the readers; the names to read come last."""
    path, fmt = check_input_path(path)
    columns = check_names(columns)
    if tree is not None:
        check_name(tree, "tree")
    if weight is not None:
        check_name(weight, "weight")
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {list(LIBRARIES)}, got {library!r}")
    if library == "pd":
        _import_pandas()
    names = columns + ([weight] if weight is not None and weight not in columns else [])
    return path, fmt, columns, names


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError as error:
        raise ImportError("library='pd' needs pandas: pip install pandas") from error
    return pandas


def _assemble(
    table: Any,
    arrays: dict[str, np.ndarray],
    columns: list[str],
    weight: str | None,
    library: str,
    start: int,
) -> tuple[Any, np.ndarray | None]:
    """(X, w) from the arrays read, after the checks every column must pass."""
    checked = {}
    for name, values in arrays.items():
        label = ("weight " if name == weight else "") + table.describe(name)
        values = numeric_column(values, label)
        check_finite(values, label, start)
        checked[name] = values
    n = len(checked[columns[0]])
    X = np.empty((n, len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        X[:, j] = checked[name]
    w = None if weight is None else np.array(checked[weight], dtype=np.float64)
    if library == "pd":
        pandas = _import_pandas()
        X = pandas.DataFrame(X, columns=columns, index=pandas.RangeIndex(start, start + n))
    return X, w


def read_events(
    path: str | os.PathLike,
    columns: list[str],
    *,
    tree: str | None = None,
    weight: str | None = None,
    library: str = "np",
    entry_start: int | None = None,
    entry_stop: int | None = None,
) -> tuple[Any, np.ndarray | None]:
    """Read feature columns (and a weight column) of a ROOT tree or a parquet file at once.

    Parameters
    ----------
    path : str or path-like
        A ``.root`` file (read with uproot) or a ``.parquet``/``.pq`` file (read with pyarrow).
    columns : list of str
        The branches (ROOT) or columns (parquet) to read as features, in this order. Each must
        hold one number per event (integers and booleans become float64); jagged branches,
        strings and other non-numeric columns are refused.
    tree : str, optional
        The TTree (or RNTuple) of a ROOT file, with its directory as in ``"dir/Events"``.
        Optional when the file holds exactly one tree; not allowed for parquet files.
    weight : str, optional
        A branch or column of event weights, returned as ``w``. It may also be a feature.
    library : {"np", "pd"}, default="np"
        ``"np"``: ``X`` is a float64 ndarray; ``"pd"``: a pandas DataFrame whose columns are
        ``columns`` and whose index holds the entry numbers (needs pandas).
    entry_start, entry_stop : int, optional
        Read only entries ``entry_start`` to ``entry_stop`` (exclusive), with Python's slice
        rules (negative values count from the end, out-of-range values are clipped).

    Returns
    -------
    X : ndarray of shape (n_events, len(columns)) or DataFrame
        The features, in file order.
    w : ndarray of shape (n_events,) or None
        The float64 weights, or None when ``weight`` is None.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For an unknown suffix, a missing or ambiguous tree, a missing, jagged or non-numeric
        branch or column, and NaN, infinite or missing (null) values in any column read
        (weights are never repaired): the message names the file, tree and column.
    ImportError
        When uproot (ROOT files), pyarrow (parquet files) or pandas (``library="pd"``) is not
        installed.
    """
    path, fmt, columns, names = _check_arguments(path, columns, tree, weight, library)
    for argument, value in (("entry_start", entry_start), ("entry_stop", entry_stop)):
        if value is not None and (
            not isinstance(value, numbers.Integral) or isinstance(value, bool)
        ):
            raise TypeError(f"{argument} must be an integer or None, got {value!r}")
    with _open_table(path, fmt, tree) as table:
        table.check(names)
        start, stop, _ = slice(entry_start, entry_stop).indices(table.n_entries)
        stop = max(start, stop)
        arrays = table.read(names, start, stop)
        return _assemble(table, arrays, columns, weight, library, start)


def iterate_events(
    path: str | os.PathLike,
    columns: list[str],
    *,
    tree: str | None = None,
    weight: str | None = None,
    chunk_size: int = 100_000,
    library: str = "np",
) -> Iterator[tuple[Any, np.ndarray | None]]:
    """Read a file chunk by chunk: ``(X, w)`` pairs of at most ``chunk_size`` events.

    The parameters and the checks are those of :func:`read_events`; the arguments, the file,
    the tree and the columns are checked when this function is called, the values (NaN,
    infinity, missing values) chunk by chunk as they are read, so an error may come after the
    first chunks. Every chunk holds ``chunk_size`` events except the last; concatenated, the
    chunks equal what :func:`read_events` returns (with ``library="pd"`` the index of each
    chunk holds the entry numbers). A file of 0 events yields no chunk. At most one chunk of
    the requested columns is in memory at a time (for parquet files, also the row group being
    decoded).

    Parameters
    ----------
    path, columns, tree, weight, library
        As in :func:`read_events`.
    chunk_size : int, default=100_000
        The number of events per chunk.

    Yields
    ------
    X : ndarray of shape (n_chunk, len(columns)) or DataFrame
    w : ndarray of shape (n_chunk,) or None
    """
    path, fmt, columns, names = _check_arguments(path, columns, tree, weight, library)
    if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool):
        raise TypeError(f"chunk_size must be an integer, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    with _open_table(path, fmt, tree) as table:  # check now, not at the first chunk
        table.check(names)
    return _chunks(path, fmt, tree, names, columns, weight, library, int(chunk_size))


def _chunks(
    path: Path,
    fmt: str,
    tree: str | None,
    names: list[str],
    columns: list[str],
    weight: str | None,
    library: str,
    chunk_size: int,
) -> Iterator[tuple[Any, np.ndarray | None]]:
    with _open_table(path, fmt, tree) as table:
        table.check(names)
        start = 0
        for arrays in table.iterate(names, chunk_size):
            X, w = _assemble(table, arrays, columns, weight, library, start)
            start += len(X)
            yield X, w


def count_events(path: str | os.PathLike, *, tree: str | None = None) -> int:
    """The number of events (entries) of a ROOT tree or a parquet file, without reading them.

    Parameters
    ----------
    path : str or path-like
        A ``.root``, ``.parquet`` or ``.pq`` file.
    tree : str, optional
        As in :func:`read_events`.

    Returns
    -------
    int
    """
    path, fmt = check_input_path(path)
    if tree is not None:
        check_name(tree, "tree")
    with _open_table(path, fmt, tree) as table:
        return table.n_entries
