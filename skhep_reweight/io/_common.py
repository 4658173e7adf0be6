"""Checks shared by the readers and the writer: file formats, names, and non-finite values."""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DamagedFileError, one_line

__all__ = [
    "FORMATS",
    "DamagedFileError",
    "check_finite",
    "check_input_path",
    "check_name",
    "check_names",
    "format_of",
    "guarded_read",
    "list_names",
    "numeric_column",
]

# File formats by suffix (compared in lower case).
FORMATS = {".root": "root", ".parquet": "parquet", ".pq": "parquet"}

# An error message lists at most this many available names; beyond it, the closest matches and
# the total count (a NanoAOD tree has over a thousand branches).
MAX_LISTED_NAMES = 30


# The names of the formats in messages.
FORMAT_NAMES = {"root": "ROOT", "parquet": "parquet"}


@contextlib.contextmanager
def guarded_read(path: Path, fmt: str, what: str | None = None) -> Iterator[None]:
    """The one place every call into uproot or pyarrow goes through.

    Any exception the library raises inside the block (a truncated file's short read, a basket
    that fails to decompress, a damaged streamer, a thrift or page checksum error) becomes a
    :class:`~skhep_reweight.io.DamagedFileError` that names the file and ``what`` was being
    read (the tree, the branches, the entry range), with the library's complaint in one line.
    The package's own errors pass through unchanged; so do KeyboardInterrupt and MemoryError,
    which are not statements about the file.
    """
    try:
        yield
    except (DamagedFileError, MemoryError):
        raise
    except Exception as error:
        name = FORMAT_NAMES.get(fmt, fmt)
        where = f" ({what})" if what else ""
        raise DamagedFileError(
            f"cannot read {str(path)!r}{where}: the file is damaged (truncated or overwritten) or "
            f"is not a {name} file [{one_line(error)}]"
        ) from None


def format_of(path: Path, argument: str = "path") -> str:
    """The file format of ``path`` from its suffix: ``"root"`` or ``"parquet"``."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{argument} {str(path)!r} has an unknown file format: the suffix must be one of "
            f"{sorted(FORMATS)} (got {path.suffix!r})"
        )
    return fmt


def check_input_path(path: str | os.PathLike) -> tuple[Path, str]:
    """Path and format of an input file; FileNotFoundError when it does not exist."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a string or a path, got {type(path).__name__}")
    path = Path(path)
    fmt = format_of(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a {fmt} file")
    return path, fmt


def check_name(value: Any, argument: str) -> str:
    """A non-empty string argument (a column, branch or tree name)."""
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{argument} must not be empty")
    return value


def check_names(columns: Any) -> list[str]:
    """The requested feature columns: a non-empty sequence of distinct names."""
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        raise TypeError(
            "columns must be a list of column (branch) names, "
            f"got {type(columns).__name__}: {columns!r}"
        )
    names = [check_name(c, "each entry of columns") for c in columns]
    if not names:
        raise ValueError("columns must name at least one column")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"columns lists {repeated} more than once")
    return names


def list_names(kind: str, available: Sequence[str], missing: str) -> str:
    """``"(branches: [...])"``: the available names, or the closest ones when there are many."""
    available = list(available)
    if len(available) <= MAX_LISTED_NAMES:
        return f"({kind}: {available})"
    close = difflib.get_close_matches(missing, available, n=5, cutoff=0.5)
    shown = close or available[:MAX_LISTED_NAMES]
    label = "closest" if close else "first"
    return f"({len(available)} {kind}; {label}: {shown})"


def numeric_column(values: np.ndarray, description: str) -> np.ndarray:
    """Check that a column read from a file is one number per event (the reader's last guard)."""
    values = np.asarray(values)
    if values.dtype == object:
        raise ValueError(
            f"{description} is jagged or not numeric (it holds {values.dtype} values): "
            "only branches and columns with one number per event can be read"
        )
    if values.ndim != 1:
        raise ValueError(
            f"{description} holds {values.shape[1:]} values per event: "
            "only branches and columns with one number per event can be read"
        )
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{description} is not numeric (dtype {values.dtype})")
    return values


def check_finite(values: np.ndarray, description: str, start: int) -> None:
    """ValueError naming the column and the count when ``values`` holds NaN or infinity."""
    if values.dtype.kind != "f":
        return
    finite = np.isfinite(values)
    if finite.all():
        return
    n_nan = int(np.isnan(values).sum())
    n_inf = int((~finite).sum()) - n_nan
    first = start + int(np.flatnonzero(~finite)[0])
    raise ValueError(
        f"{description} holds {n_nan} NaN and {n_inf} infinite values in entries {start} to "
        f"{start + len(values) - 1} (the first at entry {first}); values are never repaired: "
        "remove or fix these events before reading"
    )
