"""ROOT files through uproot: finding the tree, checking branches, reading and writing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np

from ._common import guarded_read, list_names

__all__ = ["RootSink", "RootTable", "import_uproot", "open_root"]

INSTALL_HINT = "pip install 'skhep_reweight[root]'"

# The classes uproot reads as event tables: the TTree and its successor, the RNTuple (which
# uproot >= 5.7 writes by default on ``file[name] = {...}``).
TABLE_CLASSES = ("TTree", "ROOT::RNTuple")

# RNTuple field types with one number per event (the RNTuple names its scalar types).
RNTUPLE_SCALARS = frozenset(
    ["bool", "char", "float", "double", "std::byte"]
    + [f"std::{sign}int{bits}_t" for sign in ("", "u") for bits in (8, 16, 32, 64)]
)


def import_uproot(action: str = "reading ROOT files") -> ModuleType:
    """The uproot module, or an ImportError naming the extra to install."""
    try:
        import uproot
    except ImportError as error:
        raise ImportError(f"{action} needs uproot: {INSTALL_HINT}") from error
    return uproot


def _table_names(file: Any) -> list[str]:
    """The names of every TTree and RNTuple in a file, subdirectories included."""
    classnames = file.classnames(recursive=True, cycle=False)
    return [name for name, cls in classnames.items() if cls in TABLE_CLASSES]


@contextlib.contextmanager
def open_root(path: Path, tree: str | None) -> Iterator[RootTable]:
    """Open ``path`` and find its tree: ``tree`` by name, or the only one in the file.

    Every call into uproot, here and in :class:`RootTable`, goes through
    :func:`~skhep_reweight.io._common.guarded_read`.
    """
    uproot = import_uproot()
    with guarded_read(path, "root"):
        file = uproot.open(path)
    with file:
        with guarded_read(path, "root", "its list of trees"):
            trees = _table_names(file)
        if tree is None:
            if len(trees) != 1:
                found = "no tree" if not trees else f"{len(trees)} trees {trees}"
                raise ValueError(
                    f"file {str(path)!r} holds {found}: pass tree= to name the one to read"
                )
            tree = trees[0]
        with guarded_read(path, "root", f"tree {tree!r}"):
            try:
                obj = file[tree]
            except uproot.KeyInFileError:
                obj = None
        if obj is None:
            raise ValueError(f"file {str(path)!r} has no tree {tree!r} (trees: {trees})")
        if not isinstance(obj, (uproot.behaviors.TTree.TTree, uproot.behaviors.RNTuple.RNTuple)):
            kind = getattr(obj, "classname", type(obj).__name__)
            raise ValueError(
                f"{tree!r} in file {str(path)!r} is a {kind}, not a tree (trees: {trees})"
            )
        with guarded_read(path, "root", f"tree {tree!r}"):
            table = RootTable(path, tree, obj)
        yield table


class RootTable:
    """One TTree (or RNTuple) of an open file, read branch by branch."""

    kind = "branches"

    def __init__(self, path: Path, tree: str, obj: Any) -> None:
        self.path = path
        self.tree = tree
        self.obj = obj
        self.n_entries = int(obj.num_entries)

    def describe(self, name: str) -> str:
        """How error messages name a branch."""
        return f"branch {name!r} of tree {self.tree!r} in {str(self.path)!r}"

    def _guard(self, what: str) -> contextlib.AbstractContextManager[None]:
        return guarded_read(self.path, "root", f"tree {self.tree!r}, {what}")

    def check(self, names: list[str]) -> None:
        """ValueError for a missing branch or one that is not one number per event."""
        with self._guard("its list of branches"):
            available = list(self.obj.keys())
        for name in names:
            if name not in available:
                raise ValueError(
                    f"tree {self.tree!r} of {str(self.path)!r} has no branch {name!r} "
                    f"{list_names('branches', available, name)}"
                )
            with self._guard(f"the type of branch {name!r}"):
                problem = self._problem(self.obj[name])
            if problem:
                raise ValueError(
                    f"{self.describe(name)} {problem}: only branches with one number per event "
                    "can be read (reduce it to one, e.g. the leading object's value, first)"
                )

    def _problem(self, branch: Any) -> str | None:
        """Why a branch cannot be read as one number per event, or None when it can."""
        typename = str(branch.typename)
        interpretation = getattr(branch, "interpretation", None)
        if interpretation is None:  # an RNTuple field: its type name says it all
            if typename in RNTUPLE_SCALARS:
                return None
            if "vector" in typename or "RVec" in typename or "array" in typename:
                return f"is jagged (type {typename})"
            return f"is not numeric (type {typename})"
        if type(interpretation).__name__ == "AsJagged":
            return f"is jagged: it holds a variable number of values per event (type {typename})"
        dtype = getattr(interpretation, "to_dtype", None)
        if dtype is None or not isinstance(dtype, np.dtype):
            return f"is not numeric (type {typename})"
        if dtype.shape != ():
            return f"holds {dtype.shape} values per event (type {typename})"
        if dtype.kind not in "biuf":
            return f"is not numeric (type {typename})"
        return None

    def read(self, names: list[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Entries ``start`` to ``stop`` (exclusive) of the branches ``names``."""
        with self._guard(f"branches {names}, entries {start} to {stop - 1}"):
            return self.obj.arrays(names, library="np", entry_start=start, entry_stop=stop)

    def iterate(self, names: list[str], chunk_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Chunks of ``chunk_size`` entries (the last one shorter), in file order."""
        if self.n_entries == 0:
            return
        with self._guard(f"branches {names}"):
            chunks = self.obj.iterate(names, step_size=chunk_size, library="np")
        start = 0
        while True:
            stop = min(start + chunk_size, self.n_entries)
            with self._guard(f"branches {names}, entries {start} to {stop - 1}"):
                arrays = next(chunks, None)
            if arrays is None:
                return
            yield arrays
            start = stop


class RootSink:
    """A new ROOT file with a TTree ``tree`` holding one float64 branch ``name``."""

    def __init__(self, stream: BinaryIO, tree: str, name: str) -> None:
        uproot = import_uproot("writing ROOT files")
        self.name = name
        self.file = uproot.recreate(stream)
        # mktree makes a TTree (a friend of the input tree); ``file[tree] = {...}`` would make
        # an RNTuple in uproot >= 5.7. Creating it here leaves a valid tree of 0 entries when
        # nothing is written.
        self.tree = self.file.mktree(tree, {name: np.float64}, title="event weights")

    def write(self, values: np.ndarray) -> None:
        """Append entries (one basket per call)."""
        self.tree.extend({self.name: values})

    def close(self) -> None:
        """Finish the file (this also closes the stream)."""
        self.file.close()
