"""The `repeated_lines` node: lines (or paragraphs) that occur in more than `max_documents` documents of the whole
corpus are boilerplate (cookie notices, navigation, "Share this article") and are removed from every document that
has them.

CCNet (Wenzek et al. 2019, arXiv:1911.00359, section 3.1) hashes every normalised line of its shards and removes the
lines seen more than once, before language identification; dolma removes repeated paragraphs with a Bloom filter
(Soldaini et al. 2024, arXiv:2402.00159). Here the count is exact and corpus-wide, and the decision does not depend on
the order of the documents or on how the corpus is partitioned. The default, `max_documents: 1`, is CCNet's rule (a
line two documents share is a duplicate); CCNet applies it within shards of about 5 GB, so on a whole crawl a larger
value removes only what is really boilerplate.

A unit is normalised as CCNet does before hashing: lower-cased, digits replaced by 0, punctuation removed, whitespace
collapsed; units that normalise to nothing (a line of dashes) are left alone. Phases, on the executor like the dedup
nodes' (curate/ops/dedup/operation.py), each resumable from its scratch files:
- map (a partition): a 64-bit key per distinct unit of each document, into the key-range shuffle;
- reduce (a key range): keys in more than `max_documents` documents, and the documents holding them, written again
  shuffled by partition, so that no file and no memory holds more than a range or a partition;
- write (a partition): each document without its repeated units, `repeated_units_removed` as a signal; a document
  left empty is rejected as `all_lines_repeated`. Each partition's commit record keeps its most frequent removed
  lines, which `curate inspect` merges into the node's top removed lines.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from curate import storage
from curate.cpu import driver_cpu
from curate.ops.dedup.shuffle import (
    doc_numbers,
    group_bounds,
    ranges_for,
    read_key_range,
    split_doc_numbers,
    write_ranges,
)
from curate.layout import NodeLayout
from curate.ops.base import Operation, OperationContext, merged_partitions, written
from curate.partition_output import write_operation_partition
from curate.stages.base import Reject, rejected_rows
from curate.stats import NodeReport, StageStats
from curate.tables import parquet_rows, read_table, scratch_file

PUNCTUATION = re.compile(r"[^\w\s]|_")
DIGIT = re.compile(r"\d")
REMOVED_COLUMN = pa.field("repeated_units_removed", pa.int32())
TOP_REMOVED = 20  # removed lines a partition reports, with their counts
TOP_REMOVED_CHARS = 200
KEY_SCHEMA = pa.schema([pa.field("key", pa.uint64()), pa.field("doc", pa.uint64())])


def normalise(unit: str) -> str:
    """CCNet's normalisation for dedup. Example: normalise("Posted 12 May, 2023!") -> "posted 00 may 0000" """
    return " ".join(PUNCTUATION.sub(" ", DIGIT.sub("0", unit.lower())).split())


def unit_key(normal: str) -> int:
    """64 bits of BLAKE2b: a billion distinct lines collide with probability about 10^18 / 2^65, i.e. 3%, and a
    collision only merges two lines' counts."""
    return int.from_bytes(hashlib.blake2b(normal.encode(), digest_size=8).digest(), "little")


def split_units(text: str, unit: str) -> list[str]:
    return text.split("\n\n") if unit == "paragraph" else text.split("\n")


def document_keys(text: str, unit: str) -> list[int]:
    """The distinct keys of a document's units (a unit repeated inside one document counts once)."""
    return sorted({unit_key(n) for n in map(normalise, split_units(text, unit)) if n})


@dataclass(frozen=True)
class LinesTask:
    """One task of a repeated_lines node: a partition (map, write) or a key range (reduce)."""

    operation: RepeatedLines
    index: int
    scratch: str
    ranges: int
    partitions: int
    input_path: str = ""
    layout: NodeLayout | None = None
    key: str = ""  # write tasks: the output partition's name and fingerprint
    fingerprint: str = ""

    def __str__(self) -> str:
        return storage.basename(self.input_path) if self.input_path else f"key range {self.index}"

    @property
    def map_output(self) -> str:
        return scratch_file(storage.join(self.scratch, "shuffle"), self.index)

    @property
    def reduced_path(self) -> str:
        return scratch_file(storage.join(self.scratch, "repeated"), self.index)

    @property
    def record_path(self) -> str:
        assert self.layout is not None
        return self.layout.partition_files(self.key)[2]


def map_units(task: LinesTask) -> int:
    """Map: (key, document) for every distinct unit of every document of the partition."""
    texts = read_table(task.input_path, ["text"]).column(0).to_pylist()
    keys = [document_keys(text or "", task.operation.unit) for text in texts]
    docs = np.repeat(doc_numbers(task.index, len(texts)), [len(k) for k in keys])
    flat = np.fromiter((k for doc in keys for k in doc), dtype=np.uint64, count=len(docs))
    records = pa.table({"key": pa.array(flat, pa.uint64()), "doc": pa.array(docs, pa.uint64())}, schema=KEY_SCHEMA)
    write_ranges(records, (flat % np.uint64(task.ranges)).astype(np.int64), task.ranges,
                 storage.join(task.scratch, "shuffle"), task.index)
    return len(texts)


