"""The base of the operations that group documents by key across the whole corpus (exact_dedup, minhash_dedup,
repeated_lines): one run skeleton, so that each says only what it maps, reduces and writes.

Phases, each a task per item on the node's executor, each skipped on a rerun by the same rule:
- map (an input partition): key records into the partition's one shuffle file (files.write_ranges); done when that
  file is `written`;
- reduce (a key range): the range's records from every map file (files.read_key_range), grouped, to the task's
  `reduced_path`; done when that file is `written`;
- after the reduce, on the driver: what needs every range at once (dedup resolves its duplicate groups), committed
  by the operation itself; nothing for repeated_lines;
- write (an input partition, a PartitionWrite): the partition again as kept and rejected rows, then its commit
  record; done when the record commits the partition's fingerprint.

The three phases run as module-level functions of the operation's module (`phases`): their names are the phase
names a user sees in the progress bars, in Ray's task list and in the log ("deduped: map_keys: 3 of 10 tasks").
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from curate import storage
from curate.cpu import driver_cpu
from curate.ops.base import Operation, OperationContext, PartitionWrite, written
from curate.ops.shuffle.files import map_file, ranges_for
from curate.stats import NodeReport, StageStats
from curate.tables import parquet_rows, scratch_file


def reduced_dir(scratch: str) -> str:
    """The reduce tasks' outputs, one file per key range."""
    return storage.join(scratch, "reduced")


@dataclass(frozen=True)
class ShuffleTask:
    """A map task (an input partition) or a reduce task (a key range) of a shuffle operation."""

    operation: ShuffleOperation
    index: int  # the input partition's position, or the key range
    scratch: str
    ranges: int  # key ranges, i.e. reduce tasks
    partitions: int  # input partitions, i.e. map tasks
    input_path: str = ""  # map tasks

    def __str__(self) -> str:
        return storage.basename(self.input_path) if self.input_path else f"key range {self.index}"

    @property
    def shuffle_dir(self) -> str:
        """The map files: one per input partition, read by every reduce task."""
        return storage.join(self.scratch, "shuffle")

    @property
    def map_output(self) -> str:
        """The map task's one shuffle file, written last: its presence means the task is done."""
        return map_file(self.shuffle_dir, self.index)

    @property
    def reduced_dir(self) -> str:
        return reduced_dir(self.scratch)

    @property
    def reduced_path(self) -> str:
        """The reduce task's one output file."""
        return scratch_file(self.reduced_dir, self.index)


@dataclass(frozen=True)
class ShuffleWrite(PartitionWrite):
    """A write task of a shuffle operation: output partition `key` from the input partition at position `index`."""

    operation: ShuffleOperation
    index: int
    scratch: str
    ranges: int

    @property
    def reduced_dir(self) -> str:
        return reduced_dir(self.scratch)


class ShufflePhases(NamedTuple):
    """The functions an executor runs for each phase (module-level, so that a worker process can import them)."""

    map: Callable[[ShuffleTask], int]  # returns the documents read
    reduce: Callable[[ShuffleTask], int]  # returns the records read
    write: Callable[[ShuffleWrite], int]  # returns the documents read


@dataclass
class ShuffleOperation(Operation):
    """Map -> reduce -> (driver work) -> write over the node `input`; subclasses give the phases and what a
    document contributes to the shuffle."""

    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}
    produces_documents: ClassVar[bool] = True
    decides_beyond_document: ClassVar[bool] = True
    phases: ClassVar[ShufflePhases]

    input: str
    # Key ranges, i.e. reduce tasks. By default sized by the records to shuffle (files.ranges_for), so that a reduce
    # task holds a bounded number of keys however large the corpus and however it is cut into partitions.
    shuffle_ranges: int | None = None

    def __post_init__(self) -> None:
        if self.shuffle_ranges is not None and self.shuffle_ranges < 1:
            raise ValueError(f"shuffle_ranges must be a positive integer, got {self.shuffle_ranges}")

    @abstractmethod
    def records_per_document(self) -> int:
        """About how many shuffle records a document makes: sizes the key ranges."""

    @abstractmethod
    def summary(self, stage: StageStats, docs_out: int) -> str:
        """The node's one log line once every partition is written."""

    def after_reduce(self, scratch: str, inputs: list[str], context: OperationContext) -> None:
        """Driver work between the reduce and the write phases; it commits what it writes itself, so that a rerun
        skips it."""

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        refs = context.refs(self.input)
        inputs = [ref.path for ref in refs]
        scratch = context.scratch(self.name)
        ranges = self.shuffle_ranges or ranges_for(self.records_per_document()
                                                   * sum(parquet_rows(path) for path in inputs))
        maps = [ShuffleTask(self, i, scratch, ranges, len(inputs), path) for i, path in enumerate(inputs)]
        context.map(self.phases.map, maps, lambda t: written(t.map_output))
        reduces = [ShuffleTask(self, j, scratch, ranges, len(inputs)) for j in range(ranges)]
        context.map(self.phases.reduce, reduces, lambda t: written(t.reduced_path))
        self.after_reduce(scratch, inputs, context)
        writes = [ShuffleWrite(ref.path, context.layout, ref.key, context.output_fingerprints[i], self, i, scratch,
                               ranges) for i, ref in enumerate(refs)]
        computed = context.write_partitions(self.phases.write, writes)
        report = context.written_report(writes, self.name, started, cpu_started, computed)
        context.log(f"node {context.node}: {self.summary(report.stages[0], report.docs_out)}")
        return report
