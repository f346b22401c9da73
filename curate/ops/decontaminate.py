"""The `decontaminate` node: documents that share word n-grams with an evaluation set's items are removed (or
flagged), naming the benchmark item they contain.

GPT-3 (Brown et al. 2020, arXiv:2005.14165, appendix C) counted a training document as overlapping a benchmark item
when they shared a 13-gram of lower-cased, punctuation-free words; so does this node by default (`n: 13`,
`min_ngrams: 1`). Thirteen words are specific enough that a shared one between independent texts is rare (on the 1,075
clean pages of the shared corpus, against GSM8K test and HumanEval: docs/filters.md), and short enough that an item
pasted into a page with a few words changed still shares several. Items shorter than `n` words are matched whole
when they have at least `min_item_words`, and skipped otherwise (too short to tell a copy from a coincidence).

Benchmarks are JSON Lines files the user names (`benchmarks`: globs or URIs); an item's text is its string `fields`
(default: every string field, e.g. GSM8K's question and answer, HumanEval's prompt, solution and test), its name
`<file stem>:<id_field or line number>`. Phases: the index (every item's n-gram hashes, sorted, in the node's
scratch; a few MB for GSM8K) is built in the driver; then each partition is scored on the executor and written:
kept rows, and either rejected rows (`action: remove`, reason `contaminated`, detail naming the item and the n-grams
shared) or every row kept with `contamination` and `contamination_ngrams` columns (`action: flag`).

N-gram hashes are computed without Python's per-process string hash: each word is hashed once with BLAKE2b and a
window's hash is a polynomial over its words' hashes modulo 2^64, vectorised with NumPy, so the index built in the
driver and the lookups in any worker agree.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from curate import storage
from curate.cpu import driver_cpu
from curate.ops.base import Operation, OperationContext, PartitionWrite, written
from curate.stages.base import Reject, rejected_rows
from curate.stats import NodeReport, StageStats
from curate.tables import load_array, read_table, save_array_atomic

WORD = re.compile(r"\w+")
NUMBER = re.compile(r"\d+")
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit constant (the golden ratio's): the polynomial's base
FLAG_FIELDS = (pa.field("contamination", pa.string()), pa.field("contamination_ngrams", pa.int32()))
TOP_ITEMS = 20


def words(text: str) -> list[str]:
    """GPT-3's normalisation (lower-cased words, punctuation dropped), and every number as "0", so that a problem
    copied with its numbers changed still matches. Example: words("Don't pay $12.50!") -> don, t, pay, 0, 0"""
    return WORD.findall(NUMBER.sub("0", text.lower()))


def word_hashes(tokens: list[str], cache: dict[str, int]) -> np.ndarray:
    for token in tokens:
        if token not in cache:
            cache[token] = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    return np.fromiter((cache[t] for t in tokens), dtype=np.uint64, count=len(tokens))


def informative_ngrams(tokens: list[str], n: int, cache: dict[str, int]) -> np.ndarray:
    """The distinct hashes of the windows of `n` words in which at least half the words are not numbers: with
    numbers all "0", a run of figures ("0 0 0 0 0 ...", a table, an answer's arithmetic) would match any other."""
    grams = ngram_hashes(word_hashes(tokens, cache), n)
    if len(grams) == 0:
        return grams
    numbers = np.concatenate([[0], np.cumsum([t == "0" for t in tokens])])
    words_in_window = n - (numbers[n:] - numbers[:-n])
    return np.unique(grams[words_in_window * 2 >= n])


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of every window of `n` word hashes: sum of h[i + j] * M^(n - 1 - j) modulo 2^64."""
    if len(hashes) < n:
        return np.zeros(0, dtype=np.uint64)
    windows = len(hashes) - n + 1
    out = np.zeros(windows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            out = out * MULTIPLIER + hashes[j : j + windows]
    return out


@dataclass(frozen=True)
class ContaminationTask(PartitionWrite):
    """One partition to check against the benchmarks' n-gram index and write."""

    index_dir: str
    n: int
    min_ngrams: int
    action: str


def score_documents(task: ContaminationTask) -> int:
    """Score one partition against the index and write it; returns the documents read."""
    started = time.perf_counter()
    keys = load_array(storage.join(task.index_dir, "keys.npy"))
    items = load_array(storage.join(task.index_dir, "items.npy"))
    meta = json.loads(storage.read_bytes(storage.join(task.index_dir, "items.json")))
    names, lengths = meta["names"], meta["window_lengths"]  # n, and the lengths of items shorter than n
    table = read_table(task.input_path)
    cache: dict[str, int] = {}
    found: list[str | None] = []
    shared = np.zeros(table.num_rows, dtype=np.int32)
    for row, text in enumerate(table.column("text").to_pylist()):
        tokens = words(text or "")
        grams = np.unique(np.concatenate([informative_ngrams(tokens, length, cache) for length in lengths]))
        positions = np.searchsorted(keys, grams)
        hit = positions < len(keys)
        hit[hit] = keys[positions[hit]] == grams[hit]
        matched = Counter(items[positions[hit]].tolist())
        best = min(matched.items(), key=lambda kv: (-kv[1], kv[0])) if matched else None  # the item shared most
        if best is not None and best[1] >= task.min_ngrams:
            found.append(names[best[0]])
            shared[row] = best[1]
        else:
            found.append(None)
    contaminated = np.array([f is not None for f in found], dtype=bool)
    stats = StageStats(Decontaminate.name, docs_in=table.num_rows)
    top = Counter(f for f in found if f is not None).most_common(TOP_ITEMS)
    if task.action == "flag":
        for column, values in zip(FLAG_FIELDS, (pa.array(found, pa.string()), pa.array(shared, pa.int32()))):
            if column.name in table.column_names:
                table = table.drop_columns([column.name])
            table = table.append_column(column, values)
        kept, rejected = table, rejected_rows(table.slice(0, 0), Decontaminate.name, [])
        stats.events["flagged"] = int(contaminated.sum())
    else:
        kept, dropped = table.filter(pa.array(~contaminated)), table.filter(pa.array(contaminated))
        rejects = [Reject("contaminated", f"{found[i]} ({shared[i]} shared {task.n}-grams)")
                   for i in np.flatnonzero(contaminated)]
        rejected = rejected_rows(dropped, Decontaminate.name, rejects)
        if dropped.num_rows:
            stats.rejected["contaminated"] = dropped.num_rows
    stats.kept = kept.num_rows
    stats.wall_s = time.perf_counter() - started
    task.write(kept, rejected, stats, {"contaminated_items": [[name, count] for name, count in top]})
    return table.num_rows


@dataclass
class Decontaminate(Operation):
    """Remove (`action: remove`) or flag (`action: flag`) the documents of node `input` that share at least
    `min_ngrams` word `n`-grams with an item of the `benchmarks` JSON Lines files."""

    name: ClassVar[str] = "decontaminate"
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}
    path_inputs: ClassVar[tuple[str, ...]] = ("benchmarks",)
    produces_documents: ClassVar[bool] = True
    decides_beyond_document: ClassVar[bool] = True

    input: str
    benchmarks: str | list[str]
    n: int = 13  # GPT-3, appendix C
    min_ngrams: int = 1
    action: Literal["remove", "flag"] = "remove"
    fields: list[str] = field(default_factory=list)  # empty: every string field of an item
    id_field: str = "task_id"
    min_item_words: int = 8

    def __post_init__(self) -> None:
        if self.n < 1 or self.min_ngrams < 1 or self.min_item_words < 1:
            raise ValueError("n, min_ngrams and min_item_words must be at least 1")
        if self.action not in ("remove", "flag"):
            raise ValueError(f"action must be 'remove' or 'flag', got {self.action!r}")

    def item_texts(self) -> list[tuple[str, str]]:
        """(name, text) of every item of every benchmark file."""
        items = []
        for path in [self.benchmarks] if isinstance(self.benchmarks, str) else self.benchmarks:
            stem = storage.basename(path).split(".")[0]
            with storage.open_text(path) as lines:
                for number, line in enumerate(lines, start=1):
                    record = json.loads(line) if line.strip() else None
                    if not isinstance(record, dict):
                        continue
                    values = [record.get(f) for f in self.fields] if self.fields else list(record.values())
                    text = "\n".join(v for v in values if isinstance(v, str))
                    items.append((f"{stem}:{record.get(self.id_field, number)}", text))
        return items

    def build_index(self, folder: str) -> dict[str, Any]:
        """Write the sorted n-gram hashes of every item, each with its item's number; returns counts."""
        cache: dict[str, int] = {}
        keys: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        names: list[str] = []
        lengths, skipped = {self.n}, 0
        for name, text in self.item_texts():
            tokens = words(text)
            if len(tokens) < min(self.n, self.min_item_words):
                skipped += 1
                continue
            lengths.add(min(self.n, len(tokens)))
            grams = informative_ngrams(tokens, min(self.n, len(tokens)), cache)
            keys.append(grams)
            owners.append(np.full(len(grams), len(names), dtype=np.int32))
            names.append(name)
        all_keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        all_owners = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        order = np.lexsort((all_owners, all_keys))  # an n-gram in several items points at the first of them
        all_keys, all_owners = all_keys[order], all_owners[order]
        first = np.concatenate(([True], all_keys[1:] != all_keys[:-1])) if len(all_keys) else np.zeros(0, bool)
        storage.write_bytes(storage.join(folder, "items.json"),
                            json.dumps({"names": names, "window_lengths": sorted(lengths)}).encode())
        save_array_atomic(storage.join(folder, "items.npy"), all_owners[first])
        save_array_atomic(storage.join(folder, "keys.npy"), all_keys[first])
        return {"items": len(names), "skipped_short_items": skipped, "ngrams": int(first.sum())}

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        refs = context.refs(self.input)
        index_dir = context.scratch("index")
        if not written(storage.join(index_dir, "keys.npy")):
            counts = self.build_index(index_dir)
            context.log(f"node {context.node}: indexed {counts['items']} benchmark items ({counts['ngrams']} "
                        f"distinct {self.n}-grams, {counts['skipped_short_items']} items too short)")
        tasks = [ContaminationTask(ref.path, context.layout, ref.key, context.output_fingerprints[i], index_dir, self.n,
                                   self.min_ngrams, self.action) for i, ref in enumerate(refs)]
        computed = context.write_partitions(score_documents, tasks)
        report = context.written_report(tasks, self.name, started, cpu_started, computed)
        stage = report.stages[0]
        hits = stage.events["flagged"] if self.action == "flag" else report.rejected_out
        context.log(f"node {context.node}: {hits} of {stage.docs_in} documents share {self.n}-grams with a benchmark "
                    f"item ({'flagged' if self.action == 'flag' else 'removed'})")
        return report
