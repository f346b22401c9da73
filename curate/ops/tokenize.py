"""The `tokenize` node: encode a node of documents with a trained tokenizer into Parquet token shards.

Map: each input partition is encoded on the executor (tiktoken fast path) into `(id, tokens)` with the end-of-text
token appended to every document, in the node's scratch. Reduce: the driver streams the encoded partitions, in order
(or in a seeded order), into shards of about `shard_tokens` tokens (a document is never split) in the node's folder,
then writes the manifest and a copy of the tokenizer beside it (curate/shards.py); the scratch goes at commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import storage
from curate.commit import write_json_atomic
from curate.errors import RunError
from curate.ops.base import Operation, OperationContext, file_done
from curate.ops.train_bpe import TOKENIZER_FILE, load_tokenizer, load_tokenizer_file
from curate.partition import read_columns, scratch_file, write_parquet_atomic
from curate.shards import MANIFEST_FORMAT, TOKEN_STATS, TOKENIZER_COPY, token_dtype
from curate.sketch import bottom_sample, row_key
from curate.stats import NodeReport, StageStats
from tokenizer.fast import encode_batch

EOT = "<|endoftext|>"


@dataclass(frozen=True)
class EncodeTask:
    input_path: str
    output_path: str
    tokenizer_path: str
    text_column: str
    shuffle_seed: int | None
    index: int

    def __str__(self) -> str:
        return storage.basename(self.input_path)


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
    write_parquet_atomic(pa.table({"id": table.column(0), "tokens": tokens}), task.output_path)
    return table.num_rows


class ShardWriter:
    """Accumulates encoded documents and writes a shard each time `shard_tokens` is reached."""

    def __init__(self, out_dir: str, shard_tokens: int, vocab_size: int) -> None:
        self.out_dir, self.shard_tokens = out_dir, shard_tokens
        self.pending: list[pa.Table] = []
        self.pending_tokens = 0
        self.shards: list[dict] = []
        # What `curate inspect` reports about the shards, gathered here rather than by reading them back.
        self.token_counts = np.zeros(vocab_size, dtype=np.int64)
        self.length_sample: dict = {"keys": [], "values": {"tokens": []}}

    def add(self, table: pa.Table) -> None:
        lengths = pc.list_value_length(table.column("tokens")).to_numpy()
        values = pc.list_flatten(table.column("tokens")).to_numpy(zero_copy_only=False)
        self.token_counts += np.bincount(values, minlength=len(self.token_counts))[: len(self.token_counts)]
        keys = [row_key(str(i)) for i in table.column("id").to_pylist()]
        self.length_sample = bottom_sample(self.length_sample, {"keys": keys, "values": {"tokens": lengths.tolist()}})
        start = 0
        for end in range(1, len(lengths) + 1):  # cut only between documents
            self.pending_tokens += int(lengths[end - 1])
            if self.pending_tokens >= self.shard_tokens:
                self.pending.append(table.slice(start, end - start))
                self.flush()
                start = end
        if start < len(lengths):
            self.pending.append(table.slice(start))

    def flush(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        name = f"shard-{len(self.shards):05d}.parquet"
        path = storage.join(self.out_dir, name)
        write_parquet_atomic(table, path)
        known = storage.written_digest(path)
        assert known is not None  # written through storage.atomic_output just above
        size, checksum = known
        self.shards.append({"file": name, "documents": table.num_rows, "tokens": self.pending_tokens,
                            "bytes": size, "sha256": checksum})
        self.pending, self.pending_tokens = [], 0


@dataclass
class Tokenize(Operation):
    """Encode node `input` with the tokenizer of node `tokenizer` into shards of about `shard_tokens` tokens.

    `shuffle_seed`: when set, partitions and the documents inside each are put in a seeded random order.
    """

    name: ClassVar[str] = "tokenize"
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents", "tokenizer": "train_bpe"}

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
        started, cpu_started = time.perf_counter(), time.process_time()  # the driver's share; tasks run elsewhere
        tokenizer_path = storage.join(context.node_dirs[self.tokenizer], TOKENIZER_FILE)
        tokenizer = load_tokenizer(context.node_dirs[self.tokenizer])
        if EOT not in tokenizer.specials:
            raise RunError(f"node {context.node!r}: tokenizer {self.tokenizer!r} has no {EOT} special token")
        scratch = context.scratch("encoded")
        inputs = context.paths(self.input)
        tasks = [EncodeTask(path, scratch_file(scratch, i), tokenizer_path,
                            self.text_column, self.shuffle_seed, i) for i, path in enumerate(inputs)]
        computed = context.map(encode_partition, tasks, file_done(lambda t: t.output_path))

        order = list(range(len(tasks)))
        if self.shuffle_seed is not None:
            order = [int(i) for i in np.random.default_rng(self.shuffle_seed).permutation(len(tasks))]
        writer = ShardWriter(context.out_dir, self.shard_tokens, tokenizer.vocab_size)
        for index in order:
            for batch in pq.ParquetFile(storage.open_input(tasks[index].output_path)).iter_batches():
                writer.add(pa.Table.from_batches([batch]))
        writer.flush()
        storage.copy(tokenizer_path, storage.join(context.layout.state, TOKENIZER_COPY))
        documents = sum(s["documents"] for s in writer.shards)
        write_json_atomic(storage.join(context.layout.state, TOKEN_STATS), {
            "token_counts": writer.token_counts.tolist(), "length_sample": writer.length_sample})
        write_json_atomic(context.layout.manifest, {
            "format": MANIFEST_FORMAT, "version": 2, "tokenizer_hash": tokenizer.hash,
            "tokenizer_file": TOKENIZER_COPY, "vocab_size": tokenizer.vocab_size,
            "dtype": token_dtype(tokenizer.vocab_size), "eot_id": tokenizer.specials[EOT],
            "shuffle_seed": self.shuffle_seed, "documents": documents,
            "tokens": sum(s["tokens"] for s in writer.shards), "shards": writer.shards,
        })
        stage = StageStats("tokenize", docs_in=documents, kept=documents, wall_s=time.perf_counter() - started,
                           cpu_s=time.process_time() - cpu_started)
        stage.events["tokens"] = sum(s["tokens"] for s in writer.shards)
        return NodeReport(context.node, len(inputs), computed, len(inputs) - computed, [stage], documents, 0,
                          stage.wall_s)
