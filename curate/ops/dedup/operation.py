"""The shape both dedup nodes share: map (keys of each partition into key-range files) -> reduce (one key range
each: groups of equal keys) -> resolve (in the driver, from the groups alone: who survives) -> write (each partition
again, duplicates to `_rejected/`).

Every phase writes files and skips the ones that exist (the resolution commits its files with a record, like any
unit, see curate/commit.py), so a killed run resumes inside any phase; the scratch files are deleted once the node
commits. Memory is bounded by a partition (map, write), a key range (reduce),
or the duplicate groups (resolve), never by the corpus.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate import storage, timeline
from curate.commit import check_commit, commit
from curate.cpu import driver_cpu
from curate.ops.dedup.output import (
    DedupWriteTask,
    assignment_path,
    route_assignments,
    write_deduplicated,
)
from curate.ops.dedup.shuffle import map_file, ranges_for
from curate.ops.base import Operation, OperationContext, merged_partitions, written
from curate.stats import NodeReport
from curate.tables import parquet_rows, read_table

RESOLVED = "_RESOLVED.json"  # the commit record of the resolution's assignment files


@dataclass(frozen=True)
class DedupTask:
    """One map task (a partition) or one reduce task (a key range) of a dedup node."""

    operation: Deduplication
    index: int
    scratch: str
    ranges: int  # key ranges (reduce tasks) of the shuffle
    partitions: int  # map tasks (input partitions)
    input_path: str = ""  # map tasks only

    def __str__(self) -> str:
        return storage.basename(self.input_path) if self.input_path else f"key range {self.index}"

    @property
    def shuffle_dir(self) -> str:
        return storage.join(self.scratch, "shuffle")

    @property
    def map_output(self) -> str:
        """The map task's one shuffle file, written last: its presence means the task is done."""
        return map_file(self.shuffle_dir, self.index)

    @property
    def reduced_path(self) -> str:
        return storage.join(self.scratch, "reduced", f"range-{self.index:04d}.parquet")


def map_keys(task: DedupTask) -> int:
    return task.operation.map_partition(task)


def reduce_keys(task: DedupTask) -> int:
    return task.operation.reduce_range(task)


@dataclass
class Deduplication(Operation):
    """Base of `exact_dedup` and `minhash_dedup`: subclasses say how keys are made, grouped and resolved."""

    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}
    produces_documents: ClassVar[bool] = True
    decides_beyond_document: ClassVar[bool] = True
    reason: ClassVar[str]  # the reject reason of a removed duplicate

    input: str
    # Key ranges, i.e. reduce tasks. By default sized by the records to shuffle (shuffle.ranges_for), so that a
    # reduce task holds a bounded number of keys however large the corpus and however it is cut into partitions.
    shuffle_ranges: int | None = None

    def __post_init__(self) -> None:
        if self.shuffle_ranges is not None and self.shuffle_ranges < 1:
            raise ValueError(f"shuffle_ranges must be a positive integer, got {self.shuffle_ranges}")

    @abstractmethod
    def map_partition(self, task: DedupTask) -> int:
        """Write the partition's key records with `write_ranges`; return its document count."""

    @abstractmethod
    def reduce_range(self, task: DedupTask) -> int:
        """Group one key range and write `task.reduced_path`; return the records read."""

    @abstractmethod
    def resolve(self, scratch: str, inputs: list[str], context: OperationContext) -> pa.Table:
        """The assignment rows (ASSIGNMENT_SCHEMA) of every document in a duplicate group."""

    def shuffle_records(self, inputs: list[str]) -> int:
        """An upper bound of the records the shuffle will carry, from the partitions' footers."""
        return self.records_per_document() * sum(parquet_rows(path) for path in inputs)

    def records_per_document(self) -> int:
        """Shuffle records a document makes (MinHash: one per band)."""
        return 1

    def signature_path(self, scratch: str, index: int) -> str:
        """A partition's signatures to store as a column, or "" (exact dedup has none)."""
        return ""

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        refs = context.refs(self.input)
        inputs = [ref.path for ref in refs]
        scratch = context.scratch(self.name)
        ranges = self.shuffle_ranges or ranges_for(self.shuffle_records(inputs))
        maps = [DedupTask(self, i, scratch, ranges, len(inputs), path) for i, path in enumerate(inputs)]
        context.map(map_keys, maps, lambda t: written(t.map_output))
        reduces = [DedupTask(self, j, scratch, ranges, len(inputs)) for j in range(ranges)]
        context.map(reduce_keys, reduces, lambda t: written(t.reduced_path))

        assignments_dir = storage.join(scratch, "assignments")
        resolved = storage.join(assignments_dir, RESOLVED)
        if check_commit(resolved, assignments_dir, context.fingerprint)[0] is None:
            with timeline.driver_work(f"{context.node}:resolve"):
                assignments = self.resolve(scratch, inputs, context)
            route_assignments(assignments, len(inputs), assignments_dir)
            commit(resolved, assignments_dir, context.fingerprint,
                   [storage.basename(assignment_path(assignments_dir, i)) for i in range(len(inputs))],
                   assigned=assignments.num_rows)
        writes = [DedupWriteTask(ref.path, assignment_path(assignments_dir, i), context.layout, ref.key,
                                 context.output_fingerprints[i], self.name, self.reason,
                                 self.signature_path(scratch, i)) for i, ref in enumerate(refs)]
        committed = context.map(write_deduplicated, writes,
                              lambda t: context.partition_committed(t.stats_path, t.fingerprint))

        stage, docs_out = merged_partitions([t.stats_path for t in writes], self.name, started, cpu_started)
        context.log(f"node {context.node}: kept {docs_out} of {stage.docs_in} documents "
                    f"({stage.docs_in - docs_out} {self.reason})")
        return NodeReport(context.node, len(inputs), committed, len(inputs) - committed, [stage], docs_out,
                          stage.docs_in - docs_out, stage.wall_s)


def read_reduced(scratch: str, schema: pa.Schema) -> pa.Table:
    """Every reduce task's output, in key-range order."""
    folder = storage.join(scratch, "reduced")
    paths = [storage.join(folder, name) for name in storage.list_files(folder) if name.startswith("range-")]
    return pa.concat_tables([read_table(p).cast(schema) for p in paths]) if paths else schema.empty_table()
