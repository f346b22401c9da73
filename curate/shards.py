"""Token shards: Parquet files of (`id`, `tokens`), one row per document, and the manifest that describes them.

A tokenize node's folder holds only its shards (`shard-NNNNN.parquet`), so any Parquet reader takes it as one dataset
(`pq.read_table("out/quickstart/shards")`, `datasets.load_dataset("parquet", data_dir=...)`). The manifest and the
tokenizer it was encoded with live in the node's bookkeeping folder (curate/layout.py): the manifest records the
tokenizer's hash and vocabulary size, the token dtype (uint16 when the vocabulary fits, else uint32), the end-of-text
id, and for each shard its documents, tokens and SHA-256, so a reader can check that what it trains on is what was
written. Flat exports for other trainers: curate/export_tokens.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import storage
from curate.layout import node_layout_of
from tokenizer.bpe import Tokenizer

MANIFEST_FORMAT = "curate-token-shards"
TOKENIZER_COPY = "tokenizer.curate.json"  # the tokenizer the shards were encoded with, beside their manifest
TOKEN_STATS = "token_stats.json"  # token frequencies and a sample of document lengths, for `curate inspect`


def token_dtype(vocab_size: int) -> str:
    """Example: token_dtype(50257) -> 'uint16'; token_dtype(100277) -> 'uint32'."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def manifest_path(shard_dir: str) -> str:
    """Example: manifest_path("out/quickstart/shards") -> "out/quickstart/_curate/shards/manifest.json" """
    return node_layout_of(shard_dir).manifest


def load_manifest(shard_dir: str) -> dict[str, Any]:
    path = manifest_path(shard_dir)
    if not storage.exists(path):
        raise ValueError(f"{shard_dir}: no manifest at {path}; give the folder of a tokenize node, inside its workdir")
    manifest = json.loads(storage.read_bytes(path))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not a {MANIFEST_FORMAT} manifest")
    return manifest


def shard_tokenizer_path(shard_dir: str, manifest: dict[str, Any]) -> str:
    """The tokenizer file the shards were encoded with (curate's format), kept beside the manifest."""
    return storage.join(storage.dirname(manifest_path(shard_dir)), manifest["tokenizer_file"])


def load_tokenizer_file(path: str) -> Tokenizer:
    """A tokenizer file in curate's format: a train_bpe node's, or the copy a tokenize node keeps beside its shards."""
    return Tokenizer.from_json(json.loads(storage.read_bytes(path)), source=path)


def verify(shard_dir: str, full: bool = True) -> list[str]:
    """Problems found checking the shards against their manifest; empty when all good.

    Always: each shard is there, has the recorded size, and its Parquet footer holds the recorded document count
    (a footer read each). With `full` (the default for anything that trains or exports): each shard's SHA-256 and
    its documents and tokens counted from the data."""
    manifest = load_manifest(shard_dir)
    problems = []
    for shard in manifest["shards"]:
        path = storage.join(shard_dir, shard["file"])
        found = storage.stat(path)
        if found is None:
            problems.append(f"{shard['file']}: missing")
            continue
        if "bytes" in shard and found.size != shard["bytes"]:
            problems.append(f"{shard['file']}: {found.size} bytes, manifest says {shard['bytes']}")
            continue
        try:
            with storage.open_input(path) as handle:
                rows = pq.ParquetFile(handle).metadata.num_rows
        except Exception as error:  # an unreadable file is a finding, not a crash
            problems.append(f"{shard['file']}: unreadable ({error})")
            continue
        if rows != shard["documents"]:
            problems.append(f"{shard['file']}: {rows} documents, manifest says {shard['documents']}")
            continue
        if not full:
            continue
        if storage.sha256(path) != shard["sha256"]:
            problems.append(f"{shard['file']}: checksum mismatch")
            continue
        with storage.open_input(path) as handle:
            tokens = pq.read_table(handle, columns=["tokens"]).column(0)
        counted = int(pc.sum(pc.list_value_length(tokens)).as_py() or 0)
        if counted != shard["tokens"]:
            problems.append(f"{shard['file']}: {counted} tokens, manifest says {shard['tokens']}")
    if sum(s["tokens"] for s in manifest["shards"]) != manifest["tokens"]:
        problems.append("manifest: shard token counts do not add up to the total")
    return problems


def iter_token_batches(shard_dir: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(tokens, document lengths) of each Parquet batch, shard by shard in manifest order: the documents of a batch
    are `np.split(tokens, np.cumsum(lengths)[:-1])`, each ending in the end-of-text token."""
    manifest = load_manifest(shard_dir)
    for shard in manifest["shards"]:
        with storage.open_input(storage.join(shard_dir, shard["file"])) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(columns=["tokens"]):
                column = batch.column(0)
                offsets = column.offsets.to_numpy()
                values = column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
                yield values, np.diff(offsets)


def iter_documents(shard_dir: str) -> Iterator[np.ndarray]:
    """Each document's token ids (end-of-text included), shard by shard, in manifest order."""
    for values, lengths in iter_token_batches(shard_dir):
        if len(lengths):
            yield from np.split(values, np.cumsum(lengths)[:-1])


def read_all_tokens(shard_dir: str) -> np.ndarray:
    """Every token of the shards as one array of the manifest's dtype (2 or 4 bytes a token in memory), after
    checking the shards against the manifest."""
    problems = verify(shard_dir)
    if problems:
        raise ValueError(f"{shard_dir}: shards do not match their manifest: {'; '.join(problems[:3])}")
    dtype = load_manifest(shard_dir)["dtype"]
    parts = [values.astype(dtype, copy=False) for values, _ in iter_token_batches(shard_dir)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
