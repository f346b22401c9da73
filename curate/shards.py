"""Token shards: Parquet files of (`id`, `tokens`) with a manifest, and exports to the flat formats trainers read.

The manifest (`manifest.json`) records the tokenizer's hash and vocabulary size, the token dtype (uint16 when the
vocabulary fits, else uint32), and for each shard its documents, tokens and SHA-256, so a reader can check that
what it trains on is what was written.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import storage

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "curate-token-shards"
# llm.c's data files (karpathy/llm.c dev/data/data_common.py): a 256 x int32 header, then the tokens.
LLMC_HEADER = {"uint16": (20240520, 1), "uint32": (20240801, 7)}  # dtype -> (magic, version)
# Megatron-LM's MMapIndexedDataset index (megatron/core/datasets/indexed_dataset.py).
MEGATRON_INDEX_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPE_CODES = {"uint16": 8, "uint32": 4}  # Megatron stores uint32 ids as int32 (code 4)


def token_dtype(vocab_size: int) -> str:
    """Example: token_dtype(50257) -> 'uint16'; token_dtype(100277) -> 'uint32'."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def load_manifest(shard_dir: str) -> dict[str, Any]:
    manifest = json.loads(storage.read_bytes(storage.join(shard_dir, MANIFEST_FILE)))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{shard_dir}: {MANIFEST_FILE} is not a {MANIFEST_FORMAT} manifest")
    return manifest


def verify(shard_dir: str) -> list[str]:
    """Problems found checking the shards against their manifest (missing, checksum, counts); empty when all good."""
    manifest = load_manifest(shard_dir)
    problems = []
    for shard in manifest["shards"]:
        path = storage.join(shard_dir, shard["file"])
        if not storage.exists(path):
            problems.append(f"{shard['file']}: missing")
            continue
        if storage.sha256(path) != shard["sha256"]:
            problems.append(f"{shard['file']}: checksum mismatch")
            continue
        try:
            with storage.open_input(path) as handle:
                tokens = pq.read_table(handle, columns=["tokens"]).column(0)
        except Exception as error:  # an unreadable file is a finding, not a crash
            problems.append(f"{shard['file']}: unreadable ({error})")
            continue
        counted = (len(tokens), int(pc.sum(pc.list_value_length(tokens)).as_py() or 0))
        if counted != (shard["documents"], shard["tokens"]):
            problems.append(f"{shard['file']}: {counted[0]} documents and {counted[1]} tokens, "
                            f"manifest says {shard['documents']} and {shard['tokens']}")
    if sum(s["tokens"] for s in manifest["shards"]) != manifest["tokens"]:
        problems.append("manifest: shard token counts do not add up to the total")
    return problems


def iter_documents(shard_dir: str) -> Iterator[np.ndarray]:
    """Each document's token ids (end-of-text included), shard by shard, in manifest order."""
    manifest = load_manifest(shard_dir)
    for shard in manifest["shards"]:
        shard_file = pq.ParquetFile(storage.open_input(storage.join(shard_dir, shard["file"])))
        for batch in shard_file.iter_batches(columns=["tokens"]):
            column = batch.column(0)
            values = column.values.to_numpy()
            offsets = column.offsets.to_numpy()
            for start, end in zip(offsets[:-1], offsets[1:]):
                yield values[start:end]


def export_llmc(shard_dir: str, out_path: str) -> int:
    """Write all tokens as one llm.c / nanoGPT-style `.bin` (256 x int32 header, then tokens); returns the count."""
    manifest = load_manifest(shard_dir)
    magic, version = LLMC_HEADER[manifest["dtype"]]
    header = np.zeros(256, dtype=np.int32)
    header[:3] = (magic, version, manifest["tokens"])
    with open(out_path, "wb") as handle:
        handle.write(header.tobytes())
        for document in iter_documents(shard_dir):
            handle.write(document.astype(manifest["dtype"]).tobytes())
    return manifest["tokens"]


def export_megatron(shard_dir: str, out_prefix: str) -> int:
    """Write Megatron-LM's `PREFIX.bin` (tokens) and `PREFIX.idx` (one sequence per document); returns documents."""
    manifest = load_manifest(shard_dir)
    dtype = np.dtype(manifest["dtype"]) if manifest["dtype"] == "uint16" else np.dtype(np.int32)
    sizes = []
    with open(out_prefix + ".bin", "wb") as handle:
        for document in iter_documents(shard_dir):
            handle.write(document.astype(dtype).tobytes())
            sizes.append(len(document))
    sizes_array = np.array(sizes, dtype=np.int32)
    pointers = np.concatenate([[0], np.cumsum(sizes_array[:-1], dtype=np.int64)]) * dtype.itemsize
    with open(out_prefix + ".idx", "wb") as handle:
        handle.write(MEGATRON_INDEX_MAGIC)
        handle.write(struct.pack("<Q", 1))
        handle.write(struct.pack("<B", MEGATRON_DTYPE_CODES[manifest["dtype"]]))
        handle.write(struct.pack("<Q", len(sizes)))
        handle.write(struct.pack("<Q", len(sizes) + 1))
        handle.write(sizes_array.tobytes())
        handle.write(pointers.astype(np.int64).tobytes())
        handle.write(np.arange(len(sizes) + 1, dtype=np.int64).tobytes())
    return len(sizes)
