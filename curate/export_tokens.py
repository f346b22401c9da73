"""`curate export-tokens`: token shards written in the flat formats other trainers read.

- **llmc**: llm.c's data files (karpathy/llm.c, dev/data/fineweb.py and data_common.py): a 256 x int32 header (magic,
  version, token count), then the tokens; at most 100M tokens a file, the first file the validation split, named
  `<name>_val_000000.bin`, `<name>_train_000001.bin`, ...
- **nanogpt**: nanoGPT's `train.bin` and `val.bin` (karpathy/nanoGPT, data/openwebtext/prepare.py): raw uint16 tokens,
  no header (nanoGPT's train.py memory-maps them as uint16 from byte 0), and `meta.pkl` (data/shakespeare_char/
  prepare.py's keys): `vocab_size`, which train.py sizes the model by (without it, GPT-2's 50304), and `itos`/`stoi`,
  which sample.py decodes with (without them, as GPT-2). `itos` maps each id to its token's text (bytes that end
  inside a character read as U+FFFD); sample.py encodes a prompt one character at a time through `stoi`.
- **megatron**: Megatron-LM's indexed dataset, `PREFIX.bin` (tokens) and `PREFIX.idx` (one sequence per document;
  megatron/core/datasets/indexed_dataset.py). Megatron splits train/valid/test itself (`--split`), so one dataset.

The validation split is the first documents of the shards, up to `val_tokens` (never cutting a document): in a tokenize
node with `shuffle_seed` they are a random sample, otherwise the first input files'. Every file is written whole or
not at all, and nothing is overwritten without `force`.
"""

from __future__ import annotations

import pickle
import re
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from curate import storage
from curate.errors import CurateError
from curate.shards import iter_documents, iter_token_batches, load_manifest, shard_tokenizer_path, verify

# llm.c's FineWeb script: shard_size = 10**8 tokens, and the first shard is the validation split.
LLMC_SHARD_TOKENS = 10**8
LLMC_HEADER = {"uint16": (20240520, 1), "uint32": (20240801, 7)}  # dtype -> (magic, version), data_common.py
# llm.c's C loader (llmc/dataloader.h) accepts magic 20240520 version 1 only; the uint32 files are read by
# train_llama3.py alone
LLMC_UINT32_NOTE = ("note: a vocabulary of more than 65,536 ids needs llm.c's uint32 files (magic 20240801, "
                    "version 7), which its train_llama3.py reads; its C trainers (train_gpt2.c, train_gpt2.cu) read only uint16 "
                    "files (magic 20240520): tokenize with a vocabulary of at most 65,536 ids for those")
LLMC_HEADER_INTS = 256
# Without --val-tokens: 10% of the tokens (nanoGPT's shakespeare split), at most llm.c's one 100M-token shard.
DEFAULT_VAL_SHARE = 0.1
MEGATRON_INDEX_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPE_CODES = {"uint16": 8, "uint32": 4}  # Megatron stores ids above 65535 as int32 (code 4)


@dataclass(frozen=True)
class Exported:
    """What an export wrote: each file and its token count, and the documents in the validation split."""

    files: list[tuple[str, int]]
    val_documents: int
    note: str = ""  # what the user must know to load them (which reader takes these files)

    def summary(self) -> str:
        files = "; ".join(f"{storage.basename(path)}: {tokens:,} tokens" for path, tokens in self.files)
        return f"{files}\n{self.note}" if self.note else files


def default_val_tokens(total_tokens: int) -> int:
    """Example: default_val_tokens(5_000_000) -> 500_000; default_val_tokens(10**10) -> 100_000_000"""
    return min(LLMC_SHARD_TOKENS, int(total_tokens * DEFAULT_VAL_SHARE))


def _split(shard_dir: str, val_tokens: int) -> Iterator[tuple[bool, np.ndarray]]:
    """(in the validation split, document) for every document: whole documents go to validation until it holds
    `val_tokens` tokens (at least one document when `val_tokens` > 0)."""
    taken = 0
    for document in iter_documents(shard_dir):
        in_val = taken < val_tokens
        taken += len(document) if in_val else 0
        yield in_val, document


