"""The quickstart's train_bpe and tokenize nodes: shards decode to the documents, the manifest verifies, reuse."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer as HFTokenizer

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from curate.shards import export_llmc, export_megatron, iter_documents, load_manifest, verify
from tests.conftest import QUICKSTART
from tests.shard_damage import DAMAGES, damaged_copy
from tokenizer.bpe import Tokenizer


def kept_documents(workdir: Path) -> dict[str, str]:
    table = pq.read_table(workdir / "deduped", columns=["id", "text"])
    return dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))


def test_shards_decode_to_the_documents(quickstart_local):
    shards = quickstart_local / "shards"
    manifest = load_manifest(str(shards))
    tokenizer = Tokenizer.load(str(shards / "tokenizer.json"))
    assert manifest["tokenizer_hash"] == tokenizer.hash and manifest["vocab_size"] == 4096
    assert manifest["dtype"] == "uint16" and verify(str(shards)) == []
    documents = kept_documents(quickstart_local)
    decoded = {}
    for shard in manifest["shards"]:
        table = pq.read_table(shards / shard["file"])
        assert table.schema.field("tokens").type.value_type == pa.uint16()
        for doc_id, tokens in zip(table.column("id").to_pylist(), table.column("tokens").to_pylist()):
            assert tokens[-1] == manifest["eot_id"]
            decoded[doc_id] = tokenizer.decode(tokens[:-1])
    assert decoded == documents and manifest["documents"] == len(documents)


def test_shards_are_cut_between_documents_near_the_target(quickstart_local):
    manifest = load_manifest(str(quickstart_local / "shards"))
    assert len(manifest["shards"]) >= 2
    assert all(s["tokens"] >= 200_000 for s in manifest["shards"][:-1])
    assert sum(s["tokens"] for s in manifest["shards"]) == manifest["tokens"]


def test_exported_tokenizer_loads_in_huggingface(quickstart_local):
    hf = HFTokenizer.from_file(str(quickstart_local / "bpe" / "tokenizer.hf.json"))
    tokenizer = Tokenizer.load(str(quickstart_local / "bpe" / "tokenizer.json"))
    for text in list(kept_documents(quickstart_local).values())[:20]:
        assert hf.encode(text).ids == tokenizer.encode(text)


@pytest.mark.parametrize("damage", DAMAGES)
def test_verify_reports_damaged_shards(quickstart_local, tmp_path, damage):
    shards = damaged_copy(quickstart_local / "shards", tmp_path / "shards", damage)
    problems = verify(str(shards))
    assert problems and problems[0].startswith("shard-00000.parquet")


def test_llmc_and_megatron_exports(quickstart_local, tmp_path):
    shards = str(quickstart_local / "shards")
    manifest = load_manifest(shards)
    everything = np.concatenate(list(iter_documents(shards)))
    count = export_llmc(shards, str(tmp_path / "train.bin"))
    raw = (tmp_path / "train.bin").read_bytes()
    header = np.frombuffer(raw[:1024], dtype=np.int32)
    assert (header[0], header[1], header[2]) == (20240520, 1, manifest["tokens"]) == (20240520, 1, count)
    assert np.array_equal(np.frombuffer(raw[1024:], dtype=np.uint16), everything)

    documents = export_megatron(shards, str(tmp_path / "train"))
    index = (tmp_path / "train.idx").read_bytes()
    assert index[:9] == b"MMIDIDX\x00\x00" and index[17] == 8  # version 1, dtype code 8 = uint16
    count_seq = int.from_bytes(index[18:26], "little")
    sizes = np.frombuffer(index[34 : 34 + 4 * count_seq], dtype=np.int32)
    assert count_seq == documents == manifest["documents"] and sizes.sum() == manifest["tokens"]
    assert np.array_equal(np.frombuffer((tmp_path / "train.bin").read_bytes(), dtype=np.uint16), everything)


def test_changing_shard_size_reuses_the_tokenizer(quickstart_local, tmp_path):
    workdir = tmp_path / "out"
    shutil.copytree(quickstart_local, workdir)
    text = QUICKSTART.read_text().replace("shard_tokens: 200_000", "shard_tokens: 100_000")
    pipeline = tmp_path / "quickstart.yaml"
    pipeline.write_text(text.replace('"sample/', f'"{QUICKSTART.parent}/sample/'))
    with LocalExecutor() as executor:
        reports = run_pipeline(load_pipeline(str(pipeline), workdir=str(workdir)), executor, log=lambda line: None)
    assert [(r.name, r.computed) for r in reports] == [("text", 0), ("unique", 0), ("deduped", 0), ("bpe", 0),
                                                         ("shards", 10)]
    manifest = load_manifest(str(workdir / "shards"))
    assert len(manifest["shards"]) >= 3 and verify(str(workdir / "shards")) == []
    assert sorted(p.name for p in (workdir / "shards").glob("shard-*")) == [s["file"] for s in manifest["shards"]]