def reduce_units(task: LinesTask) -> int:
    """Reduce: the (key, document) records of the keys held by more than max_documents documents, shuffled again by
    the documents' partitions."""
    records = read_key_range(storage.join(task.scratch, "shuffle"), task.index, task.partitions)
    if records.num_rows == 0:
        records = KEY_SCHEMA.empty_table()
    records = records.sort_by([("key", "ascending"), ("doc", "ascending")])
    bounds = group_bounds(records.column("key"))
    sizes = np.diff(bounds)
    repeated = np.repeat(sizes > task.operation.max_documents, sizes)
    chosen = records.filter(pa.array(repeated))
    partition_of, _ = split_doc_numbers(chosen.column("doc").to_numpy())
    write_ranges(chosen, partition_of, task.partitions, storage.join(task.scratch, "repeated"), task.index)
    return records.num_rows


def write_partition(task: LinesTask) -> int:
    """Write: each document of the partition without its repeated units; returns the documents read."""
    started = time.perf_counter()
    assert task.layout is not None
    table = read_table(task.input_path)
    removals = read_key_range(storage.join(task.scratch, "repeated"), task.index, task.ranges)
    by_row: dict[int, set[int]] = {}
    if removals.num_rows:
        _, rows = split_doc_numbers(removals.column("doc").to_numpy())
        for row, key in zip(rows.tolist(), removals.column("key").to_numpy().tolist()):
            by_row.setdefault(row, set()).add(key)
    texts = table.column("text").to_pylist()
    removed_counts = np.zeros(len(texts), dtype=np.int32)
    removed_lines: Counter[str] = Counter()
    emptied = np.zeros(len(texts), dtype=bool)
    unit = task.operation.unit
    separator = "\n\n" if unit == "paragraph" else "\n"
    for row, keys in by_row.items():
        kept_units = []
        for piece in split_units(texts[row] or "", unit):
            normal = normalise(piece)
            if normal and unit_key(normal) in keys:
                removed_counts[row] += 1
                removed_lines[piece.strip()[:TOP_REMOVED_CHARS]] += 1
            else:
                kept_units.append(piece)
        texts[row] = separator.join(kept_units).strip()
        emptied[row] = not texts[row]
    index = table.schema.get_field_index("text")
    table = table.set_column(index, table.schema.field("text"), pa.array(texts, pa.string()))
    if REMOVED_COLUMN.name in table.column_names:
        table = table.drop_columns([REMOVED_COLUMN.name])
    table = table.append_column(REMOVED_COLUMN, pa.array(removed_counts, pa.int32()))
    kept, dropped = table.filter(pa.array(~emptied)), table.filter(pa.array(emptied))
    reason = Reject("all_lines_repeated", f"every {unit} occurs in more than {task.operation.max_documents} documents")
    rejected = rejected_rows(dropped, RepeatedLines.name, [reason] * dropped.num_rows)
    stats = StageStats(RepeatedLines.name, docs_in=table.num_rows, kept=kept.num_rows,
                       wall_s=time.perf_counter() - started)
    if dropped.num_rows:
        stats.rejected[reason.reason] = dropped.num_rows
    stats.events[f"{unit}s_removed"] = int(removed_counts.sum())
    stats.events["documents_changed"] = len(by_row)
    top = [[line, count] for line, count in sorted(removed_lines.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REMOVED]]
    write_operation_partition(task.layout, task.key, task.fingerprint, task.input_path, kept, rejected, stats,
                              {"top_removed": top})
    return table.num_rows


@dataclass
class RepeatedLines(Operation):
    """Remove from node `input` every line (`unit: paragraph`: blank-line separated block) that occurs in more than
    `max_documents` documents."""

    name: ClassVar[str] = "repeated_lines"
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}
    produces_documents: ClassVar[bool] = True
    decides_beyond_document: ClassVar[bool] = True

    input: str
    unit: Literal["line", "paragraph"] = "line"
    max_documents: int = 1  # CCNet: a line seen twice is a duplicate (see the module docstring)
    shuffle_ranges: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in ("line", "paragraph"):
            raise ValueError(f"unit must be 'line' or 'paragraph', got {self.unit!r}")
        if self.max_documents < 1:
            raise ValueError("max_documents must be at least 1")
        if self.shuffle_ranges is not None and self.shuffle_ranges < 1:
            raise ValueError("shuffle_ranges must be a positive integer")

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        refs = context.refs(self.input)
        inputs = [ref.path for ref in refs]
        scratch = context.scratch(self.name)
        # About 30 distinct lines a web document (CCNet's WET pages): a bound for sizing the shuffle's key ranges.
        ranges = self.shuffle_ranges or ranges_for(30 * sum(parquet_rows(path) for path in inputs))
        maps = [LinesTask(self, i, scratch, ranges, len(inputs), path) for i, path in enumerate(inputs)]
        context.map(map_units, maps, lambda t: written(t.map_output))
        reduces = [LinesTask(self, j, scratch, ranges, len(inputs)) for j in range(ranges)]
        context.map(reduce_units, reduces, lambda t: written(t.reduced_path))
        writes = [LinesTask(self, i, scratch, ranges, len(inputs), ref.path, context.layout, ref.key,
                            context.output_fingerprints[i]) for i, ref in enumerate(refs)]
        committed = context.map(write_partition, writes,
                              lambda t: context.partition_committed(t.record_path, t.fingerprint))

        stage, docs_out = merged_partitions([t.record_path for t in writes], self.name, started, cpu_started)
        context.log(f"node {context.node}: removed {stage.events[f'{self.unit}s_removed']} repeated {self.unit}s "
                    f"from {stage.events['documents_changed']} documents; {stage.docs_in - docs_out} left empty")
        return NodeReport(context.node, len(inputs), committed, len(inputs) - committed, [stage], docs_out,
                          stage.docs_in - docs_out, stage.wall_s)