def _val_tokens(manifest: dict[str, Any], val_tokens: int | None) -> int:
    chosen = default_val_tokens(manifest["tokens"]) if val_tokens is None else val_tokens
    if chosen < 0 or (manifest["tokens"] and chosen >= manifest["tokens"]):
        raise CurateError(f"--val-tokens {chosen:,} leaves no training tokens (the shards hold {manifest['tokens']:,})")
    return chosen


def _refuse_existing(paths: list[str], force: bool) -> None:
    existing = [p for p in paths if storage.exists(p)]
    if existing and not force:
        raise CurateError(f"{existing[0]} exists" + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
                          + "; pass --force to overwrite")


def _checked_manifest(shard_dir: str) -> dict[str, Any]:
    try:
        problems = verify(shard_dir)
    except (OSError, ValueError) as error:
        raise CurateError(f"{shard_dir}: not a token shard folder ({error})") from None
    if problems:
        raise CurateError(f"{shard_dir}: shards do not match their manifest: {'; '.join(problems[:3])}")
    return load_manifest(shard_dir)


class _LlmcFile:
    """One llm.c data file being filled. Its tokens are buffered (at most 100M tokens, 200-400 MB) because the header,
    which comes first, holds their count, and an upload to an object store cannot seek back to patch it."""

    def __init__(self, path: str, dtype: str) -> None:
        self.path, self.dtype = path, dtype
        self.parts: list[np.ndarray] = []
        self.tokens = 0

    def add(self, tokens: np.ndarray) -> None:
        self.parts.append(tokens.astype(self.dtype, copy=False))
        self.tokens += len(tokens)

    def write(self) -> tuple[str, int]:
        magic, version = LLMC_HEADER[self.dtype]
        header = np.zeros(LLMC_HEADER_INTS, dtype=np.int32)
        header[:3] = (magic, version, self.tokens)
        with storage.atomic_output(self.path) as sink:
            sink.write(header.tobytes())
            for part in self.parts:
                sink.write(part.tobytes())
        return self.path, self.tokens


def export_llmc(shard_dir: str, out_dir: str, *, name: str | None = None, val_tokens: int | None = None,
                shard_tokens: int = LLMC_SHARD_TOKENS, force: bool = False) -> Exported:
    """llm.c files under `out_dir`: `<name>_val_000000.bin` with the validation documents, then train files of at
    most `shard_tokens` tokens each (llm.c cuts documents at file boundaries; so does this, as llm.c reads its
    train files as one stream)."""
    manifest = _checked_manifest(shard_dir)
    if not 0 < shard_tokens < 2**31:
        raise CurateError(f"--shard-tokens must be between 1 and {2**31 - 1} (llm.c's header holds an int32 count)")
    name = name or storage.basename(shard_dir.rstrip("/"))
    val_tokens = _val_tokens(manifest, val_tokens)
    path_of = lambda index: storage.join(out_dir, f"{name}_{'val' if index == 0 else 'train'}_{index:06d}.bin")
    ours = re.compile(re.escape(name) + r"_(val|train)_\d{6}\.bin")
    earlier = [storage.join(out_dir, f) for f in storage.list_files(out_dir) if ours.fullmatch(f)]
    _refuse_existing(earlier, force)
    written: list[tuple[str, int]] = []
    val_documents = 0
    current = _LlmcFile(path_of(0), manifest["dtype"])
    for in_val, document in _split(shard_dir, val_tokens):
        if in_val:
            current.add(document)
            val_documents += 1
            continue
        if len(written) == 0:  # the validation file is complete
            written.append(current.write())
            current = _LlmcFile(path_of(1), manifest["dtype"])
        while len(document):
            room = shard_tokens - current.tokens
            current.add(document[:room])
            document = document[room:]
            if current.tokens == shard_tokens:
                written.append(current.write())
                current = _LlmcFile(path_of(len(written)), manifest["dtype"])
    if current.tokens or not written:
        written.append(current.write())
    for stale in set(earlier) - {path for path, _ in written}:  # files of a longer earlier export (--force)
        storage.remove(stale)
    return Exported(written, val_documents, LLMC_UINT32_NOTE if manifest["dtype"] == "uint32" else "")


