"""The `substring_dedup` node: exact-substring deduplication (Lee et al. 2022, "Deduplicating Training Data Makes
Language Models Better", arXiv:2107.06499, ExactSubstr): every stretch of text at least `min_bytes` long that occurs
more than once in the node's documents is struck from the text, the documents themselves staying.

Boilerplate that survives extraction and document-level dedup (a site's cookie notice, a syndicated paragraph, a
licence footer, a news wire's standard sign-off) repeats word for word across pages that are otherwise different,
so neither exact nor MinHash dedup removes it. Lee et al. found a 61-word sentence repeated over 60,000 times in C4,
and models trained on deduplicated data emitting memorised text ten times less often.

How: the documents' UTF-8 bytes, concatenated (one 0xFF byte, which UTF-8 never contains, between documents), get
a suffix array (libdivsufsort, through pydivsufsort) and its longest-common-prefix array (Kasai et al. 2001). Ranks
whose adjacent common prefixes are at least `min_bytes` long form blocks of suffixes that share their first
`min_bytes` bytes; a position whose window of `min_bytes` bytes lies inside its document and shares its block with
another such position starts a duplicated window. The union of those windows is struck, whole characters at a
time (a character with any byte in a window goes), in each document's text.

`keep_first: true` keeps each window's first occurrence (in partition and row order) and strikes the later ones,
so a repeated paragraph stays on its first page; the default strikes every copy, as Lee et al. recommend and their
released tool does ("completely striking them from the dataset": a span copied onto a thousand pages is boilerplate
on every one). `min_bytes: 100` is the threshold of OLM's Common Crawl pipeline over Lee et al.'s tool (in bytes;
the paper's 50 tokens are about 200 bytes of English).

Scale: the suffix array is built over all of the node's text at once, in the node's serial task (a task with the
node's `ray:` memory on a cluster), at 5-7 MB of text a second on one core and about 30 bytes of memory per byte of
text at its peak (libdivsufsort, then Kasai's arrays; 13 MB of the shared corpus's reference text: 1.95-2.56 s of
CPU in three rounds on a quiet machine, 384 MiB; 8-byte arrays past 2 GB). Lee et al. split larger corpora into shards they build separately and merge; past one
machine's memory, run this node per shard of the crawl, at the cost of repeats that span shards.

Every document leaves the node kept (with `substring_dup_chars`, the characters struck, 0 for most) or rejected
(`substring_duplicate`: nothing but whitespace was left).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from curate.cpu import driver_cpu
from curate.ops.base import Operation, OperationContext, PartitionWrite, edited_partition, written
from curate.stages.base import Reject
from curate.stats import NodeReport
from curate.tables import load_array, read_columns, read_table, save_array_atomic, scratch_file

SEPARATOR = b"\xff"  # never a byte of UTF-8 text
CHUNK = 1 << 24  # suffixes placed in their documents at a time
STRUCK_COLUMN = pa.field("substring_dup_chars", pa.int32())
TOP_STRUCK, TOP_STRUCK_CHARS = 20, 120


@dataclass(frozen=True)
class SpanJob:
    """The serial step: the input partitions, in order, and where each one's struck ranges go."""

    input_paths: list[str]
    span_paths: list[str]
    min_bytes: int
    keep_first: bool


def duplicated_bytes(data: np.ndarray, document_ends: np.ndarray, min_bytes: int, keep_first: bool) -> np.ndarray:
    """A mask over `data` (the documents' bytes, SEPARATOR after each; `document_ends`, ascending, the position of
    each document's separator): True where a byte lies in a window of `min_bytes` bytes inside its document that
    occurs again elsewhere.

    Example: documents "intro. the same closing words" and "the same closing words", min_bytes 10: the bytes of "the
    same closing words" are True in both (with keep_first, in the second only), those of "intro. " False."""
    from pydivsufsort import divsufsort, kasai  # type: ignore[import-untyped]

    if len(data) < 2 * min_bytes:
        return np.zeros(len(data), dtype=bool)
    suffixes = divsufsort(data)  # int32 below 2 GB of text, int64 above
    common = kasai(data, suffixes)  # common[r]: the prefix suffixes[r] and suffixes[r + 1] share
    block = np.zeros(len(data), dtype=suffixes.dtype)  # ranks sharing their first min_bytes bytes share a block
    np.cumsum(common[:-1] < min_bytes, out=block[1:])
    del common
    fits = np.empty(len(data), dtype=bool)  # the window lies inside its document; in chunks, to bound memory
    for start in range(0, len(data), CHUNK):
        chunk = suffixes[start : start + CHUNK]
        fits[start : start + CHUNK] = document_ends[np.searchsorted(document_ends, chunk)] - chunk >= min_bytes
    members = np.bincount(block[fits], minlength=int(block[-1]) + 1)
    starts = fits & (members >= 2)[block]
    del fits, members
    if keep_first and starts.any():
        first = np.full(int(block[-1]) + 1, len(data), dtype=np.int64)
        np.minimum.at(first, block[starts], suffixes[starts])
        starts &= suffixes != first[block]
    positions = suffixes[starts]
    del block, suffixes, starts
    edges = np.zeros(len(data) + 1, dtype=np.int32)
    np.add.at(edges, positions, 1)
    np.add.at(edges, positions + min_bytes, -1)
    return np.cumsum(edges[:-1], dtype=np.int32) > 0


