"""The `repeated_lines` node: lines (or paragraphs) that occur in more than `max_documents` documents of the whole
corpus are boilerplate (cookie notices, navigation, "Share this article") and are removed from every document that
has them.

CCNet (Wenzek et al. 2019, arXiv:1911.00359, section 3.1) hashes every normalised line of its shards and removes the
lines seen more than once, before language identification; dolma removes repeated paragraphs with a Bloom filter
(Soldaini et al. 2024, arXiv:2402.00159). Here the count is exact and corpus-wide, and the decision does not depend on
the order of the documents or on how the corpus is partitioned. The default, `max_documents: 1`, is CCNet's rule (a
line two documents share is a duplicate); CCNet applies it within shards of about 5 GB, so on a whole crawl a larger
value removes only what is really boilerplate.

With `unit: sentence` a unit is a run of `span` consecutive sentences (3: datatrove's SentenceDedup, after C4's
three-sentence span dedup), and every sentence of a repeated run is removed; unlike datatrove, which keeps a run's
first occurrence, every document that holds it loses it, so the output does not depend on document order.

A unit is normalised as CCNet does before hashing: lower-cased, digits replaced by 0, punctuation removed, whitespace
collapsed; units that normalise to nothing (a line of dashes) are left alone. Phases, on the executor like the dedup
nodes' (the skeleton of curate/ops/shuffle/operation.py), each resumable from its scratch files:
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

from curate.ops.shuffle.files import doc_numbers, group_bounds, read_key_range, split_doc_numbers, write_ranges
from curate.ops.shuffle.operation import ShuffleOperation, ShufflePhases, ShuffleTask, ShuffleWrite
from curate.ops.base import edited_partition
from curate.stages.base import Reject
from curate.stats import StageStats
from curate.tables import read_table

PUNCTUATION = re.compile(r"[^\w\s]|_")
DIGIT = re.compile(r"\d")
# A sentence ends at . ! ? or an ellipsis (with closing quotes or brackets) before spaces, at a CJK full stop, or at
# a line break.
SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+\s*|\n+")
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


def sentences(text: str) -> list[str]:
    """A text cut after each sentence end (and at line breaks), each piece with the spaces after it, so that the
    pieces joined give the text back. Example: sentences("It rains. Yes!\nOk") -> ["It rains. ", "Yes!\n", "Ok"]"""
    ends = [match.end() for match in SENTENCE_END.finditer(text)]
    return [text[start:end] for start, end in zip([0, *ends], [*ends, len(text)]) if end > start]


def document_units(text: str, unit: str, span: int) -> tuple[list[str], str, list[tuple[int, range]]]:
    """A document cut into pieces (joined by the separator returned they give the text back) and its units, each
    as its key and the pieces it covers. A line or a paragraph is a unit of one piece; with `unit: sentence` a unit
    is `span` consecutive sentences (datatrove's SentenceDedup), so a document of fewer sentences has none. A unit
    that normalises to nothing (a line of dashes) has no key and is never removed."""
    if unit == "sentence":
        pieces, separator = sentences(text), ""
        windows = [range(first, first + span) for first in range(len(pieces) - span + 1)]
    else:
        separator = "\n\n" if unit == "paragraph" else "\n"
        pieces = text.split(separator)
        windows = [range(index, index + 1) for index in range(len(pieces))]
    units = []
    for window in windows:
        normal = normalise("".join(pieces[window.start : window.stop]))
        if normal:
            units.append((unit_key(normal), window))
    return pieces, separator, units


def document_keys(text: str, unit: str, span: int) -> list[int]:
    """The distinct keys of a document's units (a unit repeated inside one document counts once)."""
    return sorted({key for key, _ in document_units(text, unit, span)[2]})


def lines_operation(task: ShuffleTask | ShuffleWrite) -> RepeatedLines:
    assert isinstance(task.operation, RepeatedLines)
    return task.operation


def map_units(task: ShuffleTask) -> int:
    """Map: (key, document) for every distinct unit of every document of the partition."""
    texts = read_table(task.input_path, ["text"]).column(0).to_pylist()
    operation = lines_operation(task)
    keys = [document_keys(text or "", operation.unit, operation.span) for text in texts]
    docs = np.repeat(doc_numbers(task.index, len(texts)), [len(k) for k in keys])
    flat = np.fromiter((k for doc in keys for k in doc), dtype=np.uint64, count=len(docs))
    records = pa.table({"key": pa.array(flat, pa.uint64()), "doc": pa.array(docs, pa.uint64())}, schema=KEY_SCHEMA)
    write_ranges(records, (flat % np.uint64(task.ranges)).astype(np.int64), task.ranges, task.shuffle_dir,
                 task.index)
    return len(texts)


def reduce_units(task: ShuffleTask) -> int:
    """Reduce: the (key, document) records of the keys held by more than max_documents documents, shuffled again by
    the documents' partitions."""
    records = read_key_range(task.shuffle_dir, task.index, task.partitions)
    if records.num_rows == 0:
        records = KEY_SCHEMA.empty_table()
    records = records.sort_by([("key", "ascending"), ("doc", "ascending")])
    bounds = group_bounds(records.column("key"))
    sizes = np.diff(bounds)
    repeated = np.repeat(sizes > lines_operation(task).max_documents, sizes)
    chosen = records.filter(pa.array(repeated))
    partition_of, _ = split_doc_numbers(chosen.column("doc").to_numpy())
    write_ranges(chosen, partition_of, task.partitions, task.reduced_dir, task.index)
    return records.num_rows


def write_partition(task: ShuffleWrite) -> int:
    """Write: each document of the partition without its repeated units; returns the documents read."""
    started = time.perf_counter()
    table = read_table(task.input_path)
    removals = read_key_range(task.reduced_dir, task.index, task.ranges)
    by_row: dict[int, set[int]] = {}
    if removals.num_rows:
        _, rows = split_doc_numbers(removals.column("doc").to_numpy())
        for row, key in zip(rows.tolist(), removals.column("key").to_numpy().tolist()):
            by_row.setdefault(row, set()).add(key)
    texts = table.column("text").to_pylist()
    removed_counts = np.zeros(len(texts), dtype=np.int32)
    removed_lines: Counter[str] = Counter()
    emptied = np.zeros(len(texts), dtype=bool)
    operation = lines_operation(task)
    unit = operation.unit
    for row, keys in by_row.items():
        pieces, separator, units = document_units(texts[row] or "", unit, operation.span)
        removed = sorted({piece for key, window in units if key in keys for piece in window})
        removed_counts[row] = len(removed)
        removed_lines.update(pieces[piece].strip()[:TOP_REMOVED_CHARS] for piece in removed)
        gone = set(removed)
        texts[row] = separator.join(p for index, p in enumerate(pieces) if index not in gone).strip()
        emptied[row] = not texts[row]
    reason = Reject("all_lines_repeated", f"every {unit} occurs in more than {operation.max_documents} documents")
    kept, rejected, stats = edited_partition(table, texts, REMOVED_COLUMN, removed_counts, emptied, RepeatedLines.name,
                                             reason, started)
    stats.events[f"{unit}s_removed"] = int(removed_counts.sum())
    stats.events["documents_changed"] = len(by_row)
    top = [[line, count] for line, count in sorted(removed_lines.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REMOVED]]
    task.write(kept, rejected, stats, {"top_removed": top})
    return table.num_rows


@dataclass
class RepeatedLines(ShuffleOperation):
    """Remove from node `input` every line (`unit: paragraph`: blank-line separated block) that occurs in more than
    `max_documents` documents."""

    name: ClassVar[str] = "repeated_lines"
    phases: ClassVar[ShufflePhases] = ShufflePhases(map_units, reduce_units, write_partition)

    unit: Literal["line", "paragraph", "sentence"] = "line"
    max_documents: int = 1  # CCNet: a line seen twice is a duplicate (see the module docstring)
    # `unit: sentence`: sentences per unit. 3 is datatrove's SentenceDedup default (n_sentences), after C4's
    # three-sentence span dedup (Raffel et al. 2020, section 2.2).
    span: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.unit not in ("line", "paragraph", "sentence"):
            raise ValueError(f"unit must be 'line', 'paragraph' or 'sentence', got {self.unit!r}")
        if self.max_documents < 1:
            raise ValueError("max_documents must be at least 1")
        if self.span < 1:
            raise ValueError(f"span must be a positive number of sentences, got {self.span}")

    def records_per_document(self) -> int:
        return 30  # about 30 distinct lines a web document (CCNet's WET pages): a bound for sizing the key ranges

    def summary(self, stage: StageStats, docs_out: int) -> str:
        return (f"removed {stage.events[f'{self.unit}s_removed']} repeated {self.unit}s from "
                f"{stage.events['documents_changed']} documents; {stage.docs_in - docs_out} left empty")