def export_nanogpt(shard_dir: str, out_dir: str, *, val_tokens: int | None = None, force: bool = False
                   ) -> Exported:
    """nanoGPT's `train.bin` and `val.bin` under `out_dir`: raw uint16, no header."""
    manifest = _checked_manifest(shard_dir)
    if manifest["dtype"] != "uint16":
        raise CurateError(f"{shard_dir}: a vocabulary of {manifest['vocab_size']} ids does not fit nanoGPT's uint16 "
                          "files; use --format llmc (uint32 files) or megatron")
    val_tokens = _val_tokens(manifest, val_tokens)
    paths = {True: storage.join(out_dir, "val.bin"), False: storage.join(out_dir, "train.bin")}
    _refuse_existing([*paths.values(), storage.join(out_dir, "meta.pkl")], force)
    counts = {True: 0, False: 0}
    val_documents = 0
    with ExitStack() as stack:
        sinks: dict[bool, BinaryIO] = {split: stack.enter_context(storage.atomic_output(path))
                                       for split, path in paths.items()}
        for in_val, document in _split(shard_dir, val_tokens):
            sinks[in_val].write(document.astype(np.uint16, copy=False).tobytes())
            counts[in_val] += len(document)
            val_documents += in_val
    meta = storage.join(out_dir, "meta.pkl")
    with storage.atomic_output(meta) as sink:
        sink.write(pickle.dumps(nanogpt_meta(shard_dir, manifest)))
    return Exported([(paths[False], counts[False]), (paths[True], counts[True])], val_documents)


def nanogpt_meta(shard_dir: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """nanoGPT's meta.pkl for these shards (see the module docstring)."""
    from curate.shards import load_tokenizer_file

    tokenizer = load_tokenizer_file(shard_tokenizer_path(shard_dir, manifest))
    itos = {index: piece.decode("utf-8", "replace") for index, piece in enumerate(tokenizer.vocab)}
    itos.update({index: name for name, index in tokenizer.specials.items()})
    stoi = {text: index for index, text in sorted(itos.items(), reverse=True)}  # a shared text: its lowest id
    return {"vocab_size": int(manifest["vocab_size"]), "itos": itos, "stoi": stoi}


def megatron_prefix(out: str) -> str:
    """The path prefix Megatron names a dataset by. Example: megatron_prefix("data/train.bin") -> "data/train" """
    for suffix in (".bin", ".idx"):
        if out.endswith(suffix):
            return out[: -len(suffix)]
    return out


def export_megatron(shard_dir: str, out: str, *, force: bool = False) -> Exported:
    """Megatron-LM's `PREFIX.bin` and `PREFIX.idx` (`out` may name the prefix or either file)."""
    manifest = _checked_manifest(shard_dir)
    prefix = megatron_prefix(out)
    _refuse_existing([prefix + ".bin", prefix + ".idx"], force)
    dtype = np.dtype(manifest["dtype"]) if manifest["dtype"] == "uint16" else np.dtype(np.int32)
    sizes: list[np.ndarray] = []
    with storage.atomic_output(prefix + ".bin") as sink:
        for values, lengths in iter_token_batches(shard_dir):
            sink.write(values.astype(dtype, copy=False).tobytes())
            sizes.append(lengths.astype(np.int32))
    sizes_array = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int32)
    documents = len(sizes_array)
    pointers = np.concatenate([[0], np.cumsum(sizes_array[:-1], dtype=np.int64)]) * dtype.itemsize
    with storage.atomic_output(prefix + ".idx") as sink:
        sink.write(MEGATRON_INDEX_MAGIC)
        sink.write(struct.pack("<Q", 1))  # index version
        sink.write(struct.pack("<B", MEGATRON_DTYPE_CODES[manifest["dtype"]]))
        sink.write(struct.pack("<Q", documents))  # sequences
        sink.write(struct.pack("<Q", documents + 1))  # document boundaries: one sequence per document
        sink.write(sizes_array.tobytes())
        sink.write(pointers[:documents].astype(np.int64).tobytes())
        sink.write(np.arange(documents + 1, dtype=np.int64).tobytes())
    return Exported([(prefix + ".bin", int(sizes_array.sum()))], 0)
