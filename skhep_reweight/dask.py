r"""Fitted estimators on Dask collections: weights for more events than one machine holds.

A fitted reweighter, calibrator or transport map is a pure function of the events: prediction
writes nothing on the estimator, so one model serves any number of threads and workers. This
module applies it partition by partition to a :class:`dask.dataframe.DataFrame` or a
:class:`dask.array.Array` (rows chunked, all columns in one chunk), reads event files into a
Dask DataFrame and writes the weights back to a friend file in event order. Nothing is computed
until asked (``.compute()``, :func:`write_weights`), and each partition is processed where it
lives: on the threads of the machine, on a ``distributed.LocalCluster``, or on an HTCondor or
Slurm cluster through ``dask-jobqueue``.

Needs the ``dask`` extra: ``pip install 'skhep_reweight[dask]'`` (``dask[dataframe]`` and
``distributed``).

* :func:`read_events` -- feature columns (and a weight column) of ROOT or parquet files as a Dask
  DataFrame, one partition per ``chunk_size`` events of a file, each read with
  :func:`skhep_reweight.io.read_events` (the same checks: flat numeric columns, no NaN, no
  missing values, errors that name the file and the column).
* :func:`predict_weights` -- the weights of every event, a Dask Series (DataFrame in) or a 1-D
  Dask array (array in).
* :func:`apply` -- any other row-wise method: ``predict`` of a calibrator, ``transform`` of an
  ``OTCalibrator``, ``decision_function`` of a reweighter.
* :func:`write_weights` -- the weights to one ROOT friend tree or parquet file, partitions
  computed in parallel a few at a time and written in order (memory bounded by a few partitions).

Column names are kept: a model fitted on a DataFrame gets DataFrame partitions with its columns
(``feature_names_in_``), a model fitted on arrays gets arrays; so no partition warns about
feature names. Partitions are computed from ``meta`` given here, never by calling the model on
an empty frame.

On a cluster
------------
Every ``n_jobs`` of the package runs through joblib, so a training loop spreads over the same
cluster with ``joblib.parallel_backend("dask")``::

    from dask.distributed import Client, LocalCluster
    import joblib

    if __name__ == "__main__":  # process workers import the main module
        with LocalCluster(n_workers=4, threads_per_worker=1) as cluster, Client(cluster):
            with joblib.parallel_backend("dask"):
                search = GridSearchCV(DCTRReweighter(), grid, n_jobs=-1).fit(X, y)
            events = skhep_reweight.dask.read_events(files, columns, tree="Events")
            weights = skhep_reweight.dask.predict_weights(search.best_estimator_, events)
            skhep_reweight.dask.write_weights(weights, "weights.root")

On HTCondor or Slurm, ``dask_jobqueue.HTCondorCluster(cores=1, memory="4GB", disk="4GB")`` (or
``SLURMCluster``) and ``cluster.scale(jobs=100)`` take the place of the ``LocalCluster``; the rest
is unchanged. Workers run torch on one thread each (Dask sets ``OMP_NUM_THREADS=1``): give each
worker one core and scale the workers, not the threads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["apply", "predict_weights", "read_events", "write_weights"]


def _import_dask() -> Any:
    try:
        import dask
        import dask.array
        import dask.dataframe
    except ImportError as exc:
        raise ImportError(
            "skhep_reweight.dask needs dask with its DataFrame support: "
            "pip install 'skhep_reweight[dask]'"
        ) from exc
    return dask


def _is_dataframe(data: Any) -> bool:
    import dask.dataframe as dd

    return isinstance(data, dd.DataFrame)


def _is_array(data: Any) -> bool:
    import dask.array as da

    return isinstance(data, da.Array)


def _model_columns(model: Any, data: Any, columns: Sequence[str] | None) -> list[str] | None:
    """The columns to pass to the model: ``columns``, else the model's ``feature_names_in_``,
    else all columns of a DataFrame; None for an array."""
    if not _is_dataframe(data):
        if columns is not None:
            raise ValueError("columns selects DataFrame columns; data is a Dask array")
        return None
    if columns is None:
        names = getattr(model, "feature_names_in_", None)
        columns = list(names) if names is not None else list(data.columns)
    columns = [str(c) for c in columns]
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"the DataFrame has no column(s) {missing} (columns: {list(data.columns)})"
        )
    return columns


def _partition_input(model: Any, block: Any, columns: list[str] | None) -> Any:
    """What the model gets for one partition: a pandas DataFrame with the columns it was fitted
    on (a model fitted on a DataFrame), else a float64 array."""
    fitted_on_frame = getattr(model, "feature_names_in_", None) is not None
    if columns is not None:
        frame = block[columns]
        return frame if fitted_on_frame else frame.to_numpy(dtype=np.float64)
    array = np.asarray(block, dtype=np.float64)
    if fitted_on_frame:
        import pandas as pd

        return pd.DataFrame(array, columns=list(model.feature_names_in_))
    return array


def _check_array(data: Any) -> Any:
    if data.ndim != 2:
        raise ValueError(f"a Dask array of events must be 2-D, got {data.ndim} dimensions")
    if len(data.chunks[1]) != 1:
        data = data.rechunk({1: -1})  # every partition needs all the features of its rows
    return data


def _method_of(model: Any, method: str) -> Any:
    function = getattr(model, method, None)
    if function is None or not callable(function):
        raise AttributeError(f"{type(model).__name__} has no method {method!r}")
    return function


def _run(model: Any, method: str, block: Any, columns: Any, extra: Any, kwargs: dict) -> Any:
    inputs = _partition_input(model, block, columns)
    if extra is not None:
        kwargs = {**kwargs, "sample_weight": np.asarray(extra, dtype=np.float64).reshape(-1)}
    return np.asarray(getattr(model, method)(inputs, **kwargs))


def apply(
    model: Any,
    data: Any,
    method: str = "predict",
    *,
    columns: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Call a fitted model's row-wise ``method`` on every partition of a Dask collection.

    Parameters
    ----------
    model : fitted estimator
        Any estimator of the package (or of scikit-learn) whose ``method`` maps n rows to n
        values or n rows of values, and writes nothing on the estimator.
    data : dask.dataframe.DataFrame or dask.array.Array of shape (n_events, n_features)
        The events. An array is rechunked so that every chunk holds all the columns.
    method : str, default="predict"
        ``"predict"`` (calibrators), ``"transform"`` (``OTCalibrator``), ``"predict_weights"``,
        ``"decision_function"``, ...
    columns : list of str, optional
        DataFrame columns to pass, in order; default: the model's ``feature_names_in_``, else
        all columns.
    output_names : list of str, optional
        With a DataFrame and a 2-D output, the names of the output columns (default
        ``"0"``, ``"1"``, ...); with a 1-D output, ``output_names[0]`` names the Series.
    **kwargs
        Passed to ``method`` on every partition: ``theta=`` of a parametrized reweighter, one
        point of shape (n_parameters,) for every event (per-event theta raises).

    Returns
    -------
    dask.dataframe.Series or DataFrame (DataFrame in, same partitions and index), or
    dask.array.Array (array in, same row chunks): 1-D for one value per event, 2-D otherwise.
    """
    _import_dask()
    _method_of(model, method)
    return _apply(model, data, method, columns, output_names, None, kwargs)


