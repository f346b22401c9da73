"""The last phase of both dedup nodes: route each duplicate group's decisions to the partitions that hold its
members, then write every partition again as kept rows and rejected duplicates.

An assignment row says, for one document in a group of two or more: the group's id (its survivor's `id`), the group's
size, and whether the document is removed. Documents in no group keep `dup_cluster` = their own id and size 1, so
every output row says which cluster it belongs to.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate import storage
from curate.ops.shuffle.files import split_doc_numbers
from curate.ops.shuffle.operation import ShuffleWrite
from curate.stages.base import Reject, rejected_rows
from curate.stats import StageStats
from curate.tables import load_array, read_table, scratch_file, write_parquet_atomic

ASSIGNMENT_SCHEMA = pa.schema([
    pa.field("doc", pa.uint64()),
    pa.field("dup_cluster", pa.string()),
    pa.field("dup_cluster_size", pa.int32()),
    pa.field("duplicate", pa.bool_()),
])
CLUSTER_FIELDS = (pa.field("dup_cluster", pa.string()), pa.field("dup_cluster_size", pa.int32()))


def assignment_path(folder: str, partition: int) -> str:
    return scratch_file(folder, partition)


def route_assignments(assignments: pa.Table, partitions: int, folder: str) -> None:
    """Split the assignments of all groups into one file per input partition (empty files included)."""
    partition_of, _ = split_doc_numbers(assignments.column("doc").to_numpy())
    order = np.argsort(partition_of, kind="stable")
    bounds = np.searchsorted(partition_of[order], np.arange(partitions + 1))
    for index in range(partitions):
        rows = pa.array(order[bounds[index] : bounds[index + 1]], pa.int64())
        write_parquet_atomic(assignments.take(rows).cast(ASSIGNMENT_SCHEMA), assignment_path(folder, index))


def cluster_columns(ids: pa.Array, assignments: pa.Table) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """`dup_cluster`, `dup_cluster_size` and the removed-row mask for a partition's rows."""
    _, rows = split_doc_numbers(assignments.column("doc").to_numpy())
    cluster = np.array(ids.to_pylist(), dtype=object)
    size = np.ones(len(ids), dtype=np.int32)
    removed = np.zeros(len(ids), dtype=bool)
    cluster[rows] = np.array(assignments.column("dup_cluster").to_pylist(), dtype=object)
    size[rows] = assignments.column("dup_cluster_size").to_numpy()
    removed[rows] = assignments.column("duplicate").to_numpy(zero_copy_only=False)
    return pa.array(cluster, pa.string()), pa.array(size, pa.int32()), removed


def assignments_dir(scratch: str) -> str:
    return storage.join(scratch, "assignments")


def write_partition(task: ShuffleWrite, reason: str, signature_path: str) -> int:
    """Kept rows to the node's folder, removed ones to its rejected folder as `reason` with the survivor's id, then
    the partition's commit record (last); `signature_path`: the partition's signatures to store as the `minhash`
    column, or "". Returns the partition's document count."""
    stage = task.operation.name
    table = read_table(task.input_path)
    assignments = read_table(assignment_path(assignments_dir(task.scratch), task.index))
    cluster, size, removed = cluster_columns(table.column("id"), assignments)
    for field, column in zip(CLUSTER_FIELDS, (cluster, size)):
        if field.name in table.column_names:
            table = table.drop_columns([field.name])
        table = table.append_column(field, column)
    if signature_path:
        signatures = load_array(signature_path)
        flat = pa.array(signatures.reshape(-1), pa.from_numpy_dtype(signatures.dtype))
        if "minhash" in table.column_names:
            table = table.drop_columns(["minhash"])
        table = table.append_column("minhash", pa.FixedSizeListArray.from_arrays(flat, signatures.shape[1]))
    kept = table.filter(pa.array(~removed))
    dropped = table.filter(pa.array(removed))
    details = [Reject(reason, f"duplicate of {c}") for c in dropped.column("dup_cluster").to_pylist()]
    rejected = rejected_rows(dropped, stage, details)
    stats = StageStats(stage, docs_in=table.num_rows, kept=kept.num_rows)
    if dropped.num_rows:
        stats.rejected[reason] = dropped.num_rows
    task.write(kept, rejected, stats)
    return table.num_rows
