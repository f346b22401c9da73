"""`curate export-tokens`: llm.c files (<= shard_tokens each, val first), nanoGPT's headerless uint16 train/val,
Megatron's .bin/.idx named by prefix; nothing overwritten without --force."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from curate.cli import main
from curate.errors import CurateError
from curate.export_tokens import export_llmc, export_megatron, export_nanogpt
from curate.shards import iter_documents, load_manifest, manifest_path
from tests.shard_damage import copy_shards


@pytest.fixture(scope="module")
def documents(quickstart_local) -> list[np.ndarray]:
    return list(iter_documents(str(quickstart_local / "shards")))


def llmc_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = path.read_bytes()
    return np.frombuffer(raw[:1024], dtype=np.int32), np.frombuffer(raw[1024:], dtype=np.uint16)


def test_llmc_files_hold_at_most_shard_tokens_with_val_first(quickstart_local, tmp_path, documents):
    shards = str(quickstart_local / "shards")
    val_tokens, shard_tokens = 30_000, 100_000
    exported = export_llmc(shards, str(tmp_path), val_tokens=val_tokens, shard_tokens=shard_tokens)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0] == "shards_train_000001.bin" and names[-1] == "shards_val_000000.bin"
    assert [Path(p).name for p, _ in exported.files] == [names[-1]] + names[:-1]
    streams = []
    for path, count in exported.files:
        header, tokens = llmc_file(Path(path))
        assert header[:3].tolist() == [20240520, 1, len(tokens)] and count == len(tokens)
        streams.append(tokens)
    val = documents[: exported.val_documents]
    assert np.array_equal(streams[0], np.concatenate(val))  # whole documents, at least val_tokens of them
    assert sum(map(len, val)) >= val_tokens > sum(map(len, val[:-1]))
    assert all(len(s) == shard_tokens for s in streams[1:-1]) and 0 < len(streams[-1]) <= shard_tokens
    assert np.array_equal(np.concatenate(streams), np.concatenate(documents))


def test_nanogpt_files_are_raw_uint16_without_a_header(quickstart_local, tmp_path, documents):
    exported = export_nanogpt(str(quickstart_local / "shards"), str(tmp_path))
    train = np.fromfile(tmp_path / "train.bin", dtype=np.uint16)  # nanoGPT: np.memmap(..., dtype=np.uint16)
    val = np.fromfile(tmp_path / "val.bin", dtype=np.uint16)
    total = sum(map(len, documents))
    assert np.array_equal(val, np.concatenate(documents[: exported.val_documents]))
    assert np.array_equal(train, np.concatenate(documents[exported.val_documents :]))
    assert int(total * 0.1) <= len(val) < int(total * 0.1) + max(map(len, documents))  # default: 10% of the tokens
    manifest = load_manifest(str(quickstart_local / "shards"))
    assert val[-1] == train[-1] == manifest["eot_id"]
    # meta.pkl as nanoGPT reads it: train.py sizes the model by vocab_size, sample.py decodes through itos
    with open(tmp_path / "meta.pkl", "rb") as handle:
        meta = pickle.load(handle)
    assert meta["vocab_size"] == manifest["vocab_size"] and meta["itos"][manifest["eot_id"]] == "<|endoftext|>"
    first = documents[exported.val_documents]
    decoded = "".join(meta["itos"][int(i)] for i in first[:-1])
    assert len(decoded) > 100 and " the " in decoded and meta["stoi"]["\n"] == 10


def test_megatron_names_files_by_prefix(quickstart_local, tmp_path, documents):
    exported = export_megatron(str(quickstart_local / "shards"), str(tmp_path / "train.bin"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.bin", "train.idx"]  # not train.bin.bin
    index = (tmp_path / "train.idx").read_bytes()
    assert index[:9] == b"MMIDIDX\x00\x00" and int.from_bytes(index[9:17], "little") == 1 and index[17] == 8
    sequences = int.from_bytes(index[18:26], "little")
    sizes = np.frombuffer(index[34 : 34 + 4 * sequences], dtype=np.int32)
    pointers = np.frombuffer(index[34 + 4 * sequences : 34 + 12 * sequences], dtype=np.int64)
    tokens = np.fromfile(tmp_path / "train.bin", dtype=np.uint16)
    assert sequences == len(documents) and list(sizes) == [len(d) for d in documents]
    for document, pointer, size in zip(documents, pointers, sizes):
        assert np.array_equal(tokens[pointer // 2 : pointer // 2 + size], document)
    assert exported.files == [(str(tmp_path / "train.bin"), len(tokens))]


def test_nothing_is_overwritten_without_force(quickstart_local, tmp_path, capsys):
    shards = str(quickstart_local / "shards")
    out = str(tmp_path / "llmc")
    assert main(["export-tokens", shards, "--format", "llmc", "--out", out, "--shard-tokens", "50000"]) == 0
    written = sorted(Path(out).iterdir())
    assert len(written) >= 4
    capsys.readouterr()
    assert main(["export-tokens", shards, "--format", "llmc", "--out", out]) == 1
    err = capsys.readouterr().err
    assert "shards_train_000001.bin exists" in err and "--force" in err and err.count("\n") == 1
    assert sorted(Path(out).iterdir()) == written
    assert main(["export-tokens", shards, "--format", "llmc", "--out", out, "--force"]) == 0
    assert sorted(p.name for p in Path(out).iterdir()) == ["shards_train_000001.bin", "shards_val_000000.bin"]
    (tmp_path / "mega.idx").write_bytes(b"mine")
    assert main(["export-tokens", shards, "--format", "megatron", "--out", str(tmp_path / "mega")]) == 1
    assert (tmp_path / "mega.idx").read_bytes() == b"mine" and not (tmp_path / "mega.bin").exists()


def test_bad_requests_are_refused_in_one_line(quickstart_local, tmp_path):
    shards = str(quickstart_local / "shards")
    tokens = load_manifest(shards)["tokens"]
    with pytest.raises(CurateError, match="leaves no training tokens"):
        export_nanogpt(shards, str(tmp_path), val_tokens=tokens)
    wide = copy_shards(quickstart_local / "shards", tmp_path / "wide" / "shards")
    manifest_file = Path(manifest_path(str(wide)))
    manifest_file.write_text(json.dumps({**json.loads(manifest_file.read_text()), "dtype": "uint32"}))
    with pytest.raises(CurateError, match="does not fit nanoGPT's uint16"):
        export_nanogpt(str(wide), str(tmp_path / "out"))
    # llm.c's uint32 files are written, and the summary says which of llm.c's readers takes them
    exported = export_llmc(str(wide), str(tmp_path / "llmc"))
    assert np.fromfile(exported.files[0][0], dtype=np.int32, count=2).tolist() == [20240801, 7]
    assert "train_llama3.py" in exported.summary() and "uint16" in exported.summary()
    assert "note" not in export_llmc(shards, str(tmp_path / "llmc16")).summary()
    with pytest.raises(CurateError, match="not a token shard folder"):
        export_llmc(str(tmp_path / "nothing"), str(tmp_path / "out"))