def _apply(
    model: Any,
    data: Any,
    method: str,
    columns: Sequence[str] | None,
    output_names: Sequence[str] | None,
    sample_weight: Any,
    kwargs: dict,
) -> Any:
    import pandas as pd

    theta = kwargs.get("theta")
    if theta is not None and np.ndim(theta) == 2 and np.shape(theta)[0] > 1:
        raise ValueError(
            "theta: give one point, of shape (n_parameters,), for every event; per-event theta "
            "is not split by partition here (call the model's predict_weights per partition "
            "with dask.dataframe's map_partitions instead)"
        )
    selected = _model_columns(model, data, columns)
    n_out = _output_width(model, method, data, selected, kwargs)
    if _is_dataframe(data):
        if n_out == 0:
            name = output_names[0] if output_names else method
            meta = pd.Series(np.zeros(0, dtype=np.float64), name=name)
        else:
            names = list(output_names) if output_names else [str(j) for j in range(n_out)]
            if len(names) != n_out:
                raise ValueError(f"output_names has {len(names)} names for {n_out} columns")
            meta = pd.DataFrame({n: np.zeros(0, dtype=np.float64) for n in names})

        def partition(frame: Any, weights: Any = None) -> Any:
            values = _run(model, method, frame, selected, weights, kwargs).astype(np.float64)
            if values.ndim == 1:
                return pd.Series(values, index=frame.index, name=meta.name)
            return pd.DataFrame(values, index=frame.index, columns=meta.columns)

        if sample_weight is None:
            return data.map_partitions(partition, meta=meta)
        return data.map_partitions(partition, sample_weight, meta=meta, align_dataframes=False)
    if not _is_array(data):
        raise TypeError(
            f"data must be a Dask DataFrame or a Dask array, got {type(data).__name__}; for "
            "numpy arrays or pandas DataFrames call the model directly"
        )
    data = _check_array(data)

    def block(chunk: Any, weights: Any = None) -> Any:
        return _run(model, method, chunk, None, weights, kwargs).astype(np.float64)

    if n_out == 0:
        if sample_weight is None:
            return data.map_blocks(block, drop_axis=1, dtype=np.float64, meta=np.zeros(0))
        weights = sample_weight.rechunk((data.chunks[0],))
        return data.map_blocks(
            block, weights[:, None], drop_axis=1, dtype=np.float64, meta=np.zeros(0)
        )
    return data.map_blocks(
        block, chunks=(data.chunks[0], (n_out,)), dtype=np.float64, meta=np.zeros((0, 0))
    )


