"""The `exact_dedup` node: documents whose text (or URL) is the same after whitespace is collapsed form a group;
the document with the smallest `id` is kept, the others are rejected as `exact_duplicate` naming it.

The key is a 128-bit BLAKE2b digest: the chance that two different texts collide among 10^12 documents is about
10^24 / 2^129, i.e. never. Map: (key, document number, id) records into key-range files. Reduce: sort one range by
(key, id) and emit a row for every member of a group of two or more.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.ops.dedup.output import ASSIGNMENT_SCHEMA
from curate.ops.shuffle.files import doc_numbers, group_bounds, read_key_range, write_ranges
from curate.ops.base import OperationContext
from curate.ops.dedup.operation import Deduplication, read_reduced
from curate.ops.shuffle.operation import ShuffleTask
from curate.tables import read_columns, write_parquet_atomic

KEY_BYTES = 16


def exact_key(value: str, lowercase: bool) -> bytes:
    """The 128-bit digest of `value` with runs of whitespace collapsed to one space (and lower-cased if asked).

    Example: exact_key("a  b\\n", False) == exact_key("a b", False)
    """
    normal = " ".join(value.split())
    return hashlib.blake2b((normal.lower() if lowercase else normal).encode(), digest_size=KEY_BYTES).digest()


@dataclass
class ExactDedup(Deduplication):
    """Remove exact duplicates of `field` ("text" or "url") from node `input`, keeping the smallest id."""

    name: ClassVar[str] = "exact_dedup"
    reason: ClassVar[str] = "exact_duplicate"

    field: Literal["text", "url"] = "text"
    lowercase: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.field not in ("text", "url"):
            raise ValueError(f"field must be 'text' or 'url', got {self.field!r}")

    def map_partition(self, task: ShuffleTask) -> int:
        table = read_columns(task.input_path, ["id", self.field])
        values = table.column(self.field).to_pylist()
        present = np.array([v is not None for v in values], dtype=bool)  # a missing URL is nobody's duplicate
        keys = [exact_key(v, self.lowercase) for v in values if v is not None]
        records = pa.table({
            "key": pa.array(keys, pa.binary(KEY_BYTES)),
            "doc": pa.array(doc_numbers(task.index, table.num_rows)[present], pa.uint64()),
            "id": table.column("id").filter(pa.array(present)),
        })
        first_words = np.frombuffer(b"".join(keys), dtype="<u8")[::2] if keys else np.zeros(0, np.uint64)
        write_ranges(records, (first_words % np.uint64(task.ranges)).astype(np.int64), task.ranges, task.shuffle_dir,
                     task.index)
        return table.num_rows

    def reduce_range(self, task: ShuffleTask) -> int:
        records = read_key_range(task.shuffle_dir, task.index, task.partitions)
        if records.num_rows == 0:
            write_parquet_atomic(ASSIGNMENT_SCHEMA.empty_table(), task.reduced_path)
            return 0
        records = records.sort_by([("key", "ascending"), ("id", "ascending"), ("doc", "ascending")])
        bounds = group_bounds(records.column("key"))
        sizes = np.diff(bounds)
        group_of = np.repeat(np.arange(len(sizes)), sizes)
        in_group = sizes[group_of] > 1
        first = bounds[:-1][group_of]  # each row's group start: the smallest id, the survivor
        ids = records.column("id")
        write_parquet_atomic(pa.table({
            "doc": records.column("doc").filter(pa.array(in_group)),
            "dup_cluster": pc.take(ids, pa.array(first[in_group])),
            "dup_cluster_size": pa.array(sizes[group_of][in_group], pa.int32()),
            "duplicate": pa.array((np.arange(records.num_rows) != first)[in_group]),
        }, schema=ASSIGNMENT_SCHEMA), task.reduced_path)
        return records.num_rows

    def resolve(self, scratch: str, inputs: list[str], context: OperationContext) -> pa.Table:
        return read_reduced(scratch, ASSIGNMENT_SCHEMA)
