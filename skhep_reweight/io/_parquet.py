"""Parquet files through pyarrow: checking columns, reading whole or in chunks, and writing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np

from ._common import guarded_read, list_names

__all__ = ["ParquetSink", "ParquetTable", "import_pyarrow", "open_parquet"]

INSTALL_HINT = "pip install 'skhep_reweight[parquet]'"


def import_pyarrow(action: str = "reading parquet files") -> ModuleType:
    """The pyarrow.parquet module, or an ImportError naming the extra to install."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(f"{action} needs pyarrow: {INSTALL_HINT}") from error
    return pq


@contextlib.contextmanager
def open_parquet(path: Path) -> Iterator[ParquetTable]:
    """Open a parquet file for reading (its footer only; columns are read on demand).

    Page checksums are verified where the file has them (:class:`ParquetSink` writes them), so
    that a damaged page is an error instead of wrong values. Every call into pyarrow, here and in
    :class:`ParquetTable`, goes through :func:`~skhep_reweight.io._common.guarded_read`.
    """
    pq = import_pyarrow()
    with guarded_read(path, "parquet"):
        # pre_buffer=False: with pyarrow's default, iter_batches buffers the requested columns of
        # the whole file, so that memory grew with the file (2.2 GiB at 3e7 events, against
        # 0.2 GiB without; measured in bench/bench_apply_throughput.py).
        file = pq.ParquetFile(path, pre_buffer=False, page_checksum_verification=True)
        table = ParquetTable(path, file)
    with file:
        yield table


# Reads of more row groups than this use pyarrow's threads (see ParquetTable.read).
_THREADED_ROW_GROUPS = 8


class ParquetTable:
    """The columns of one parquet file."""

    kind = "columns"

    def __init__(self, path: Path, file: Any) -> None:
        self.path = path
        self.file = file
        self.n_entries = int(file.metadata.num_rows)

    def describe(self, name: str) -> str:
        """How error messages name a column."""
        return f"column {name!r} of {str(self.path)!r}"

    def _guard(self, what: str) -> contextlib.AbstractContextManager[None]:
        return guarded_read(self.path, "parquet", what)

    def check(self, names: list[str]) -> None:
        """ValueError for a missing column or one that is not one number per event."""
        import pyarrow as pa

        with self._guard("its schema"):
            schema = self.file.schema_arrow
        available = list(schema.names)
        for name in names:
            if name not in available:
                raise ValueError(
                    f"file {str(self.path)!r} has no column {name!r} "
                    f"{list_names('columns', available, name)}"
                )
            dtype = schema.field(name).type
            if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
                continue
            if pa.types.is_boolean(dtype):
                continue
            if pa.types.is_fixed_size_list(dtype):
                problem = f"holds {dtype.list_size} values per event (type {dtype})"
            elif pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
                problem = f"is jagged: it holds a variable number of values per event ({dtype})"
            else:
                problem = f"is not numeric (type {dtype})"
            raise ValueError(
                f"{self.describe(name)} {problem}: only columns with one number per event "
                "can be read"
            )

    def _arrays(self, table: Any, start: int) -> dict[str, np.ndarray]:
        """The columns of a pyarrow table as numpy arrays; ValueError for missing values."""
        arrays = {}
        for name in table.column_names:
            with self._guard(f"column {name!r}, entries {start} to {start + table.num_rows - 1}"):
                column = table.column(name)
                null_count = column.null_count
                values = column.to_numpy()
            if null_count:
                raise ValueError(
                    f"{self.describe(name)} has {null_count} missing (null) values in "
                    f"entries {start} to {start + len(column) - 1}; values are never repaired: "
                    "remove or fix these events before reading"
                )
            arrays[name] = values
        return arrays

    def read(self, names: list[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Entries ``start`` to ``stop`` (exclusive): only the row groups that hold them."""
        sizes = [self.file.metadata.row_group(i).num_rows for i in range(self.file.num_row_groups)]
        ends = np.cumsum(sizes, dtype=np.int64)
        begins = ends - np.asarray(sizes, dtype=np.int64)
        groups = [i for i in range(len(sizes)) if begins[i] < stop and ends[i] > start]
        if not groups:
            table = self.file.schema_arrow.empty_table().select(names)
            return self._arrays(table, start)
        # pyarrow's reader threads pay off on many row groups; on the few of a chunk they only
        # fragment memory: training from files (EventSource) reads chunks again and again, and
        # with threads its peak memory grew with the file (30-70 MiB between 2x10^5 and 10^6
        # events a class), without them it stays flat
        threads = len(groups) > _THREADED_ROW_GROUPS
        with self._guard(f"columns {names}, entries {start} to {stop - 1}"):
            table = self.file.read_row_groups(groups, columns=names, use_threads=threads)
            table = table.slice(start - int(begins[groups[0]]), stop - start)
        return self._arrays(table, start)

    def iterate(self, names: list[str], chunk_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Chunks of exactly ``chunk_size`` entries (the last one shorter), in file order.

        pyarrow's batches may end at row-group boundaries; they are regrouped here so that the
        chunks do not depend on how the file was written.
        """
        import pyarrow as pa

        pending: list[Any] = []
        n_pending = 0
        start = 0
        with self._guard(f"columns {names}"):
            batches = self.file.iter_batches(batch_size=chunk_size, columns=names)
        while True:
            where = f"columns {names}, entries from {start + n_pending}"
            with self._guard(where):
                batch = next(batches, None)
            if batch is None:
                break
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= chunk_size:
                table = pa.Table.from_batches(pending)
                yield self._arrays(table.slice(0, chunk_size), start)
                start += chunk_size
                rest = table.slice(chunk_size)
                pending, n_pending = rest.to_batches(), rest.num_rows
        if n_pending:
            yield self._arrays(pa.Table.from_batches(pending), start)


class ParquetSink:
    """A new parquet file with one float64 column ``name``, its pages with CRC-32 checksums (which
    :func:`open_parquet` verifies when reading)."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        pq = import_pyarrow("writing parquet files")
        import pyarrow as pa

        self.name = name
        self.schema = pa.schema([(name, pa.float64())])
        self.stream = stream
        self.writer = pq.ParquetWriter(stream, self.schema, write_page_checksum=True)

    def write(self, values: np.ndarray) -> None:
        """Append entries (one row group per call)."""
        import pyarrow as pa

        self.writer.write_table(pa.table({self.name: values}, schema=self.schema))

    def close(self) -> None:
        """Write the footer and close the stream."""
        self.writer.close()
        self.stream.close()