def _output_width(model: Any, method: str, data: Any, columns: Any, kwargs: dict) -> int:
    """0 for one value per event, else the number of output columns: learned from the model's
    answer on the first row of the first partition (a tiny computation, never an empty frame)."""
    if method in ("predict_weights", "decision_function"):
        return 0
    if _is_dataframe(data):
        head = data.partitions[0].head(1, compute=True)
    else:
        head = _check_array(data)[:1].compute()
    if len(head) == 0:
        raise ValueError("the first partition holds no events")
    values = np.asarray(getattr(model, method)(_partition_input(model, head, columns), **kwargs))
    return 0 if values.ndim == 1 else int(values.shape[1])


def predict_weights(
    model: Any,
    data: Any,
    *,
    sample_weight: Any = None,
    columns: Sequence[str] | None = None,
    name: str = "weight",
    **kwargs: Any,
) -> Any:
    """The weights of a fitted reweighter for every event of a Dask collection.

    Equal, partition by partition, to ``model.predict_weights`` on the same events.

    Parameters
    ----------
    model : fitted reweighter
        Anything with ``predict_weights(X, sample_weight=None, ...)``: ``DCTRReweighter``,
        ``ConditionalReweighter``, ``FoldingReweighter``, ``BaggingReweighter``,
        ``compat.hep_ml`` reweighters.
    data : dask.dataframe.DataFrame or dask.array.Array of shape (n_events, n_features)
    sample_weight : str, dask Series or dask array, optional
        Weights the events already carry: a column of ``data`` (by name), or a collection with
        the same partitions (a Series) or row chunks (an array).
    columns : list of str, optional
        As in :func:`apply`; by default a ``sample_weight`` column is not a feature.
    name : str, default="weight"
        The name of the returned Series.
    **kwargs
        Passed to ``predict_weights``: ``theta=`` of a parametrized reweighter, one point of
        shape (n_parameters,) for every event (per-event theta raises).

    Returns
    -------
    weights : dask.dataframe.Series (DataFrame in) or 1-D dask.array.Array (array in)
    """
    _import_dask()
    _method_of(model, "predict_weights")
    if isinstance(sample_weight, str):
        if not _is_dataframe(data):
            raise ValueError("sample_weight names a column; data is a Dask array")
        if sample_weight not in data.columns:
            raise ValueError(
                f"sample_weight: the DataFrame has no column {sample_weight!r} "
                f"(columns: {list(data.columns)})"
            )
        if columns is None and getattr(model, "feature_names_in_", None) is None:
            columns = [c for c in data.columns if c != sample_weight]
        sample_weight = data[sample_weight]
    return _apply(model, data, "predict_weights", columns, [name], sample_weight, kwargs)


