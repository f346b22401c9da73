"""Running one partition of a map node: read it, push each batch through the fused steps, write the outputs.

This is the function every executor runs, in-process, in a process pool or as a Ray task, so it takes and returns
plain data. Outputs are written under temporary names and renamed into place, the stats file last: a partition whose
stats file exists is complete, whatever killed the run before or after it (../shared/DESIGN.md, principle 2).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.stages.base import Reader, StageResult, conform
from curate.stats import StageStats, StageTimer

if TYPE_CHECKING:
    from curate.config import NodeSpec

PARQUET_COMPRESSION = "zstd"
# Arrow, pandas and polars skip "_"-prefixed folders when reading a node's folder, so rejected rows never mix
# into `pq.read_table("out/node")`.
REJECTED_DIR = "_rejected"


def part_name(index: int) -> str:
    """Example: part_name(7) -> 'part-00007'."""
    return f"part-{index:05d}"


@dataclass(frozen=True)
class PartitionTask:
    """Everything a worker needs to compute one partition; plain data, so that it pickles to any executor."""

    node: NodeSpec
    index: int
    input_path: str
    input_signature: dict[str, Any]
    out_dir: str
    config_hash: str

    @property
    def data_path(self) -> str:
        return os.path.join(self.out_dir, part_name(self.index) + ".parquet")

    @property
    def rejected_path(self) -> str:
        return os.path.join(self.out_dir, REJECTED_DIR, part_name(self.index) + ".parquet")

    @property
    def stats_path(self) -> str:
        return os.path.join(self.out_dir, "_stats", part_name(self.index) + ".json")


class NodeInputReader(Reader):
    """Reads a partition written by an upstream node (Parquet), batch by batch."""

    name: ClassVar[str] = "read"
    schema: ClassVar[pa.Schema] = pa.schema([])

    def __init__(self, path: str) -> None:
        self.file = pq.ParquetFile(path)
        self.schema = self.file.schema_arrow  # type: ignore[misc]

    def read(self, path: str, stats: StageStats, batch_docs: int) -> Iterator[StageResult]:
        empty_rejected = self.rejected_schema().empty_table()
        for batch in self.file.iter_batches(batch_size=batch_docs):
            stats.docs_in += batch.num_rows
            stats.kept += batch.num_rows
            yield StageResult(pa.Table.from_batches([batch], schema=self.schema), empty_rejected)


def read_columns(path: str, columns: list[str]) -> pa.Table:
    """The named columns of a node's partition file; a ValueError naming the missing ones (e.g. a node read for its
    text that has no extract step) instead of Arrow's schema dump."""
    available = pq.read_schema(path).names
    missing = [c for c in columns if c not in available]
    if missing:
        raise ValueError(f"{os.path.basename(path)} has no column {', '.join(map(repr, missing))} (it has "
                         f"{', '.join(available)}); does the node it comes from extract text?")
    return pq.read_table(path, columns=columns)


def read_text(path: str) -> str | None:
    """The contents of a small text file (a marker or stamp), or None when it is missing."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or not valid JSON (e.g. cut short by a kill)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_json_atomic(path: str, data: Any) -> None:
    """Write `data` as JSON to `path` through a temporary file and a rename, so readers never see half a file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def write_parquet_atomic(table: pa.Table, path: str) -> None:
    """Write `table` to `path` (zstd) under a temporary name, then rename it into place: readers and resumed runs
    never see half a file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    pq.write_table(table, path + ".tmp", compression=PARQUET_COMPRESSION)
    os.replace(path + ".tmp", path)


def save_array_atomic(path: str, array: np.ndarray) -> None:
    """`np.save` through a temporary name and a rename, like write_parquet_atomic."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.save(path + ".tmp.npy", array)
    os.replace(path + ".tmp.npy", path)


def write_operation_partition(out_dir: str, index: int, input_path: str, config_hash: str, kept: pa.Table,
                              rejected: pa.Table, stats: StageStats) -> None:
    """Write partition `index` of an operation node that outputs documents (dsir, dedup) as a map node's: kept rows,
    rejected rows, then the stats record, last, so that its presence means the partition is complete."""
    name = part_name(index) + ".parquet"
    write_parquet_atomic(kept, os.path.join(out_dir, name))
    write_parquet_atomic(rejected, os.path.join(out_dir, REJECTED_DIR, name))
    write_json_atomic(os.path.join(out_dir, "_stats", part_name(index) + ".json"), {
        "node": os.path.basename(out_dir), "partition": index, "config_hash": config_hash,
        "input": {"path": input_path}, "stages": [stats.to_json()], "docs_out": kept.num_rows,
        "rejected_out": rejected.num_rows, "wall_s": round(stats.wall_s, 4)})


def run_partition(task: PartitionTask) -> dict[str, Any]:
    """Compute one partition and return its stats record (also written to `task.stats_path`)."""
    started = time.perf_counter()
    node = task.node
    reader = NodeInputReader(task.input_path) if node.input.node else node.input.build_reader()
    stages = [step.build() for step in node.steps]
    stats = [StageStats(reader.name)] + [StageStats(stage.name) for stage in stages]

    schema = reader.schema
    rejected_schemas = [reader.rejected_schema()]
    for stage in stages:
        rejected_schemas.append(stage.rejected_schema(schema))
        schema = stage.output_schema(schema)
    rejected_schema = pa.unify_schemas(rejected_schemas)

    for path in (task.data_path, task.rejected_path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp_data, tmp_rejected = f"{task.data_path}.tmp", f"{task.rejected_path}.tmp"
    docs_out = rejected_out = 0
    with (
        pq.ParquetWriter(tmp_data, schema, compression=PARQUET_COMPRESSION) as kept_writer,
        pq.ParquetWriter(tmp_rejected, rejected_schema, compression=PARQUET_COMPRESSION) as rejected_writer,
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
                table = result.kept
            if table.num_rows:
                kept_writer.write_table(conform(table, schema))
                docs_out += table.num_rows
            rejected = pa.concat_tables([conform(part, rejected_schema) for part in rejected_parts])
            if rejected.num_rows:
                rejected_writer.write_table(rejected)
                rejected_out += rejected.num_rows
    os.replace(tmp_data, task.data_path)
    os.replace(tmp_rejected, task.rejected_path)

    wall = time.perf_counter() - started
    stats[0].wall_s = wall - sum(s.wall_s for s in stats[1:])  # the reader's share: what the steps did not use
    record = {
        "node": node.name,
        "partition": task.index,
        "config_hash": task.config_hash,
        "input": task.input_signature,
        "stages": [s.to_json() for s in stats],
        "docs_out": docs_out,
        "rejected_out": rejected_out,
        "wall_s": round(wall, 4),
    }
    write_json_atomic(task.stats_path, record)
    return record
