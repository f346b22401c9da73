"""Running one partition of a map node: read it, push each batch through the fused steps, write the outputs.

This is the function every executor runs, in-process, in a process pool or as a Ray task, so it takes and returns
plain data. Outputs are written under temporary names unique to the attempt and renamed into place (kept rows in the
node's folder, rejected rows under `_rejected/`: curate/layout.py); the stats, written last through `commit.commit`,
are the partition's commit record: they hold the partition's fingerprint and the size and checksum of both files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from curate import storage
from curate.commit import check_committed_file
from curate.cpu import peak_rss_mib
from curate.errors import RunError
from curate.layout import NodeLayout
from curate.partition_output import commit_partition
from curate.sketch import SummaryBuilder
from curate.stages.base import FAILED_PREFIX, Reader, StageResult, conform
from curate.stats import StageStats, StageTimer
from curate.tables import PARQUET_COMPRESSION

if TYPE_CHECKING:
    from curate.config import NodeSpec

# A partition fails (rather than committing rows that are all `error:...`) when at least this many documents
# entered a step and every one failed with the same exception: a missing model, a bug, not bad input.
ALL_FAILED_MIN_DOCS = 2


@dataclass(frozen=True)
class PartitionTask:
    """Everything a worker needs to compute one partition; plain data, so that it pickles to any executor."""

    node: NodeSpec
    key: str  # the output name, from the input's identity (commit.partition_key)
    input_path: str
    input_label: str  # how the user names the input (a path relative to the pipeline file), for messages
    fingerprint: str
    layout: NodeLayout

    def __str__(self) -> str:
        return self.input_label

    @property
    def data_path(self) -> str:
        return self.layout.partition_files(self.key)[0]

    @property
    def rejected_path(self) -> str:
        return self.layout.partition_files(self.key)[1]


class NodeInputReader(Reader):
    """Reads a partition written by an upstream node (Parquet), batch by batch."""

    name: ClassVar[str] = "read"
    schema: ClassVar[pa.Schema] = pa.schema([])

    def __init__(self, path: str) -> None:
        self.file = pq.ParquetFile(storage.open_input(path))
        self.schema = self.file.schema_arrow  # type: ignore[misc]

    def read(self, path: str, stats: StageStats, batch_docs: int) -> Iterator[StageResult]:
        empty_rejected = self.rejected_schema().empty_table()
        for batch in self.file.iter_batches(batch_size=batch_docs):
            stats.docs_in += batch.num_rows
            stats.kept += batch.num_rows
            yield StageResult(pa.Table.from_batches([batch], schema=self.schema), empty_rejected)


def _all_failed(stats: StageStats, first_error: dict[str, str]) -> str | None:
    """The one-line cause when every document that entered a step failed with the same exception, else None."""
    if stats.docs_in < ALL_FAILED_MIN_DOCS or len(stats.failed) != 1 or sum(stats.failed.values()) != stats.docs_in:
        return None
    (reason,) = stats.failed
    return f"step {stats.stage!r}: all {stats.docs_in} documents failed with {reason[len(FAILED_PREFIX):]}: " \
           f"{first_error.get(stats.stage, '')}"


def run_partition(task: PartitionTask) -> dict[str, Any]:
    """Compute one partition and return its stats record (also written as its commit record)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    retries_before = storage.RETRIES["storage_retry"]
    node = task.node
    assert node.input is not None  # a map node (config.py checks)
    if node.input.node:
        damage = check_committed_file(NodeLayout(task.layout.workdir, node.input.node).partition_files(task.key)[2],
                                      task.layout.workdir, task.input_path)
        if damage:
            raise RunError(f"input of node {node.name!r}: {damage}")
    reader = NodeInputReader(task.input_path) if node.input.node else node.input.build_reader()
    stages = [step.build() for step in node.steps]
    stats = [StageStats(reader.name)] + [StageStats(stage.name) for stage in stages]

    schema = reader.schema
    rejected_schemas = [reader.rejected_schema()]
    for stage in stages:
        rejected_schemas.append(stage.rejected_schema(schema))
        schema = stage.output_schema(schema)
    rejected_schema = pa.unify_schemas(rejected_schemas)

    docs_out = rejected_out = 0
    summary = SummaryBuilder()  # what `curate inspect` reads instead of the data (curate/sketch.py)
    first_error: dict[str, str] = {}  # step -> the first failed document's message, for a failing partition
    with (
        storage.atomic_output(task.data_path) as kept_sink,
        storage.atomic_output(task.rejected_path) as rejected_sink,
        pq.ParquetWriter(kept_sink, schema, compression=PARQUET_COMPRESSION) as kept_writer,
        pq.ParquetWriter(rejected_sink, rejected_schema, compression=PARQUET_COMPRESSION) as rejected_writer,
    ):
        for result in reader.read(task.input_path, stats[0], node.batch_docs):
            rejected_parts = [result.rejected]
            table = result.kept
            for stage, stage_stats in zip(stages, stats[1:]):
                if table.num_rows == 0:
                    break
                with StageTimer(stage_stats):
                    result = stage.process(table, stage_stats)
                rejected_parts.append(result.rejected)
                if stage.name not in first_error and stage_stats.failed:
                    reasons = result.rejected.column("reject_reason").to_pylist()
                    row = next(i for i, r in enumerate(reasons) if r.startswith(FAILED_PREFIX))
                    first_error[stage.name] = result.rejected.column("reject_detail")[row].as_py()
                table = result.kept
            kept = conform(table, schema)
            if kept.num_rows:
                kept_writer.write_table(kept)
                docs_out += kept.num_rows
            rejected = pa.concat_tables([conform(part, rejected_schema) for part in rejected_parts])
            if rejected.num_rows:
                rejected_writer.write_table(rejected)
                rejected_out += rejected.num_rows
            summary.add(kept, rejected)
        cause = next((c for c in (_all_failed(s, first_error) for s in stats[1:]) if c), None)
        if cause:  # raised inside the block: neither file appears
            raise RunError(cause)

    wall = time.perf_counter() - started
    # The reader's row carries the partition's time the steps did not use: reading, decoding, writing, summarising.
    stats[0].wall_s = wall - sum(s.wall_s for s in stats[1:])
    stats[0].cpu_s = max(0.0, time.process_time() - cpu_started - sum(s.cpu_s for s in stats[1:]))
    if storage.RETRIES["storage_retry"] > retries_before:  # transient storage errors met, and overcome, on the way
        stats[0].events["storage_retry"] += storage.RETRIES["storage_retry"] - retries_before
    return commit_partition(task.layout, task.key, task.fingerprint, {
        "node": node.name,
        "partition": task.key,
        "input": task.input_label,
        "stages": [s.to_json() for s in stats],
        "docs_out": docs_out,
        "rejected_out": rejected_out,
        "wall_s": round(wall, 4),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "summary": summary.to_json(),
    })