def read_events(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    columns: Sequence[str],
    *,
    tree: str | None = None,
    weight: str | None = None,
    chunk_size: int = 1_000_000,
) -> Any:
    """Feature columns (and a weight column) of ROOT or parquet files as a Dask DataFrame.

    Each file is cut into partitions of ``chunk_size`` entries, and each partition is read, when
    computed, by :func:`skhep_reweight.io.read_events` with ``entry_start``/``entry_stop``: the
    same checks as everywhere in the package (flat numeric columns, NaN, infinities and missing
    values refused with the file and the column named). The files, trees and columns are
    checked now; the values when the partitions are computed.

    Parameters
    ----------
    paths : path or list of paths
        ``.root`` or ``.parquet``/``.pq`` files, in order.
    columns : list of str
        The features.
    tree : str, optional
        The tree of the ROOT files (see :func:`skhep_reweight.io.read_events`).
    weight : str, optional
        A column of event weights, added to the DataFrame under its own name (it may also be a
        feature, then it appears once).
    chunk_size : int, default=1_000_000
        Entries per partition.

    Returns
    -------
    events : dask.dataframe.DataFrame
        Columns ``columns`` (then ``weight``), float64; partitions in file and entry order, the
        index the entry number within its file.
    """
    dask = _import_dask()
    import dask.dataframe as dd
    import pandas as pd

    from .io import EventSource
    from .io import read_events as read_file

    columns = list(columns)
    names = columns + ([weight] if weight is not None and weight not in columns else [])
    # checks the files, the tree and the columns now; cuts the files into chunks
    source = EventSource(paths, names, tree=tree, chunk_size=chunk_size)
    meta = pd.DataFrame({c: np.zeros(0, dtype=np.float64) for c in names})
    meta.index = pd.RangeIndex(0)

    def part(path: Path, start: int, stop: int) -> Any:
        frame, _ = read_file(
            path, names, tree=tree, library="pd", entry_start=start, entry_stop=stop
        )
        return frame

    parts = [dask.delayed(part)(*chunk) for chunk in source.chunks]
    if not parts:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def write_weights(
    weights: Any,
    path: str | os.PathLike,
    *,
    name: str = "weight",
    tree: str = "Events",
    parallel: int | None = None,
) -> Path:
    """Compute a Dask Series or 1-D array of weights and write it to one file, in event order.

    The partitions are computed ``parallel`` at a time (on the current Dask scheduler) and
    written in order through :class:`skhep_reweight.io.WeightWriter`: a ROOT friend tree or a
    parquet column with one entry per event. Memory holds at most ``parallel`` partitions. The
    file appears only when every partition was written (an error leaves nothing).

    Parameters
    ----------
    weights : dask.dataframe.Series or 1-D dask.array.Array
    path : str or path-like
        ``.root`` or ``.parquet``/``.pq``.
    name, tree : str
        As in :class:`skhep_reweight.io.WeightWriter`.
    parallel : int, optional
        Partitions computed at once; default: the number of workers of the current
        ``distributed`` client, else the CPU count.

    Returns
    -------
    path : Path
    """
    dask = _import_dask()
    from .io import WeightWriter

    if _is_array(weights):
        if weights.ndim != 1:
            raise ValueError(f"weights must be 1-D, got {weights.ndim} dimensions")
        blocks = weights.to_delayed().ravel().tolist()
    elif hasattr(weights, "to_delayed") and getattr(weights, "ndim", 1) == 1:
        blocks = list(weights.to_delayed())
    else:
        raise TypeError(
            f"weights must be a Dask Series or a 1-D Dask array, got {type(weights).__name__}"
        )
    if parallel is None:
        parallel = _default_parallel()
    with WeightWriter(path, name=name, tree=tree) as writer:
        for start in range(0, len(blocks), parallel):
            for values in dask.compute(*blocks[start : start + parallel]):
                writer.write(np.asarray(values, dtype=np.float64))
    return Path(path)


def _default_parallel() -> int:
    try:
        from distributed import get_client

        return max(1, len(get_client().scheduler_info()["workers"]))
    except (ImportError, ValueError):
        return max(1, os.cpu_count() or 1)
