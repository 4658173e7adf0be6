"""Reading events from ROOT and parquet files, and writing weights back.

Reweighting in an analysis starts from files, not arrays: Monte Carlo and data events stored as
ROOT trees (read here with uproot) or parquet tables (read with pyarrow). This module reads
the feature columns and an optional per-event weight column of such files, whole
(:func:`read_events`) or in chunks of bounded memory (:func:`iterate_events`), describes files
for a reweighter to train from chunk by chunk (:class:`EventSource`), and writes the
learned weights to a new file (:class:`WeightWriter`, :func:`write_weights`). Both libraries
are optional extras: ``pip install 'skhep_reweight[root]'`` or ``'skhep_reweight[parquet]'``.

Conventions
-----------
- The format follows the suffix: ``.root``, or ``.parquet``/``.pq``.
- ``X`` is a float64 array of shape ``(n_events, len(columns))`` in file order (or a pandas
  DataFrame with ``library="pd"``); integer and boolean columns become float64. Each column
  must hold one number per event: a jagged (variable-length) branch, a fixed-size array or a
  string is refused with an error naming it, so reduce such a branch first.
- Values are checked, never repaired: a NaN, an infinity or a missing (null) value in any
  column read, weights included, raises ValueError with the file, the column and the count.
  Negative weights (NLO generators, sWeights) are accepted.
- Errors name what is missing and what is there: "file 'mc.root' has no tree 'Events'
  (trees: ['T'])", "tree 'Events' of 'mc.root' has no branch 'pt' (branches: [...])".
- Input files are only ever opened for reading.

Why weights go to a separate file
---------------------------------
uproot writes new files; it cannot add a branch to a tree of an existing file, and rewriting a
large input to add one column would copy all of it. The weights are therefore written to a new
file whose tree (``"Events"`` by default) holds one float64 branch with exactly one entry per
input event, in input order. ROOT reads it as a *friend* of the input tree: entry ``i`` of the
friend belongs to entry ``i`` of the input, and its branch is read as if it were the input's
own. In ROOT (C++, or the same calls from PyROOT), with an alias since both trees are named
``Events``::

    auto events = TFile::Open("mc.root")->Get<TTree>("Events");
    events->AddFriend("w = Events", "weights.root");  // then: events->Draw("pt", "w.weight")

In Python, read the two files side by side; their rows match one to one::

    X, _ = read_events("mc.root", ["pt", "eta"], tree="Events")
    weights, _ = read_events("weights.root", ["weight"], tree="Events")

The parquet output is a one-column table of the same length, to be joined by row number.
The ROOT tree is written with ``mktree``: in uproot 5.7 and later, ``file[name] = {...}``
writes an RNTuple, which ROOT does not accept as a friend of a TTree. Reading accepts both.

Examples
--------
>>> import pathlib, shutil, tempfile
>>> import numpy as np
>>> import uproot
>>> from skhep_reweight.io import count_events, iterate_events, read_events, WeightWriter
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with uproot.recreate(folder / "mc.root") as file:  # a small input tree
...     tree = file.mktree("Events", {"pt": "float64", "njets": "int32", "w": "float64"})
...     tree.extend({"pt": np.array([20.0, 35.0, 50.0, 80.0, 120.0]),
...                  "njets": np.array([0, 1, 1, 2, 3], dtype=np.int32),
...                  "w": np.array([1.0, 1.0, 0.5, 1.0, -0.25])})
>>> X, w = read_events(folder / "mc.root", ["pt", "njets"], weight="w")
>>> X.dtype, X.shape, w.tolist()
(dtype('float64'), (5, 2), [1.0, 1.0, 0.5, 1.0, -0.25])

Chunk by chunk, as for a file larger than memory (here 2 events at a time), writing a new
weight per event to a friend file of the same number of entries:

>>> n = count_events(folder / "mc.root", tree="Events")
>>> with WeightWriter(folder / "weights.root", name="weight", n_events=n) as writer:
...     for X, w in iterate_events(folder / "mc.root", ["pt"], weight="w", chunk_size=2):
...         writer.write(w * X[:, 0] / 100.0)
>>> new, _ = read_events(folder / "weights.root", ["weight"], tree="Events")
>>> new[:, 0].tolist()
[0.2, 0.35, 0.25, 0.8, -0.3]
>>> shutil.rmtree(folder)
"""

from __future__ import annotations

from .._errors import DamagedFileError
from ._read import count_events, iterate_events, read_events
from ._source import EventSource
from ._write import WeightWriter, write_weights

__all__ = [
    "DamagedFileError",
    "EventSource",
    "WeightWriter",
    "count_events",
    "iterate_events",
    "read_events",
    "write_weights",
]
