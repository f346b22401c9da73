"""Parquet tables and numpy arrays on any storage (local or object storage: curate/storage.py), each written whole or
not at all. The generic file I/O of nodes, operations and deduplication; it knows nothing of pipelines.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import storage

PARQUET_COMPRESSION = "zstd"


def scratch_file(folder: str, index: int, suffix: str = ".parquet") -> str:
    """The scratch file of the task for input partition `index`: numbered by input position, which is fixed for one
    fingerprint (scratch folders never outlive theirs). Example: scratch_file("s", 3, ".npy") -> "s/part-00003.npy"
    """
    return storage.join(folder, f"part-{index:05d}{suffix}")


def read_table(path: str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file (or the named columns of it), local or on object storage. Opened as one file, not as a
    dataset: dataset discovery would list and stat its folder first (requests on object storage)."""
    with storage.open_input(path) as handle:
        return pq.read_table(handle, columns=columns)


def parquet_rows(path: str) -> int:
    """The row count in a Parquet file's footer."""
    with storage.open_input(path) as handle:
        return pq.read_metadata(handle).num_rows


def read_columns(path: str, columns: list[str]) -> pa.Table:
    """The named columns of a node's partition file; a ValueError naming the missing ones (e.g. a node read for its
    text that has no extract step) instead of Arrow's schema dump."""
    with storage.open_input(path) as handle:
        available = pq.read_schema(handle).names
    missing = [c for c in columns if c not in available]
    if missing:
        raise ValueError(f"{storage.basename(path)} has no column {', '.join(map(repr, missing))} (it has "
                         f"{', '.join(available)}); does the node it comes from extract text?")
    return read_table(path, columns)


def write_parquet_atomic(table: pa.Table, path: str) -> None:
    """Write `table` to `path` (zstd), whole or not at all (storage.atomic_output). An empty table is written with
    no row group, as run_partition writes one: a row group of 0 rows breaks readers that size their batches by the
    first row group (HF datasets: "BatchSize must be greater than 0")."""
    with storage.atomic_output(path) as sink, pq.ParquetWriter(sink, table.schema,
                                                               compression=PARQUET_COMPRESSION) as writer:
        if table.num_rows:
            writer.write_table(table)


def save_array_atomic(path: str, array: np.ndarray) -> None:
    """`np.save` to `path`, whole or not at all."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    storage.write_bytes(path, buffer.getvalue())


def load_array(path: str) -> np.ndarray:
    """An array written by save_array_atomic."""
    return np.load(io.BytesIO(storage.read_bytes(path)))
