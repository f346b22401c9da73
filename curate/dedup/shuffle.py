"""The file shuffle between the map and reduce tasks of a global step (../shared/DESIGN.md, principle 5).

A map task splits its partition's records by key into `ranges` files, one per key range; a reduce task reads one
range's files from every partition. A record names its document by a 64-bit number, partition << 32 | row, so the
numbers sort like the input (partition order, then row order) and map back to a file and a row without a lookup.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import storage
from curate.partition import read_table, write_parquet_atomic

ROW_BITS = 32


def doc_numbers(partition: int, rows: int) -> np.ndarray:
    """The document numbers of a partition's rows. Example: doc_numbers(2, 3) -> [2<<32, (2<<32)+1, (2<<32)+2]"""
    return (np.uint64(partition) << np.uint64(ROW_BITS)) + np.arange(rows, dtype=np.uint64)


def split_doc_numbers(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(partition, row) of each document number; the inverse of doc_numbers."""
    docs = docs.astype(np.uint64)
    return (docs >> np.uint64(ROW_BITS)).astype(np.int64), (docs & np.uint64((1 << ROW_BITS) - 1)).astype(np.int64)


def range_path(folder: str, key_range: int, partition: int) -> str:
    return storage.join(folder, f"range-{key_range:04d}", f"part-{partition:05d}.parquet")


def write_ranges(records: pa.Table, range_of: np.ndarray, ranges: int, folder: str, partition: int) -> None:
    """Write `records` as one file per key range (`range_of[i]` is record i's range), empty ranges included, so a
    reduce task sees a file from every partition."""
    order = np.argsort(range_of, kind="stable")
    bounds = np.searchsorted(range_of[order], np.arange(ranges + 1))
    for key_range in range(ranges):
        rows = order[bounds[key_range] : bounds[key_range + 1]]
        write_parquet_atomic(records.take(pa.array(rows, pa.int64())), range_path(folder, key_range, partition))


def read_range(folder: str, key_range: int) -> pa.Table:
    """Every partition's records of one key range, in partition order."""
    range_folder = storage.join(folder, f"range-{key_range:04d}")
    paths = [storage.join(range_folder, name) for name in storage.list_files(range_folder)]
    return pa.concat_tables([read_table(p) for p in paths]) if paths else pa.table({})


def group_bounds(sorted_keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Start offsets of the runs of equal keys in a sorted column, plus its length at the end.

    Example: group_bounds(pa.array([1, 1, 2, 3, 3, 3])) -> [0, 2, 3, 6]
    """
    n = len(sorted_keys)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    keys = sorted_keys.combine_chunks() if isinstance(sorted_keys, pa.ChunkedArray) else sorted_keys
    changed = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    return np.concatenate(([0], np.flatnonzero(changed) + 1, [n])).astype(np.int64)
