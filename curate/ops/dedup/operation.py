"""The shape both dedup nodes share, on the shuffle operations' skeleton (curate/ops/shuffle/operation.py): map
(keys of each partition into key-range files) -> reduce (one key range each: groups of equal keys) -> resolve (in the
driver, from the groups alone: who survives) -> write (each partition again, duplicates to `_rejected/`).

Every phase writes files and skips the ones that exist (the resolution commits its files with a record, like any
unit, see curate/commit.py), so a killed run resumes inside any phase; the scratch files are deleted once the node
commits. Memory is bounded by a partition (map, write), a key range (reduce),
or the duplicate groups (resolve), never by the corpus.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate import storage, timeline
from curate.commit import check_commit, commit
from curate.ops.base import OperationContext
from curate.ops.dedup.output import assignment_path, assignments_dir, route_assignments, write_partition
from curate.ops.shuffle.operation import ShuffleOperation, ShufflePhases, ShuffleTask, ShuffleWrite, reduced_dir
from curate.stats import StageStats
from curate.tables import read_table

RESOLVED = "_RESOLVED.json"  # the commit record of the resolution's assignment files


def map_keys(task: ShuffleTask) -> int:
    assert isinstance(task.operation, Deduplication)
    return task.operation.map_partition(task)


def reduce_keys(task: ShuffleTask) -> int:
    assert isinstance(task.operation, Deduplication)
    return task.operation.reduce_range(task)


def write_deduplicated(task: ShuffleWrite) -> int:
    operation = task.operation
    assert isinstance(operation, Deduplication)
    return write_partition(task, operation.reason, operation.signature_path(task.scratch, task.index))


@dataclass
class Deduplication(ShuffleOperation):
    """Base of `exact_dedup` and `minhash_dedup`: subclasses say how keys are made, grouped and resolved."""

    phases: ClassVar[ShufflePhases] = ShufflePhases(map_keys, reduce_keys, write_deduplicated)
    reason: ClassVar[str]  # the reject reason of a removed duplicate

    @abstractmethod
    def map_partition(self, task: ShuffleTask) -> int:
        """Write the partition's key records with `write_ranges`; return its document count."""

    @abstractmethod
    def reduce_range(self, task: ShuffleTask) -> int:
        """Group one key range and write `task.reduced_path`; return the records read."""

    @abstractmethod
    def resolve(self, scratch: str, inputs: list[str], context: OperationContext) -> pa.Table:
        """The assignment rows (ASSIGNMENT_SCHEMA) of every document in a duplicate group."""

    def records_per_document(self) -> int:
        """Shuffle records a document makes (MinHash: one per band)."""
        return 1

    def signature_path(self, scratch: str, index: int) -> str:
        """A partition's signatures to store as a column, or "" (exact dedup has none)."""
        return ""

    def after_reduce(self, scratch: str, inputs: list[str], context: OperationContext) -> None:
        """Resolve the groups once, into one assignment file per input partition, committed by RESOLVED."""
        folder = assignments_dir(scratch)
        resolved = storage.join(folder, RESOLVED)
        if check_commit(resolved, folder, context.fingerprint)[0] is not None:
            return
        with timeline.driver_work(f"{context.node}:resolve"):
            assignments = self.resolve(scratch, inputs, context)
        route_assignments(assignments, len(inputs), folder)
        commit(resolved, folder, context.fingerprint,
               [storage.basename(assignment_path(folder, i)) for i in range(len(inputs))],
               assigned=assignments.num_rows)

    def summary(self, stage: StageStats, docs_out: int) -> str:
        return f"kept {docs_out} of {stage.docs_in} documents ({stage.docs_in - docs_out} {self.reason})"


def read_reduced(scratch: str, schema: pa.Schema) -> pa.Table:
    """Every reduce task's output, in key-range order."""
    folder = reduced_dir(scratch)
    paths = [storage.join(folder, name) for name in storage.list_files(folder) if name.startswith("part-")]
    return pa.concat_tables([read_table(p).cast(schema) for p in paths]) if paths else schema.empty_table()
