"""The `tokenize` node: encode a node of documents with a trained tokenizer into Parquet token shards.

Three phases, each on the executor but the second, and each resumable from its scratch files:
- encode (a task per input partition, tiktoken fast path): `(id, tokens)` with the end-of-text token appended to
  every document, optionally in a seeded order, and beside it the partition's document lengths, token frequencies
  and a sample of lengths for `curate inspect`;
- plan (the driver): where shards are cut, from the lengths alone, one partition's at a time: a shard ends after the
  first document that brings it to `shard_tokens` (a document is never split; the last shard holds the rest);
- write (a task per shard): its documents' rows sliced from the encoded partitions, written as `shard-NNNNN.parquet`
  in the scratch (where a rerun after a kill finds it: the node's folder is swept before a run), its size and
  checksum beside it.
The driver then moves the shards into the node's folder (a rename on local disk), writes the manifest and a copy of
the tokenizer (curate/shards.py); the scratch goes at commit. No token passes through the driver: it reads 8 bytes a
document (the lengths) and a vocabulary's frequencies a partition.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import storage
from curate.commit import write_json_atomic
from curate.cpu import driver_cpu
from curate.errors import RunError
from curate.ops.base import Operation, OperationContext, written
from curate.ops.train_bpe import TOKENIZER_FILE, load_tokenizer
from curate.shards import MANIFEST_FORMAT, TOKEN_STATS, TOKENIZER_COPY, load_tokenizer_file, token_dtype
from curate.sketch import bottom_sample, row_key
from curate.stats import NodeReport, StageStats
from curate.tables import (
    load_array,
    read_columns,
    read_table,
    save_array_atomic,
    scratch_file,
    write_parquet_atomic,
)
from tokenizer.fast import encode_batch

EOT = "<|endoftext|>"


@dataclass(frozen=True)
class EncodeTask:
    input_path: str
    output_path: str  # the encoded rows; written last, so its presence means the task is done
    tokenizer_path: str
    text_column: str
    shuffle_seed: int | None
    index: int

    def __str__(self) -> str:
        return storage.basename(self.input_path)

    def side_file(self, suffix: str) -> str:
        """Example: side_file(".lengths.npy") -> ".../part-00003.lengths.npy" """
        return self.output_path.removesuffix(".parquet") + suffix


def encode_partition(task: EncodeTask) -> int:
    """Encode one partition into (id, tokens) rows, optionally in a seeded order; returns the document count."""
    tokenizer = load_tokenizer_file(task.tokenizer_path)
    table = read_columns(task.input_path, ["id", task.text_column])
    if task.shuffle_seed is not None:
        # PCG64 seeded by (seed, partition): the same permutation on every machine and executor.
        table = table.take(np.random.default_rng([task.shuffle_seed, task.index]).permutation(table.num_rows))
    texts = [text or "" for text in table.column(1).to_pylist()]
    encoded = encode_batch(tokenizer, texts)
    eot = tokenizer.specials[EOT]
    lengths = np.fromiter((len(ids) + 1 for ids in encoded), dtype=np.int64, count=len(encoded))
    values = np.fromiter((t for ids in encoded for t in (*ids, eot)), dtype=token_dtype(tokenizer.vocab_size),
                         count=int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    tokens = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    save_array_atomic(task.side_file(".lengths.npy"), lengths)
    save_array_atomic(task.side_file(".counts.npy"), np.bincount(values, minlength=tokenizer.vocab_size))
    keys = [row_key(str(i)) for i in table.column(0).to_pylist()]
    sample = bottom_sample({"keys": [], "values": {"tokens": []}},
                           {"keys": keys, "values": {"tokens": lengths.tolist()}})
    storage.write_bytes(task.side_file(".sample.json"), json.dumps(sample).encode())
    write_parquet_atomic(pa.table({"id": table.column(0), "tokens": tokens}), task.output_path)
    return table.num_rows


@dataclass(frozen=True)
class ShardTask:
    """One shard: the (encoded partition, first row, end row) slices it holds, in order, and where it goes."""

    index: int
    slices: tuple[tuple[str, int, int], ...]
    path: str
    record_path: str  # its size and checksum, written last: the task is done

    def __str__(self) -> str:
        return storage.basename(self.path)


def write_shard(task: ShardTask) -> int:
    """Write one shard from its slices; returns its document count."""
    parts = [read_table(path).slice(start, end - start) for path, start, end in task.slices]
    table = pa.concat_tables(parts)
    write_parquet_atomic(table, task.path)
    known = storage.written_digest(task.path)
    assert known is not None  # written through storage.atomic_output just above
    tokens = int(pc.sum(pc.list_value_length(table.column("tokens"))).as_py() or 0)
    write_json_atomic(task.record_path, {"file": storage.basename(task.path), "documents": table.num_rows,
                                         "tokens": tokens, "bytes": known[0], "sha256": known[1]})
    return table.num_rows


def shard_cuts(lengths: Iterator[tuple[str, np.ndarray]], shard_tokens: int) -> list[list[tuple[str, int, int]]]:
    """Each shard's slices of the encoded partitions, from the partitions' document lengths in order: a shard ends
    after the first document that brings it to `shard_tokens`.

    Example: shard_cuts(iter([("a", np.array([3, 3])), ("b", np.array([5]))]), 5)
             -> [[("a", 0, 2)], [("b", 0, 1)]]
    """
    shards: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    pending = 0
    for path, partition_lengths in lengths:
        start = 0
        cumulative = np.cumsum(partition_lengths)
        while start < len(partition_lengths):
            base = int(cumulative[start - 1]) if start else 0
            reach = np.flatnonzero(cumulative[start:] - base + pending >= shard_tokens)
            if len(reach) == 0:
                current.append((path, start, len(partition_lengths)))
                pending += int(cumulative[-1]) - base
                break
            end = start + int(reach[0]) + 1
            current.append((path, start, end))
            shards.append(current)
            current, pending, start = [], 0, end
    if current:
        shards.append(current)
    return shards


@dataclass
class Tokenize(Operation):
    """Encode node `input` with the tokenizer of node `tokenizer` into shards of about `shard_tokens` tokens.

    `shuffle_seed`: when set, partitions and the documents inside each are put in a seeded random order.
    """

    name: ClassVar[str] = "tokenize"
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents", "tokenizer": "train_bpe"}
    reads_final_documents: ClassVar[bool] = True

    input: str
    tokenizer: str
    # DESIGN.md: 50M tokens a shard (a few hundred MB of Parquet), large enough that a trainer opens few files.
    shard_tokens: int = 50_000_000
    shuffle_seed: int | None = None
    text_column: str = "text"

    def __post_init__(self) -> None:
        if self.shard_tokens < 1:
            raise ValueError("shard_tokens must be positive")

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()  # the driver's share; tasks run elsewhere
        tokenizer_path = storage.join(context.node_dirs[self.tokenizer], TOKENIZER_FILE)
        tokenizer = load_tokenizer(context.node_dirs[self.tokenizer])
        if EOT not in tokenizer.specials:
            raise RunError(f"node {context.node!r}: tokenizer {self.tokenizer!r} has no {EOT} special token")
        scratch = context.scratch("encoded")
        inputs = context.paths(self.input)
        tasks = [EncodeTask(path, scratch_file(scratch, i), tokenizer_path,
                            self.text_column, self.shuffle_seed, i) for i, path in enumerate(inputs)]
        computed = context.map(encode_partition, tasks, lambda t: written(t.output_path))

        order = list(range(len(tasks)))
        if self.shuffle_seed is not None:
            order = [int(i) for i in np.random.default_rng(self.shuffle_seed).permutation(len(tasks))]
        cuts = shard_cuts(((tasks[i].output_path, load_array(tasks[i].side_file(".lengths.npy"))) for i in order),
                          self.shard_tokens)
        shard_dir = context.scratch("shards")
        shard_tasks = [ShardTask(n, tuple(slices), storage.join(shard_dir, f"shard-{n:05d}.parquet"),
                                 storage.join(shard_dir, f"shard-{n:05d}.json")) for n, slices in enumerate(cuts)]
        # Done while its record and the shard are both in the scratch (a run killed after moving some shards into the
        # node's folder finds them swept away there, and writes them again).
        context.map(write_shard, shard_tasks, lambda t: written(t.record_path, t.path))
        shards: list[dict[str, Any]] = [json.loads(storage.read_bytes(t.record_path)) for t in shard_tasks]
        for shard_task in shard_tasks:
            storage.move(shard_task.path, storage.join(context.out_dir, storage.basename(shard_task.path)))

        counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
        sample: dict[str, Any] = {"keys": [], "values": {"tokens": []}}
        for encoded in tasks:  # one partition's statistics at a time
            counts += load_array(encoded.side_file(".counts.npy"))[: tokenizer.vocab_size]
            sample = bottom_sample(sample, json.loads(storage.read_bytes(encoded.side_file(".sample.json"))))
        storage.copy(tokenizer_path, storage.join(context.layout.state, TOKENIZER_COPY))
        documents = sum(s["documents"] for s in shards)
        write_json_atomic(storage.join(context.layout.state, TOKEN_STATS), {
            "token_counts": counts.tolist(), "length_sample": sample})
        write_json_atomic(context.layout.manifest, {
            "format": MANIFEST_FORMAT, "version": 2, "tokenizer_hash": tokenizer.hash,
            "tokenizer_file": TOKENIZER_COPY, "vocab_size": tokenizer.vocab_size,
            "dtype": token_dtype(tokenizer.vocab_size), "eot_id": tokenizer.specials[EOT],
            "shuffle_seed": self.shuffle_seed, "documents": documents,
            "tokens": sum(s["tokens"] for s in shards), "shards": shards,
        })
        stage = StageStats("tokenize", docs_in=documents, kept=documents, wall_s=time.perf_counter() - started,
                           cpu_s=driver_cpu() - cpu_started)
        stage.events["tokens"] = sum(s["tokens"] for s in shards)
        return NodeReport(context.node, len(inputs), computed, len(inputs) - computed, [stage], documents, 0,
                          stage.wall_s)