def struck_ranges(text: str, byte_mask: np.ndarray) -> list[tuple[int, int]]:
    """The character ranges of `text` with a byte in `byte_mask` (its UTF-8 bytes' mask), merged.

    Example: struck_ranges("aé b", mask of bytes 1..2 (é)) -> [(1, 2)]"""
    if not byte_mask.any():
        return []
    encoded = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    character = np.cumsum((encoded & 0xC0) != 0x80) - 1  # a continuation byte belongs to the character before it
    hit = np.zeros(len(text), dtype=bool)
    hit[character[byte_mask]] = True
    changes = np.flatnonzero(np.diff(np.concatenate(([0], hit.astype(np.int8), [0]))))
    return [(int(start), int(end)) for start, end in zip(changes[::2], changes[1::2])]


def find_spans(job: SpanJob) -> dict[str, int]:
    """The serial step: the struck character ranges of every document, one .npy of (row, start, end) per input
    partition; returns the documents and bytes read and the bytes struck."""
    texts = [read_columns(path, ["text"]).column(0).to_pylist() for path in job.input_paths]
    pieces, ends, owners = [], [], []
    position = 0
    for partition, rows in enumerate(texts):
        for row, text in enumerate(rows):
            encoded = (text or "").encode("utf-8")
            pieces += [encoded, SEPARATOR]
            ends.append(position + len(encoded))
            owners.append((partition, row, position, position + len(encoded)))
            position += len(encoded) + 1
    data = np.frombuffer(b"".join(pieces), dtype=np.uint8).copy()  # writable: libdivsufsort reads it by pointer
    del pieces
    mask = duplicated_bytes(data, np.array(ends, dtype=np.int64), job.min_bytes, job.keep_first)
    spans: list[list[tuple[int, int, int]]] = [[] for _ in job.input_paths]
    for partition, row, start, end in owners:
        for first, last in struck_ranges(texts[partition][row] or "", mask[start:end]):
            spans[partition].append((row, first, last))
    for path, ranges in zip(job.span_paths, spans):
        save_array_atomic(path, np.array(ranges, dtype=np.int64).reshape(-1, 3))
    return {"documents": len(owners), "bytes": int(position - len(owners)), "struck_bytes": int(mask.sum())}


@dataclass(frozen=True)
class StrikeTask(PartitionWrite):
    span_path: str = ""
    min_bytes: int = 100


def write_partition(task: StrikeTask) -> int:
    """Write: each document of the partition without its struck ranges; returns the documents read."""
    started = time.perf_counter()
    table = read_table(task.input_path)
    texts = table.column("text").to_pylist()
    struck = np.zeros(len(texts), dtype=np.int32)
    top: Counter[str] = Counter()
    by_row: dict[int, list[tuple[int, int]]] = {}
    for row, start, end in load_array(task.span_path).tolist():
        by_row.setdefault(row, []).append((start, end))
    for row, ranges in by_row.items():
        text, kept, cursor = texts[row] or "", [], 0
        for start, end in ranges:
            kept.append(text[cursor:start])
            top[" ".join(text[start:end].split())[:TOP_STRUCK_CHARS]] += 1
            struck[row] += end - start
            cursor = end
        kept.append(text[cursor:])
        texts[row] = "".join(kept)
    emptied = np.array([not (text or "").strip() for text in texts], dtype=bool) & (struck > 0)
    reason = Reject("substring_duplicate", f"every stretch of {task.min_bytes} bytes or more occurs elsewhere")
    kept_rows, rejected, stats = edited_partition(table, texts, STRUCK_COLUMN, struck, emptied, SubstringDedup.name,
                                                  reason, started)
    stats.events["chars_struck"] = int(struck.sum())
    stats.events["documents_changed"] = len(by_row)
    removed = [[span, count] for span, count in sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_STRUCK]]
    task.write(kept_rows, rejected, stats, {"top_removed": removed})
    return table.num_rows


@dataclass
class SubstringDedup(Operation):
    """Strike from node `input`'s documents every stretch of at least `min_bytes` bytes that occurs elsewhere in
    them (all copies, or all but the first with `keep_first`)."""

    name: ClassVar[str] = "substring_dedup"
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}
    produces_documents: ClassVar[bool] = True
    decides_beyond_document: ClassVar[bool] = True

    input: str
    min_bytes: int = 100  # OLM's Common Crawl pipeline over Lee et al.'s tool (see the module's docstring)
    keep_first: bool = False  # Lee et al. strike every copy

    def __post_init__(self) -> None:
        if self.min_bytes < 8:
            raise ValueError(f"min_bytes must be at least 8 (shorter repeats are words, not copied text), got "
                             f"{self.min_bytes}")

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        refs = context.refs(self.input)
        scratch = context.scratch("spans")
        span_paths = [scratch_file(scratch, i, ".spans.npy") for i in range(len(refs))]
        if not written(*span_paths):
            found = context.run_serial(find_spans, SpanJob([ref.path for ref in refs], span_paths, self.min_bytes,
                                                           self.keep_first), "suffix_array")
            context.log(f"node {context.node}: {found['struck_bytes']:,} of {found['bytes']:,} bytes "
                        f"({found['struck_bytes'] / max(1, found['bytes']):.1%}) are in a stretch of "
                        f"{self.min_bytes}+ bytes that occurs elsewhere")
        tasks = [StrikeTask(ref.path, context.layout, ref.key, context.output_fingerprints[i], span_paths[i],
                            self.min_bytes) for i, ref in enumerate(refs)]
        computed = context.write_partitions(write_partition, tasks)
        return context.written_report(tasks, self.name, started, cpu_started, computed)
