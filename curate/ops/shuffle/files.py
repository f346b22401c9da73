"""The file shuffle between the map and reduce tasks of a global step (../shared/DESIGN.md, principle 5).

A map task writes its partition's records as ONE file, sorted by key range, one Parquet row group per non-empty
range, and the range -> row group index in the file's metadata; a reduce task reads its range's row group from every
map file (a footer and one range read each on object storage). Scratch files grow with the partitions, P, not with
P x ranges; and the number of ranges grows with the records (`ranges_for`), not with the partitions, so a reduce
task holds about RECORDS_PER_RANGE records however the corpus is cut.

A record names its document by a 64-bit number, partition << 32 | row, so the numbers sort like the input (partition
order, then row order) and map back to a file and a row without a lookup.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import storage
from curate.tables import PARQUET_COMPRESSION, scratch_file

# Records a reduce task holds. Measured with bench/dedup_scale.py at 1M documents (14M MinHash band records): with
# 8M records a range the run peaked at 1,226 MiB (a reducer sorts its records and loads the signatures of every
# candidate document to verify pairs, ~0.9 KB each), with 1M at 494 MiB, as fast (96 s against 94 s), 12 scratch
# files more. A billion-document corpus needs some 14,000 ranges: reduce tasks, not files per map task.
RECORDS_PER_RANGE = 1_000_000
RANGES_KEY = b"curate.ranges"  # metadata of a map file: {range: [first row group, row groups]}
# Rows per row group: Arrow's default maximum, so that each write below makes exactly one row group.
ROW_GROUP_ROWS = 1 << 20

ROW_BITS = 32


def doc_numbers(partition: int, rows: int) -> np.ndarray:
    """The document numbers of a partition's rows. Example: doc_numbers(2, 3) -> [2<<32, (2<<32)+1, (2<<32)+2]"""
    return (np.uint64(partition) << np.uint64(ROW_BITS)) + np.arange(rows, dtype=np.uint64)


def split_doc_numbers(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(partition, row) of each document number; the inverse of doc_numbers."""
    docs = docs.astype(np.uint64)
    return (docs >> np.uint64(ROW_BITS)).astype(np.int64), (docs & np.uint64((1 << ROW_BITS) - 1)).astype(np.int64)


def ranges_for(records: int) -> int:
    """How many key ranges a shuffle of `records` records needs. Example: ranges_for(2_500_000) -> 3"""
    return max(1, math.ceil(records / RECORDS_PER_RANGE))


def map_file(folder: str, partition: int) -> str:
    return scratch_file(folder, partition)


def write_ranges(records: pa.Table, range_of: np.ndarray, ranges: int, folder: str, partition: int) -> None:
    """Write `records` (`range_of[i]` is record i's range) as the partition's one map file: row groups per
    non-empty range, in range order, and their index in the metadata."""
    order = np.argsort(range_of, kind="stable")
    bounds = np.searchsorted(range_of[order], np.arange(ranges + 1))
    index, group = {}, 0
    for key_range in range(ranges):
        groups = math.ceil((bounds[key_range + 1] - bounds[key_range]) / ROW_GROUP_ROWS)
        if groups:
            index[str(key_range)] = [group, groups]
            group += groups
    schema = records.schema.with_metadata({RANGES_KEY: json.dumps(index).encode()})
    with storage.atomic_output(map_file(folder, partition)) as sink, \
            pq.ParquetWriter(sink, schema, compression=PARQUET_COMPRESSION) as writer:
        for present in index:
            low, high = bounds[int(present)], bounds[int(present) + 1]
            for first in range(low, high, ROW_GROUP_ROWS):
                rows = pa.array(order[first : min(first + ROW_GROUP_ROWS, high)], pa.int64())
                writer.write_table(records.take(rows).replace_schema_metadata(schema.metadata))


def read_key_range(folder: str, key_range: int, partitions: int) -> pa.Table:
    """Every partition's records of one key range, in partition order (an empty table when none has any)."""
    parts = []
    for partition in range(partitions):
        with storage.open_input(map_file(folder, partition)) as handle:
            parquet = pq.ParquetFile(handle)
            index = json.loads(parquet.schema_arrow.metadata[RANGES_KEY])
            if str(key_range) in index:
                first, groups = index[str(key_range)]
                groups_read = parquet.read_row_groups(list(range(first, first + groups)))
                parts.append(groups_read.replace_schema_metadata(None))
    return pa.concat_tables(parts) if parts else pa.table({})


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
